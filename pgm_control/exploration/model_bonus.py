r"""Optimism on the estimated MDP: value iteration with an exploration bonus (CS285 notes, "Count-Based
Exploration" and "Information Gain" in RL problems).

Each episode every run plans exactly, over H steps, on its estimated MDP (P̂, r̂) with the reward

    r⁺(s, a) = r̂(s, a) + β B(s, a),

where the bonus B is one of

    "count":             B(s, a) = 1 / √N(s, a)      (MBIE-EB, Strehl & Littman 2008; 1 before the first visit)
    "information_gain":  B(s, a) = IG(θ_{s,a}, s') = E_{s' ~ p(s'|h)}[KL(Dir(α + e_{s'}) ‖ Dir(α))]
                         with α = α_0 + N(s, a, ·)   (VIME, Houthooft et al. 2016, made exact)

— the expected information a transition from (s, a) brings about the dynamics p(·|s, a). Both bonuses
shrink as (s, a) is visited: the count bonus as 1/√N, the information gain as about (K − 1)/(2N) with
K the number of successors seen.

Departures: P̂ is the Dirichlet posterior mean (α_0 + N(s, a, s'))/(S α_0 + N(s, a)), the empirical
frequencies smoothed so that an unvisited pair has a defined (uniform) model; r̂ is the empirical mean
reward, 0 before the first visit. MBIE-EB's bonus at N = 0 is infinite in principle; capping it at
β keeps every value finite.
"""

from __future__ import annotations

import torch

from pgm_control._checks import as_float_tensor, check_finite, check_nonnegative
from pgm_control.exploration.planning import ModelBasedAgent
from pgm_control.exploration.posterior import TabularPosterior, information_gain_unchecked

BONUSES = ("count", "information_gain")


def count_bonus(visit_counts) -> torch.Tensor:
    """MBIE-EB's B(s, a) = 1/√N(s, a), with N = 0 counted as 1; same shape as ``visit_counts`` (float64).

    >>> count_bonus([0, 1, 4]).tolist()
    [1.0, 1.0, 0.5]
    """
    visit_counts = as_float_tensor(visit_counts, "visit_counts")
    check_finite(visit_counts, "visit_counts")
    if visit_counts.numel() and visit_counts.min() < 0:
        raise ValueError(f"visit_counts must be non-negative counts N(s, a), got minimum {visit_counts.min().item()}")
    return visit_counts.clamp(min=1).rsqrt()


class ModelBasedBonus(ModelBasedAgent):
    r"""Value iteration on the estimated MDP with reward r̂ + β B(s, a) (the module docstring), R runs at once.

    Args:
        bonus: ``"count"`` (β/√N(s, a), MBIE-EB) or ``"information_gain"`` (β times the exact expected KL
            between the Dirichlet posteriors of p(·|s, a) after and before one transition).
        scale: β >= 0 (0 is the greedy certainty-equivalent agent).
        prior_concentration: α_0 of the Dirichlet prior on each p(·|s, a), used by P̂ and by the
            information gain; None (default) gives 1/S.

    Example:
        >>> from pgm_control.envs import riverswim
        >>> from pgm_control.exploration import run_episodes
        >>> history = run_episodes(ModelBasedBonus("count"), riverswim(), 100, 20, num_runs=4, seed=0)
        >>> history.regret.shape
        torch.Size([4, 100])
    """

    def __init__(self, bonus: str = "count", scale: float = 1.0, prior_concentration: float | None = None):
        if bonus not in BONUSES:
            raise ValueError(f"bonus must be one of {BONUSES}, got {bonus!r}")
        scale = check_nonnegative(scale, "scale")
        super().__init__(TabularPosterior(prior_concentration))
        self.bonus, self.scale = bonus, scale

    def exploration_bonus(self) -> torch.Tensor:
        """B(s, a) of every run, ``[R, S, A]`` (before the factor β)."""
        if self.bonus == "count":
            return count_bonus(self.posterior.visit_counts)
        return information_gain_unchecked(self.posterior.transition_concentration())

    def planning_mdp(self, generator):
        rewards = self.posterior.empirical_rewards() + self.scale * self.exploration_bonus()
        return self.posterior.mean_transitions(), rewards
