r"""Behaviour cloning of the deep agents' policies (CS285 notes, "Imitation vs. RL", step 2 of pretrain
and fine-tune: initialize π_θ as max_θ Σ_i log π_θ(a_i|s_i)), by SVI on
:func:`pgm_control.models.behaviour_cloning.behaviour_cloning_model`:

    SoftQ:  π_θ(a|s) = softmax_a(Q_θ(s, a)/α)                      (Categorical; trains ``agent.q``)
    SAC:    a = c + h ⊙ tanh(u), u ~ N(μ_φ(s), σ_φ(s)²)            (squashed Gaussian; trains ``agent.policy``)

    log π_φ(a|s) = Σ_j [ log N(u_j; μ_j, σ_j) - log(1 - tanh²(u_j)) - log h_j ],   u = atanh((a - c)/h)

The networks are trained in place, so the agent starts fine-tuning (``agent.train``) from the clone;
for ``SoftQ`` the target network is set to the trained Q_θ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from pyro.distributions.transforms import AffineTransform, TanhTransform
from pyro.infer import SVI, Trace_ELBO

from pgm_control._checks import check_learning_rate, check_positive_integer, check_seed, shape_str
from pgm_control._progress import progress_bar
from pgm_control.models.behaviour_cloning import behaviour_cloning_model
from pgm_control.rl.sac import SAC
from pgm_control.rl.soft_q import SoftQ


@dataclass(frozen=True, eq=False)
class NeuralCloningResult:
    r"""What :func:`behaviour_cloning` returns: the ``agent`` (its policy network trained in place) and
    ``log_likelihood`` ``[num_steps]``, the minibatch mean of log π_θ(a_i|s_i) at each step (NumPy)."""

    agent: object
    log_likelihood: np.ndarray


def squashed_gaussian(mean: torch.Tensor, log_std: torch.Tensor, center: torch.Tensor,
                      scale: torch.Tensor) -> dist.Distribution:
    r"""The SAC policy's distribution over a Box action ``[B, dim A]``: c + h ⊙ tanh(u), u ~ N(mean, σ²),
    one event of dim A (its ``log_prob`` is :func:`pgm_control.rl.squashed_gaussian_log_prob`)."""
    base = dist.Normal(mean, log_std.exp())
    return dist.TransformedDistribution(base, [TanhTransform(), AffineTransform(center, scale)]).to_event(1)


def behaviour_cloning(agent, observations, actions, *, num_steps: int = 1000, batch_size: int = 256,
                      lr: float = 1e-3, seed: int = 0, progress: bool | None = None) -> NeuralCloningResult:
    r"""Fit a :class:`~pgm_control.rl.SoftQ` or :class:`~pgm_control.rl.SAC` agent's policy to
    demonstrated (s, a) pairs by maximum likelihood (module docstring), with Pyro's SVI and Adam on
    minibatches.

    Args:
        agent: a ``SoftQ`` (temperature α > 0: its Boltzmann policy) or a ``SAC`` agent.
        observations: s_i ``[n, dim S]``.
        actions: a_i ``[n]`` integers in 0..A-1 (SoftQ) or ``[n, dim A]`` strictly inside the action Box
            (SAC: the squashed Gaussian has no density on the Box's faces).
        num_steps: SVI steps; batch_size: steps per minibatch (at most n); lr: Adam's step size.
        seed: ``pyro.set_rng_seed`` for the minibatches (the parameter store is cleared first).
        progress: a tqdm bar (None: on for 10^5 steps or more).

    Returns:
        :class:`NeuralCloningResult`.

    Example:
        >>> import gymnasium
        >>> from pgm_control.rl import SoftQConfig
        >>> agent = SoftQ(gymnasium.make("CartPole-v1"), SoftQConfig(hidden=(8,), eval_every=0))
        >>> fit = behaviour_cloning(agent, torch.zeros(4, 4), torch.tensor([1, 1, 1, 0]), num_steps=200,
        ...                         lr=0.01, progress=False)
        >>> round(float(agent.policy_probs(torch.zeros(1, 4))[0, 1]), 2)   # the demonstrated frequency 3/4
        0.75
    """
    num_steps = check_positive_integer(num_steps, "num_steps")
    batch_size = check_positive_integer(batch_size, "batch_size")
    lr, seed = check_learning_rate(lr), check_seed(seed)
    observations, actions, policy_distribution = cloning_policy(agent, observations, actions)
    n = actions.shape[0]
    pyro.clear_param_store()
    pyro.set_rng_seed(seed)

    def guide(*args, **kwargs):  # no latent sites: the network's weights are pyro.module parameters
        return None

    svi = SVI(behaviour_cloning_model, guide, pyro.optim.Adam({"lr": lr}), Trace_ELBO())
    subsample = min(batch_size, n)
    log_likelihood = []
    with progress_bar(num_steps, progress, num_steps * 2e3, "behaviour cloning") as bar:
        for _ in range(num_steps):
            loss = svi.step(policy_distribution, observations, actions, subsample_size=subsample)
            log_likelihood.append(-loss / n)
            bar.set_postfix(log_likelihood=f"{log_likelihood[-1]:.3f}", refresh=False)
            bar.update()
    if isinstance(agent, SoftQ):
        agent.q_target.load_state_dict(agent.q.state_dict())
    return NeuralCloningResult(agent=agent, log_likelihood=np.array(log_likelihood, dtype=np.float64))


def cloning_policy(agent, observations, actions) -> tuple[torch.Tensor, torch.Tensor, Callable]:
    """``agent``'s demonstrations, validated, and its policy as a Pyro distribution: observations ``[n, ...]``,
    actions ``[n]`` (SoftQ) or ``[n, dim A]`` (SAC), and s -> π_θ(·|s) registering the network with
    ``pyro.module`` (SoftQ's Boltzmann policy softmax(Q/α), SAC's squashed Gaussian)."""
    if isinstance(agent, SoftQ):
        return _soft_q_policy(agent, observations, actions)
    if isinstance(agent, SAC):
        return _sac_policy(agent, observations, actions)
    raise TypeError(f"agent must be a pgm_control.rl.SoftQ or SAC, got {type(agent).__name__}")


def _soft_q_policy(agent: SoftQ, observations, actions):
    temperature = agent.config.temperature
    if temperature == 0.0:
        raise ValueError("behaviour cloning of a SoftQ agent needs config.temperature > 0 (its Boltzmann "
                         "policy softmax(Q/α)); at α = 0 the greedy policy has no likelihood to maximize")
    observations = agent._as_observations(observations, batch=True)
    actions = _as_actions(actions, torch.long, [observations.shape[0]], "[n] integers")
    if actions.min() < 0 or actions.max() >= agent.num_actions:
        raise ValueError(f"actions must lie in 0..{agent.num_actions - 1}, got values {actions.min().item()}.."
                         f"{actions.max().item()}")

    def policy_distribution(s):
        q = pyro.module("q", agent.q)
        return dist.Categorical(logits=q(s) / temperature)

    return observations, actions, policy_distribution


def _sac_policy(agent: SAC, observations, actions):
    observations = agent._as_observations(observations, batch=True)
    policy = agent.policy
    actions = _as_actions(actions, torch.float32, [observations.shape[0], policy.action_dim], "[n, dim A]")
    inside = (actions - policy.action_center).abs() < policy.action_scale
    if not inside.all():
        raise ValueError(f"{int((~inside).any(-1).sum())} demonstrated actions lie on or outside the action Box "
                         f"[{agent.action_low.tolist()}, {agent.action_high.tolist()}]; the squashed Gaussian "
                         "has no density there: record actions strictly inside the Box (e.g. clip them "
                         "to c + (1 - 1e-6) h ⊙ [-1, 1])")

    def policy_distribution(s):
        network = pyro.module("policy", policy)
        mean, log_std = network(s)
        return squashed_gaussian(mean, log_std, network.action_center, network.action_scale)

    return observations, actions, policy_distribution


def _as_actions(actions, dtype: torch.dtype, shape: list[int], meaning: str) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(actions)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"actions must be an array of numbers {meaning}, got {type(actions).__name__}") from None
    if dtype == torch.long and (tensor.is_floating_point() or tensor.dtype == torch.bool):
        raise TypeError(f"actions must be integers {meaning} for discrete actions, got dtype {tensor.dtype}")
    if list(tensor.shape) != shape:
        raise ValueError(f"actions must have shape {meaning} = {shape_str(shape)}, got {shape_str(tensor.shape)}")
    tensor = tensor.to(dtype)
    if dtype != torch.long and not torch.isfinite(tensor).all():
        raise ValueError("actions must be finite")
    return tensor
