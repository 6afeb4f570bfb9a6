r"""Episodic exploration in a tabular MDP, many independent runs at once (CS285 notes, "Exploration").

An agent meets an unknown :class:`~pgm_control.mdp.TabularMDP` for K episodes of H steps, in R
independent runs. The true MDP is used only to simulate and to measure the regret

    Regret(K) = Σ_{k=1}^{K} (V*_1(s_1^k) − Σ_{t=1}^{H} r(s_t^k, a_t^k)),

with V*_1 the exact optimal H-step value (finite-horizon value iteration); its expectation is the
regret of Osband, Russo & Van Roy (2013), "(More) efficient reinforcement learning via posterior
sampling". Agents hold their statistics as tensors ``[R, S, A, ...]``; ``run_episodes`` loops over
episodes and steps only.
"""

from __future__ import annotations

import abc
from typing import NamedTuple

import torch

from pgm_control._checks import DTYPE, check_horizon, check_positive_integer, check_seed
from pgm_control._mdp_inputs import check_mdp
from pgm_control._progress import progress_bar
from pgm_control.inference.dynamic_programming import value_iteration
from pgm_control.mdp import TabularMDP


class EpisodicAgent(abc.ABC):
    """An exploration agent for R runs of an episodic tabular MDP with S states and A actions.

    The runner calls ``reset`` once, then for every episode ``begin_episode`` (where posterior
    sampling draws its MDP and plans), and for every step ``act`` then ``observe``.
    """

    def reset(self, num_runs: int, num_states: int, num_actions: int, horizon: int) -> None:
        """Start from the prior: R runs, S states, A actions, episodes of H steps."""
        self.num_runs, self.num_states, self.num_actions, self.horizon = num_runs, num_states, num_actions, horizon

    def begin_episode(self, generator: torch.Generator | None = None) -> None:  # noqa: B027 (optional hook)
        """Called before each episode; the default does nothing."""

    @abc.abstractmethod
    def act(self, step: int, states: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The action of each run at step t = ``step`` (0-based) in ``states [R]``: ``[R]`` long."""

    @abc.abstractmethod
    def observe(self, step: int, states: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
                next_states: torch.Tensor) -> None:
        """Learn from one transition per run, each ``[R]`` (rewards float64)."""


class EpisodeHistory(NamedTuple):
    """What ``run_episodes`` returns, for R runs of K episodes of H steps.

    ``states [R, K, H+1]``, ``actions [R, K, H]``, ``rewards [R, K, H]``; ``returns [R, K]`` the
    undiscounted episode returns; ``optimal_values [R, K]`` V*_1(s_1^k); ``regret [R, K]`` the
    cumulative regret Σ_{j ≤ k} (V*_1(s_1^j) − return_j).
    """

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    returns: torch.Tensor
    optimal_values: torch.Tensor
    regret: torch.Tensor


def run_episodes(agent: EpisodicAgent, mdp: TabularMDP, num_episodes: int, horizon: int, num_runs: int = 1,
                 seed: int = 0, *, progress: bool | None = None) -> EpisodeHistory:
    r"""Play ``agent`` on ``mdp`` for K = ``num_episodes`` episodes of H = ``horizon`` steps in R =
    ``num_runs`` independent runs, seeded; the regret is measured against the exact optimal V*_1.
    ``progress`` shows a bar over episodes (``None``: only for long runs; ``False``: never).

    Example:
        >>> from pgm_control.envs import riverswim
        >>> from pgm_control.exploration import PosteriorSampling  # doctest: +SKIP
        >>> history = run_episodes(PosteriorSampling(), riverswim(), 50, 20, num_runs=10)  # doctest: +SKIP
    """
    if not isinstance(agent, EpisodicAgent):
        raise TypeError(f"agent must be an EpisodicAgent, got {type(agent).__name__}")
    check_mdp(mdp)
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    horizon = check_horizon(horizon, required=True)
    num_runs = check_positive_integer(num_runs, "num_runs")
    generator = torch.Generator().manual_seed(check_seed(seed))
    mdp = mdp.to("cpu")
    optimal = value_iteration(mdp, horizon).v[0]
    next_states, probs, reward_table = mdp.next_states, mdp.probs, mdp.rewards.detach()
    states = torch.empty(num_runs, num_episodes, horizon + 1, dtype=torch.long)
    actions = torch.empty(num_runs, num_episodes, horizon, dtype=torch.long)
    agent.reset(num_runs, mdp.num_states, mdp.num_actions, horizon)
    bar = progress_bar(num_episodes, progress, num_episodes * horizon * num_runs, "episodes")
    for k in range(num_episodes):
        agent.begin_episode(generator)
        s = torch.multinomial(mdp.initial, num_runs, replacement=True, generator=generator)
        states[:, k, 0] = s
        for t in range(horizon):
            a = agent.act(t, s, generator)
            successor = torch.multinomial(probs[s, a], 1, generator=generator).squeeze(-1)
            s_next = next_states[s, a, successor]
            agent.observe(t, s, a, reward_table[s, a], s_next)
            actions[:, k, t], states[:, k, t + 1] = a, s_next
            s = s_next
        bar.update()
    bar.close()
    rewards = reward_table[states[..., :-1], actions]
    returns = rewards.sum(-1)
    optimal_values = optimal[states[..., 0]]
    return EpisodeHistory(states, actions, rewards, returns, optimal_values,
                          (optimal_values - returns).cumsum(-1).to(DTYPE))
