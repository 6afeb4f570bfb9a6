"""Sampling trajectories from a tabular MDP under a policy, vectorized over trajectories."""

from __future__ import annotations

from typing import NamedTuple

import torch

from pgm_control._checks import check_horizon, check_integer
from pgm_control._mdp_inputs import check_mdp, read_policy
from pgm_control.mdp import TabularMDP


class Trajectories(NamedTuple):
    """Batch-first trajectories: ``states`` ``[N, T+1]`` (s_1..s_{T+1}), ``actions`` ``[N, T]``,
    ``rewards`` ``[N, T]`` (r(s_t, a_t))."""

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor


def sample_trajectories(mdp: TabularMDP, policy, horizon: int, num: int,
                        generator: torch.Generator | None = None) -> Trajectories:
    r"""Sample N trajectories s_1 ~ p(s_1), a_t ~ π_t(a|s_t), s_{t+1} ~ p(s'|s_t, a_t).

    Args:
        policy: π(a|s) ``[S, A]``, time-indexed ``[T, S, A]``, deterministic actions ``[S]``, or a
            result object with ``.policy``.
        horizon: T, the number of actions per trajectory.
        num: N.
        generator: a seeded ``torch.Generator`` for reproducibility.

    Returns:
        :class:`Trajectories` with ``states`` ``[N, T+1]``, ``actions`` ``[N, T]`` and ``rewards``
        ``[N, T]``. Terminal states are absorbing, so trajectories that reach one stay there with
        reward 0.

    Example:
        >>> import torch
        >>> from pgm_control.envs import sutton_barto_gridworld
        >>> mdp = sutton_barto_gridworld()
        >>> uniform = torch.full((25, 4), 0.25, dtype=torch.float64)
        >>> batch = sample_trajectories(mdp, uniform, horizon=6, num=3, generator=torch.Generator().manual_seed(0))
        >>> tuple(batch.states.shape), tuple(batch.actions.shape), tuple(batch.rewards.shape)
        ((3, 7), (3, 6), (3, 6))
    """
    check_mdp(mdp)
    horizon = check_horizon(horizon, required=True)
    num = check_integer(num, "num")
    if num < 1:
        raise ValueError(f"num must be a positive integer, got {num}")
    pi = read_policy(mdp, policy, horizon)
    if pi.dim() == 2:
        pi = pi.expand(horizon, *pi.shape)
    states = torch.empty(num, horizon + 1, dtype=torch.long)
    actions = torch.empty(num, horizon, dtype=torch.long)
    states[:, 0] = torch.multinomial(mdp.initial.detach(), num, replacement=True, generator=generator)
    next_states, probs = mdp.next_states, mdp.probs
    for t in range(horizon):
        s = states[:, t]
        a = torch.multinomial(pi[t, s], 1, generator=generator).squeeze(-1)
        k = torch.multinomial(probs[s, a], 1, generator=generator).squeeze(-1)
        actions[:, t] = a
        states[:, t + 1] = next_states[s, a, k]
    rewards = mdp.rewards.detach()[states[:, :-1], actions]
    return Trajectories(states, actions, rewards)
