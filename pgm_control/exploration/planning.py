r"""Exact finite-horizon planning in R MDPs at once, and the agents that act by it each episode (CS285
notes, "Posterior Sampling" in RL problems: "use the model to take the optimal action").

    Q_t(s, a) = r(s, a) + Σ_{s'} p(s'|s, a) V_{t+1}(s'),   V_t(s) = max_a Q_t(s, a),   V_H = 0,

the finite-horizon value iteration of Lecture 20 ("Optimal Policies and Value Functions"), batched over
runs: one matrix product per step for all R sampled or estimated MDPs.
"""

from __future__ import annotations

import abc

import torch

from pgm_control._checks import as_float_tensor, check_distribution, check_finite, check_horizon, check_shape
from pgm_control.exploration.agents import argmax_random_ties
from pgm_control.exploration.episodic import EpisodicAgent
from pgm_control.exploration.posterior import TabularPosterior


def backward_induction_unchecked(transitions: torch.Tensor, rewards: torch.Tensor,
                                 horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`batched_value_iteration` without input checks (agents call it every episode)."""
    num_runs, num_states, num_actions = rewards.shape
    q = rewards.new_empty(num_runs, horizon, num_states, num_actions)
    v = rewards.new_empty(num_runs, horizon, num_states)
    v_next = rewards.new_zeros(num_runs, num_states, 1)
    for t in reversed(range(horizon)):
        q[:, t] = rewards + (transitions.flatten(1, 2) @ v_next).view(num_runs, num_states, num_actions)
        v[:, t] = q[:, t].max(-1).values
        v_next = v[:, t, :, None]
    return q, v


def batched_value_iteration(transitions, rewards, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Optimal finite-horizon values of R MDPs (the module docstring's recursion, undiscounted).

    Args:
        transitions: p(s'|s, a) of each MDP, ``[R, S, A, S]``.
        rewards: r(s, a) of each MDP, ``[R, S, A]``.
        horizon: H, the number of steps.

    Returns:
        ``q`` ``[R, H, S, A]`` and ``v`` ``[R, H, S]`` for code time t = 0..H−1 (V_H = 0 is implicit);
        entry r of each equals :func:`~pgm_control.inference.dynamic_programming.value_iteration` of MDP
        r with that horizon.

    Example:
        >>> import torch
        >>> stay = torch.eye(2)[None, :, None, :].expand(1, 2, 2, 2)  # p(s'|s, a) = 1 when s' = s
        >>> q, v = batched_value_iteration(stay, torch.tensor([[[0.0, 1.0], [0.5, 0.0]]]), horizon=3)
        >>> v[0, 0].tolist()
        [3.0, 1.5]
    """
    transitions, rewards = as_float_tensor(transitions, "transitions"), as_float_tensor(rewards, "rewards")
    horizon = check_horizon(horizon, required=True)
    if rewards.dim() != 3:
        raise ValueError(f"rewards must have shape [R, S, A], got {list(rewards.shape)}")
    num_runs, num_states, num_actions = rewards.shape
    check_shape(transitions, [num_runs, num_states, num_actions, num_states], "transitions", "[R, S, A, S]")
    check_distribution(transitions, "transitions", "p(s'|s, a)")
    check_finite(rewards, "rewards")
    return backward_induction_unchecked(transitions, rewards, horizon)


class ModelBasedAgent(EpisodicAgent):
    r"""An agent that keeps the exact posterior over the MDP (:class:`TabularPosterior`) and, before each
    episode, plans exactly on one MDP per run, then follows its greedy time-dependent policy
    a_t = argmax_a Q_t(s_t, a) (ties broken at random, once per episode).

    Subclasses say which MDP to plan on: :meth:`planning_mdp` returns transitions ``[R, S, A, S]`` and
    rewards ``[R, S, A]`` (a posterior sample for posterior sampling; the estimated MDP plus a bonus for
    optimism)."""

    def __init__(self, posterior: TabularPosterior):
        self.posterior = posterior

    def reset(self, num_runs: int, num_states: int, num_actions: int, horizon: int) -> None:
        super().reset(num_runs, num_states, num_actions, horizon)
        self.posterior.reset(num_runs, num_states, num_actions)
        self._runs = torch.arange(num_runs)

    @abc.abstractmethod
    def planning_mdp(self, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The MDP each run plans on this episode: transitions ``[R, S, A, S]``, rewards ``[R, S, A]``."""

    def begin_episode(self, generator: torch.Generator | None = None) -> None:
        transitions, rewards = self.planning_mdp(generator)
        self.q, _ = backward_induction_unchecked(transitions, rewards, self.horizon)
        self.plan = argmax_random_ties(self.q, generator)  # [R, H, S]

    def act(self, step, states, generator=None):
        return self.plan[self._runs, step, states]

    def observe(self, step, states, actions, rewards, next_states):
        self.posterior.update(states, actions, rewards, next_states)
