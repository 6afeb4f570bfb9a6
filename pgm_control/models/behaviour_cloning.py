r"""Behaviour cloning as a Pyro model of the demonstrations (CS285 notes, "Imitation vs. RL": initialize
π_θ as max_θ Σ_i log π_θ(a_i|s_i)).

The same model family as the IRL models (:mod:`pgm_control.models.irl`), with the policy itself as the
parameter instead of a reward: each demonstrated action is an observed sample of the policy,

    a_i ~ π_θ(· | s_i)          observed, for every demonstrated step i (a plate over steps)

so the model's log density is the behaviour-cloning log-likelihood Σ_i log π_θ(a_i|s_i), and its MAP /
maximum-likelihood θ (SVI with a guide holding no latent sites) is behaviour cloning.

- :func:`tabular_behaviour_cloning_model`: π_θ(a|s) = softmax_a θ[s, a], θ ``[S, A]`` a ``pyro.param``.
  Its maximum-likelihood policy is the empirical action frequencies (:func:`empirical_policy`).
- :func:`behaviour_cloning_model`: any policy network given as a function from observations to a
  distribution over actions (a ``Categorical`` for the Boltzmann policy of ``SoftQ``, the squashed
  Gaussian of ``SAC``); :func:`pgm_control.rl.behaviour_cloning` fits the agents' networks with it.
"""

from __future__ import annotations

from collections.abc import Callable

import pyro
import pyro.distributions as dist
import torch

from pgm_control._checks import DTYPE, check_positive_integer
from pgm_control.demonstrations import Demonstrations
from pgm_control.models.irl import check_demonstrations


def demonstrated_steps(demonstrations: Demonstrations) -> tuple[torch.Tensor, torch.Tensor]:
    """The demonstrated (s_t, a_t) pairs, states ``[n]`` and actions ``[n]`` (steps t < length only)."""
    mask = demonstrations.mask
    return demonstrations.states[:, :-1][mask], demonstrations.actions[mask]


def check_tabular_demonstrations(demonstrations, num_states, num_actions) -> tuple[Demonstrations, int, int]:
    """Demonstrations whose states (final ones included) and actions lie in 0..S-1 and 0..A-1; returns them, S, A."""
    demonstrations = check_demonstrations(demonstrations)
    num_states = check_positive_integer(num_states, "num_states")
    num_actions = check_positive_integer(num_actions, "num_actions")
    states, actions = demonstrated_steps(demonstrations)
    if states.numel() == 0:
        raise ValueError("the demonstrations have no demonstrated step (every length is 0)")
    largest_state = int(demonstrations.states.max())  # the final states too (the padding is 0)
    if largest_state >= num_states:
        raise ValueError(f"a state of the demonstrations is {largest_state}, outside 0..{num_states - 1} (num_states)")
    if int(actions.max()) >= num_actions:
        raise ValueError(f"a demonstrated action is {int(actions.max())}, outside 0..{num_actions - 1} "
                         "(num_actions)")
    return demonstrations, num_states, num_actions


def empirical_policy(demonstrations: Demonstrations, num_states: int, num_actions: int) -> torch.Tensor:
    r"""The maximum-likelihood tabular policy in closed form, ``[S, A]``:

        π̂(a|s) = n(s, a) / n(s)       (uniform 1/A where n(s) = 0: the data say nothing there)

    with n(s, a) the number of demonstrated steps taking a in s.

    Example:
        >>> demos = Demonstrations.from_sequences(states=[[0, 1, 0], [0, 0]], actions=[[1, 0], [1]])
        >>> empirical_policy(demos, num_states=3, num_actions=2).tolist()
        [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]
    """
    demonstrations, S, A = check_tabular_demonstrations(demonstrations, num_states, num_actions)
    states, actions = demonstrated_steps(demonstrations)
    counts = torch.bincount(states * A + actions, minlength=S * A).reshape(S, A).to(DTYPE)
    visits = counts.sum(-1, keepdim=True)
    return torch.where(visits > 0, counts / visits.clamp(min=1.0), 1.0 / A)


def behaviour_cloning_model(policy_distribution: Callable[[torch.Tensor], dist.Distribution],
                            observations: torch.Tensor, actions: torch.Tensor,
                            subsample_size: int | None = None) -> None:
    r"""a_i ~ π_θ(·|s_i), observed, in a plate over the n demonstrated steps (``subsample_size``:
    minibatches, the log-likelihood scaled by n / batch).

    Args:
        policy_distribution: s ``[B, ...]`` -> a distribution with batch shape ``[B]`` over one action
            (register the network's parameters with ``pyro.module`` inside it).
        observations: s_i ``[n, ...]``; actions: a_i ``[n]`` or ``[n, dim A]``.
        subsample_size: steps per minibatch (1..n), or None for all n.
    """
    _check_steps(policy_distribution, observations, actions, subsample_size)
    with pyro.plate("steps", actions.shape[0], subsample_size=subsample_size) as index:
        pyro.sample("action", policy_distribution(observations[index]), obs=actions[index])


def _check_steps(policy_distribution, observations, actions, subsample_size) -> None:
    """The arguments of :func:`behaviour_cloning_model`: a callable, two tensors over the same n >= 1 steps,
    a subsample size in 1..n or None."""
    if not callable(policy_distribution):
        raise TypeError(f"policy_distribution must be a callable from observations to a distribution, "
                        f"got {type(policy_distribution).__name__}")
    for name, value in (("observations", observations), ("actions", actions)):
        if not isinstance(value, torch.Tensor) or value.dim() == 0:
            raise TypeError(f"{name} must be a tensor with one row per demonstrated step, got "
                            f"{type(value).__name__ if not isinstance(value, torch.Tensor) else 'a scalar tensor'}")
    if observations.shape[0] != actions.shape[0] or actions.shape[0] == 0:
        raise ValueError(f"observations and actions must have the same number n >= 1 of rows (demonstrated "
                         f"steps), got {observations.shape[0]} and {actions.shape[0]}")
    if subsample_size is not None:
        check_positive_integer(subsample_size, "subsample_size")
        if subsample_size > actions.shape[0]:
            raise ValueError(f"subsample_size must be at most the number of demonstrated steps "
                             f"({actions.shape[0]}), got {subsample_size}")


def tabular_behaviour_cloning_model(demonstrations: Demonstrations, num_states: int, num_actions: int) -> None:
    r"""Behaviour cloning of a tabular policy: θ = ``pyro.param("logits")`` ``[S, A]`` (initialized at 0,
    the uniform policy) and a_i ~ Categorical(softmax θ[s_i]), observed, for every demonstrated step.

    Inputs are validated by the callers (:func:`pgm_control.inference.tabular_behaviour_cloning`,
    :func:`check_tabular_demonstrations`)."""
    logits = pyro.param("logits", lambda: torch.zeros(num_states, num_actions, dtype=DTYPE))
    states, actions = demonstrated_steps(demonstrations)
    behaviour_cloning_model(lambda s: dist.Categorical(logits=logits[s]), states, actions)
