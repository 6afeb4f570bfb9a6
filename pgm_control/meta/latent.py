r"""The task as a latent variable, as a Pyro program (CS285 notes, "Meta-RL", "Latent Model").

    z ~ p(z),   s_1 ~ p(s_1),   a_t ~ π(a_t | s_t),   s_{t+1} ~ p_z(s_{t+1} | s_t, a_t),
    r_t = r_z(s_t, a_t, s_{t+1})

for each of the episodes, all of one task z. Given a context c (the observed states, actions and
rewards), the posterior over the task is Bayes' rule; the behaviour policy π does not depend on z, so
it cancels:

    p(z | c) ∝ p(z) Π_{transitions (s, a, r, s') in c} p_z(s' | s, a) 1[r = r_z(s, a, s')].

For a finite family Pyro computes it by exact enumeration of z (:func:`task_posterior`, through
``TraceEnum_ELBO.compute_marginals``); :func:`~pgm_control.meta.transition_posterior` is the same update written as one
tensor expression, batched over runs, for the agents that update beliefs at every step.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro.infer import TraceEnum_ELBO

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    as_index_tensor,
    check_distribution,
    check_positive_integer,
    check_shape,
    shape_str,
)
from pgm_control.meta.encoder import point_robot_model
from pgm_control.meta.tasks import FiniteTaskFamily, PointRobotFamily, TaskFamily, check_family


def task_model(task_family: TaskFamily, num_episodes: int, states=None, actions=None, rewards=None,
               policy=None, reward_noise: float = 0.1):
    r"""The Pyro program z ~ p(z), then ``num_episodes`` episodes of the MDP_z (module docstring).

    Args:
        task_family: a finite family (:class:`~pgm_control.meta.FiniteTaskFamily`), or the point robot
            (:class:`~pgm_control.meta.PointRobotFamily`).
        num_episodes: E, the episodes of one task.
        states, actions, rewards: the context, observed with ``obs=``. Finite family: states
            ``[E, T+1]``, actions ``[E, T]``, rewards ``[E, T]`` (T = ``task_family.episode_length``);
            None samples them. Point robot: B tasks at once, actions ``[B, E, T, 2]`` (required; the
            positions follow from them, so ``states`` must be None) and rewards ``[B, E, T]``
            (:func:`~pgm_control.meta.encoder.point_robot_model`).
        policy: the behaviour policy π(a | s) ``[S, A]`` that picks the actions of a finite family
            (uniform over the available actions by default); it does not depend on z, so it does not
            change p(z | c).
        reward_noise: σ_r, the point robot's reward noise.

    For a finite family the site ``"task"`` is marked for parallel enumeration, so that
    ``TraceEnum_ELBO`` and ``infer_discrete`` sum it out exactly. Returns z.
    """
    if isinstance(task_family, PointRobotFamily):
        if states is not None or actions is None:
            raise ValueError("the point robot's context is actions [B, E, T, 2] and rewards [B, E, T]: pass "
                             "actions, and no states (positions follow from the actions)")
        actions = as_float_tensor(actions, "actions")
        check_shape(actions, [None, num_episodes, task_family.episode_length, 2], "actions", "[B, E, T, 2]")
        return point_robot_model(task_family, actions, rewards, reward_noise)
    family = check_family(task_family, finite=True)
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    given = [value is not None for value in (states, actions, rewards)]
    if any(given) and not all(given):
        raise ValueError("pass all of states, actions and rewards (a context), or none of them (to sample)")
    if all(given):
        states, actions, rewards = _read_episodes(family, states, actions, rewards, num_episodes)
    return _finite_task_model(family, num_episodes, states, actions, rewards, _behaviour(family, policy))


def _finite_task_model(family: FiniteTaskFamily, num_episodes: int, states, actions, rewards, behaviour):
    """:func:`task_model` of a finite family, on validated inputs."""
    # Logits, not probs: Categorical(probs) clamps p = 0 to a tiny positive number, which would leave
    # impossible tasks a posterior of ~1e-15 instead of 0.
    log_transitions = torch.log(family.transitions)
    task = pyro.sample("task", dist.Categorical(family.prior), infer={"enumerate": "parallel"})
    with pyro.plate("episodes", num_episodes):
        state = pyro.sample("state_0", dist.Categorical(family.initial),
                            obs=None if states is None else states[:, 0])
        for t in pyro.markov(range(family.episode_length)):
            action = pyro.sample(f"action_{t}", dist.Categorical(behaviour[state]),
                                 obs=None if actions is None else actions[:, t])
            next_state = pyro.sample(f"state_{t + 1}", dist.Categorical(logits=log_transitions[task, state, action]),
                                     obs=None if states is None else states[:, t + 1])
            pyro.sample(f"reward_{t}", dist.Delta(family.transition_rewards[task, state, action, next_state]),
                        obs=None if rewards is None else rewards[:, t])
            state = next_state
    return task


def task_posterior(task_family: FiniteTaskFamily, states, actions, rewards) -> torch.Tensor:
    r"""p(z | c) ``[Z]`` by exact enumeration of z in :func:`task_model` (Pyro's
    ``TraceEnum_ELBO.compute_marginals``), for a context of E episodes: states ``[E, T+1]``, actions
    ``[E, T]``, rewards ``[E, T]``, T = ``task_family.episode_length``.

    Example:
        >>> from pgm_control.meta import grid_navigation_tasks
        >>> family = grid_navigation_tasks(3, episode_length=2)
        >>> # right, right: the step onto (0, 2) pays −0.1, so the goal is not (0, 2).
        >>> task_posterior(family, [[0, 1, 2]], [[4, 4]], [[-0.1, -0.1]]).tolist()
        [0.0, 0.25, 0.25, 0.25, 0.25]
    """
    family = check_family(task_family, finite=True)
    states, actions, rewards = _read_episodes(family, states, actions, rewards)
    # Inputs are validated above; Pyro's own check would report an impossible context as NaN logits.
    with pyro.validation_enabled(False):
        marginals = TraceEnum_ELBO(max_plate_nesting=1).compute_marginals(
            _finite_task_model, _empty_guide, family, states.shape[0], states, actions, rewards,
            _behaviour(family, None))
    log_posterior = marginals["task"].logits
    _require_possible(log_posterior)
    return torch.softmax(log_posterior, -1)


def transition_posterior(task_family: FiniteTaskFamily, states, actions, rewards, next_states) -> torch.Tensor:
    r"""p(z | c) ``[..., Z]`` for contexts of N transitions each, batch first: ``states``, ``actions``,
    ``rewards``, ``next_states`` ``[..., N]`` (module docstring):

        log p(z | c) = log p(z) + Σ_n [ log p_z(s'_n | s_n, a_n) + log 1[r_n = r_z(s_n, a_n, s'_n)] ] − log p(c)

    A context impossible under every task is a ValueError."""
    family = check_family(task_family, finite=True)
    states = _read_index(states, "states", family.num_states)
    shape = states.shape
    actions = _read_index(actions, "actions", family.num_actions, shape)
    next_states = _read_index(next_states, "next_states", family.num_states, shape)
    rewards = as_float_tensor(rewards, "rewards")
    check_shape(rewards, list(shape), "rewards", "one reward per transition [..., N]")
    if len(shape) == 0:
        raise ValueError("states must have a transition axis [..., N], got a scalar")
    log_p = torch.log(family.transitions[:, states, actions, next_states])  # [Z, ..., N]
    consistent = family.transition_rewards[:, states, actions, next_states] == rewards
    log_likelihood = torch.where(consistent, log_p, -torch.inf).sum(-1)
    log_posterior = torch.log(family.prior).reshape(-1, *[1] * (len(shape) - 1)) + log_likelihood
    log_posterior = log_posterior.movedim(0, -1)
    _require_possible(log_posterior)
    return torch.softmax(log_posterior, -1)


def _empty_guide(*args, **kwargs):
    """Every latent site of :func:`task_model` is enumerated: the guide has nothing to sample."""


def _behaviour(family: FiniteTaskFamily, policy) -> torch.Tensor:
    available = family.tasks[0].available_actions.to(DTYPE)
    if policy is None:
        return available / available.sum(-1, keepdim=True)
    policy = as_float_tensor(policy, "policy")
    check_shape(policy, [family.num_states, family.num_actions], "policy", "π(a | s) [S, A]")
    check_distribution(policy, "policy", "π(a | s) over the A actions")
    return policy


def _read_episodes(family: FiniteTaskFamily, states, actions, rewards, num_episodes: int | None = None):
    horizon = family.episode_length
    states = _read_index(states, "states", family.num_states)
    check_shape(states, [num_episodes, horizon + 1], "states", "[E, T+1] (T = episode_length)")
    actions = _read_index(actions, "actions", family.num_actions, [states.shape[0], horizon])
    rewards = as_float_tensor(rewards, "rewards")
    check_shape(rewards, [states.shape[0], horizon], "rewards", "[E, T]")
    return states, actions, rewards


def _read_index(values, name: str, size: int, shape=None) -> torch.Tensor:
    values = as_index_tensor(values, name)
    if shape is not None:
        check_shape(values, list(shape), name, f"{shape_str(shape)} like states")
    if values.numel() and not 0 <= int(values.min()) <= int(values.max()) < size:
        raise ValueError(f"{name} must be indices in [0, {size}), got values in [{int(values.min())}, "
                         f"{int(values.max())}]")
    return values


def _require_possible(log_posterior: torch.Tensor) -> None:
    impossible = ~torch.isfinite(log_posterior).any(-1)
    if impossible.any():
        raise ValueError("the context is impossible under every task of the family (some observed state or "
                         "reward cannot follow its state and action): check states, actions and rewards")
