r"""Model-free exploration in episodic tabular MDPs: Q-learning agents batched over runs (CS285 notes,
"Exploration": count-based bonuses, pseudo-counts, and posterior sampling with a bootstrap ensemble).

All agents learn a time-indexed Q-function, as in Jin, Allen-Zhu, Bubeck & Jordan (2018), "Is Q-learning
provably efficient?": after the transition (s_t, a_t, r_t, s_{t+1}) at step t of an episode of H steps,

    Q_t(s, a) ← (1 − α_n) Q_t(s, a) + α_n [r + b + V_{t+1}(s_{t+1})],   α_n = (H + 1) / (H + n),
    V_{t+1}(s') = min(H − t − 1, max_a Q_{t+1}(s', a)),   V_H = 0,

with n = N_t(s, a) the visits to (s, a) at step t, this one included, and b an exploration bonus
(0 unless stated). Why time-indexed: the regret is measured against the optimal H-step value, whose
optimal policy depends on the step; the step size (H + 1)/(H + n) weights recent targets more than 1/n
does, because the targets V_{t+1} improve as the later steps learn (Jin et al., Section 4.1). The first
update has α_1 = 1, so the initial Q of a pair matters only until it is first visited; it is 0, an
optimistic H − t, or a random prior, per agent. The cap H − t − 1 on V holds for rewards in [0, 1].

Every agent keeps ``q`` as ``[R, K, H, S, A]`` (K heads: 1 except for :class:`BootstrappedQ`) and
``visits`` N(s, a) pooled over steps, ``[R, S, A]``.
"""

from __future__ import annotations

import torch

from pgm_control._checks import DTYPE, check_nonnegative, check_positive_integer, check_real
from pgm_control.exploration.agents import argmax_random_ties
from pgm_control.exploration.episodic import EpisodicAgent
from pgm_control.exploration.pseudo_counts import DensityModel, DirichletDensity


def _check_probability(value, name: str, *, open_low: bool = False) -> float:
    value = check_real(value, name, "a probability")
    low_ok = value > 0.0 if open_low else value >= 0.0
    if not (low_ok and value <= 1.0):  # also rejects NaN
        interval = "(0, 1]" if open_low else "[0, 1]"
        raise ValueError(f"{name} must be a probability in {interval}, got {value}")
    return value


def learning_rate(visits: torch.Tensor, horizon: int) -> torch.Tensor:
    """Jin et al.'s step size α_n = (H + 1) / (H + n) for n = ``visits`` (this visit included, n >= 1)."""
    return (horizon + 1) / (horizon + visits)


def optimistic_values(num_runs: int, num_heads: int, horizon: int, num_states: int, num_actions: int) -> torch.Tensor:
    """Q_t(s, a) = H − t, the most any policy can collect from step t with rewards in [0, 1]:
    ``[R, K, H, S, A]``."""
    remaining = torch.arange(horizon, 0, -1, dtype=DTYPE)
    return remaining[:, None, None].expand(num_runs, num_heads, horizon, num_states, num_actions).clone()


def next_values(q_next: torch.Tensor, remaining: int) -> torch.Tensor:
    """V_{t+1}(s') = min(H − t − 1, max_a Q_{t+1}(s', a)) from ``q_next [..., A]`` = Q_{t+1}(s', ·) and
    ``remaining`` = H − t − 1, the steps left after step t."""
    return q_next.max(-1).values.clamp(max=remaining)


class TabularQAgent(EpisodicAgent):
    """Time-indexed episodic Q-learning with K heads (the base of the agents below).

    Q_t(s, a) ← Q_t(s, a) + η_N (r + b(s, a) + min(H − t − 1, max_a' Q_{t+1}(s', a')) − Q_t(s, a)), with
    η_N = (H + 1)/(H + N) (Jin et al. 2018); subclasses choose the bonus b (``_bonus``), the initial Q
    (``_initial_q``), which heads learn (``_masks``) and the action (``act``). Tables: ``q`` and
    ``step_visits`` ``[R, K, H, S, A]``, ``visits`` N(s, a) ``[R, S, A]``."""

    num_heads = 1

    def reset(self, num_runs, num_states, num_actions, horizon):
        super().reset(num_runs, num_states, num_actions, horizon)
        shape = (num_runs, self.num_heads, horizon, num_states, num_actions)
        self.q = self._initial_q(shape)
        self.step_visits = torch.zeros(shape, dtype=DTYPE)  # N_t(s, a) seen by each head
        self.visits = torch.zeros(num_runs, num_states, num_actions, dtype=DTYPE)  # N(s, a)
        self.heads = torch.zeros(num_runs, dtype=torch.long)  # the head each run follows this episode
        self._runs = torch.arange(num_runs)
        self._generator = None

    def _initial_q(self, shape) -> torch.Tensor:
        return torch.zeros(shape, dtype=DTYPE)

    def greedy(self, step: int, states: torch.Tensor, generator=None) -> torch.Tensor:
        """argmax_a Q_t(s, a) of each run's current head, ties broken at random, [R]."""
        return argmax_random_ties(self.q[self._runs, self.heads, step, states], generator)

    def act(self, step, states, generator=None):
        return self.greedy(step, states, generator)

    def _bonus(self, states, actions) -> torch.Tensor | float:
        """b of the transition just counted in ``visits`` (0 by default)."""
        return 0.0

    def _masks(self, generator) -> torch.Tensor:
        """Which heads learn from this transition, [R, K] (all of them by default)."""
        return torch.ones(self.num_runs, self.num_heads, dtype=DTYPE)

    def observe(self, step, states, actions, rewards, next_states):
        self.visits[self._runs, states, actions] += 1
        target = rewards + self._bonus(states, actions)  # [R]
        if step < self.horizon - 1:
            q_next = self.q[self._runs, :, step + 1, next_states]  # [R, K, A]
            target = target[:, None] + next_values(q_next, self.horizon - step - 1)  # [R, K]
        else:  # V_H = 0
            target = target[:, None].expand(self.num_runs, self.num_heads)
        mask = self._masks(self._generator)
        visits = self.step_visits[self._runs, :, step, states, actions] + mask
        self.step_visits[self._runs, :, step, states, actions] = visits
        current = self.q[self._runs, :, step, states, actions]
        step_size = mask * learning_rate(visits.clamp(min=1), self.horizon)
        self.q[self._runs, :, step, states, actions] = current + step_size * (target - current)

    def begin_episode(self, generator=None):
        self._generator = generator  # the masks of BootstrappedQ are drawn in observe, which gets none


class EpsilonGreedyQ(TabularQAgent):
    r"""ε-greedy Q-learning, the dithering baseline: with probability ε a uniformly random action, else
    argmax_a Q_t(s, a) (ties at random). No bonus, and Q starts at 0 — no optimism anywhere, so on
    Deep Sea it finds the treasure only by chance: ε = 1 (uniform actions) needs 2^N episodes on
    average, and ε < 1 far more, because once a costly "right" has been tried its Q falls below the free
    "left" and only the ε-moves go right (measured on Deep Sea(5), ε = 0.1: 4 runs of 10 found it
    within 2,000 episodes; ε = 1: all 10, median 39).

    Args:
        epsilon: ε in [0, 1]."""

    def __init__(self, epsilon: float = 0.1):
        self.epsilon = _check_probability(epsilon, "epsilon")

    def act(self, step, states, generator=None):
        greedy = self.greedy(step, states, generator)
        explore = torch.rand(self.num_runs, generator=generator, dtype=DTYPE) < self.epsilon
        uniform = torch.randint(self.num_actions, (self.num_runs,), generator=generator)
        return torch.where(explore, uniform, greedy)


class CountBonusQ(TabularQAgent):
    r"""Optimistic Q-learning with a count-based bonus (CS285 notes, "Count-Based Exploration"; the
    MBIE-EB bonus of Strehl & Littman 2008 on the Q-learning of Jin et al. 2018):

        r⁺(s, a) = r(s, a) + β / √N(s, a),

    N(s, a) the visits to (s, a) over all steps, this one included. Q starts at the optimistic H − t, so
    untried actions are tried first and the bonus keeps a pair attractive until it has been visited
    about β²/gap² times; then the agent acts greedily (ties at random).

    Departure from Jin et al.: their bonus c √(H³ ι / n) counts visits per step t and is tuned for the
    worst case; the notes' β / √N with N pooled over steps learns faster on stationary dynamics.

    Args:
        beta: β >= 0, the bonus scale (β = 0: optimistic initial values only).

    Example:
        >>> from pgm_control.envs import riverswim
        >>> from pgm_control.exploration import run_episodes
        >>> agent = CountBonusQ(beta=0.5)
        >>> history = run_episodes(agent, riverswim(), num_episodes=20, horizon=10, num_runs=3)
        >>> agent.q.shape  # [R, K, H, S, A]
        torch.Size([3, 1, 10, 6, 2])
        >>> history.regret.shape  # [R, K episodes]
        torch.Size([3, 20])
    """

    def __init__(self, beta: float = 0.5):
        self.beta = check_nonnegative(beta, "beta")

    def _initial_q(self, shape):
        return optimistic_values(*shape)

    def _bonus(self, states, actions):
        return self.beta * self.visits[self._runs, states, actions].rsqrt()


class PseudoCountQ(CountBonusQ):
    r""":class:`CountBonusQ` with the count replaced by a density model's pseudo-count (CS285 notes,
    "Count-Based Exploration"; Bellemare et al. 2016):

        r⁺(s, a) = r(s, a) + β / √N̂(s, a),   N̂ = n̂ p_θ(x),   n̂ = (1 − p_θ'(x)) / (p_θ'(x) − p_θ(x)) p_θ(x),

    with x = (s, a) the pair just visited and p_θ, p_θ' the density of x before and after one more
    observation of x, evaluated once the model has been trained on this visit (so that the
    :class:`EmpiricalDensity` gives N̂ = N(s, a), this visit included, and the agent acts exactly as
    :class:`CountBonusQ`). ``pseudo_counts [R, S, A]`` holds the latest N̂ of each pair.

    Departure from Bellemare et al.: the density is over state-action pairs (their bonus uses N̂(s));
    a pair count is what the tabular bonus needs, and the two coincide with one action.

    Args:
        beta: β >= 0, the bonus scale.
        density: a :class:`DensityModel` over the S·A pairs (default :class:`DirichletDensity`, whose
            pseudo-count is N(s, a) + α)."""

    def __init__(self, beta: float = 0.5, density: DensityModel | None = None):
        super().__init__(beta)
        if density is None:
            density = DirichletDensity()
        if not isinstance(density, DensityModel):
            raise TypeError(f"density must be a DensityModel (e.g. EmpiricalDensity() or DirichletDensity()), "
                            f"got {type(density).__name__}")
        self.density = density

    def reset(self, num_runs, num_states, num_actions, horizon):
        super().reset(num_runs, num_states, num_actions, horizon)
        self.density.reset(num_runs, num_states * num_actions)
        self.pseudo_counts = torch.zeros(num_runs, num_states, num_actions, dtype=DTYPE)

    def _bonus(self, states, actions):
        pairs = states * self.num_actions + actions
        self.density.update(pairs)
        counts = self.density.pseudo_counts(pairs)
        self.pseudo_counts[self._runs, states, actions] = counts
        return self.beta * counts.rsqrt()


class BootstrappedQ(TabularQAgent):
    r"""Bootstrapped Q-learning (CS285 notes, "Posterior Sampling" in RL problems; Osband, Blundell,
    Pritzel & Van Roy 2016, "Deep exploration via bootstrapped DQN"): a distribution over Q-functions
    held as an ensemble of K heads,

        1. at the start of each episode sample a head k ~ Uniform{1, …, K} (per run),
        2. act greedily on Q^k for the whole episode,
        3. let each head learn from each transition with probability p (a Bernoulli mask m_k ~ Bern(p),
           the online double-or-nothing bootstrap: each head sees its own resample of the data).

    Each head starts from its own random prior, Q^k_t(s, a) ~ N(0, σ²) with σ = ``prior_scale``
    (the randomized prior of Osband, Aslanides & Cassirer 2018): with α_1 = 1 a head forgets the prior of a
    pair at its first visit of it, so the prior is what makes a head try pairs it has not seen — without
    it (σ = 0) every head agrees on unseen pairs and the ensemble explores no deeper than greedy. σ should
    be on the scale of the values (up to H).

    Defaults, measured on RiverSwim(6), H = 20, 20 runs, 500 episodes: p = 1 (every head sees every
    transition; the diversity comes from the priors) reached a regret of 798 against 1,428 for p = 0.5
    (σ = 10 both; ε-greedy: 1,653), and found Deep Sea(10)'s treasure after 77 episodes against 177
    (median of 10 runs).

    Args:
        num_heads: K >= 1.
        mask_probability: p in (0, 1], the chance that a head learns from a transition.
        prior_scale: σ >= 0 of the heads' initial values."""

    def __init__(self, num_heads: int = 10, mask_probability: float = 1.0, prior_scale: float = 10.0):
        self.num_heads = check_positive_integer(num_heads, "num_heads")
        self.mask_probability = _check_probability(mask_probability, "mask_probability", open_low=True)
        self.prior_scale = check_nonnegative(prior_scale, "prior_scale")

    def reset(self, num_runs, num_states, num_actions, horizon):
        super().reset(num_runs, num_states, num_actions, horizon)
        self._prior_drawn = False

    def begin_episode(self, generator=None):
        super().begin_episode(generator)
        if not self._prior_drawn:  # reset gets no generator: draw the priors from the runner's one
            self.q = self.prior_scale * torch.randn(self.q.shape, generator=generator, dtype=DTYPE)
            self._prior_drawn = True
        self.heads = torch.randint(self.num_heads, (self.num_runs,), generator=generator)

    def _masks(self, generator):
        draws = torch.rand(self.num_runs, self.num_heads, generator=generator, dtype=DTYPE)
        return (draws < self.mask_probability).to(DTYPE)


__all__ = ["BootstrappedQ", "CountBonusQ", "EpsilonGreedyQ", "PseudoCountQ"]
