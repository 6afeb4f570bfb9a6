r"""Posterior sampling for reinforcement learning, PSRL (CS285 notes, "Posterior Sampling" in RL problems;
Osband, Russo & Van Roy 2013, "(More) efficient reinforcement learning via posterior sampling").

Each episode k, in each run:

    1. sample θ_k = (p_k, r_k) ~ p(θ | h_k), the exact posterior over the MDP given the history h_k;
    2. solve the sampled MDP exactly: Q_{k,t} by finite-horizon value iteration over H steps;
    3. act a_t = argmax_a Q_{k,t}(s_t, a) for the whole episode, and update the posterior.

Acting optimally for a plausible MDP for a whole episode is what makes the exploration deep: a sampled
MDP that places a large reward far away is followed all the way there. Expected regret Õ(H S √(A T)).
"""

from __future__ import annotations

from pgm_control.exploration.planning import ModelBasedAgent
from pgm_control.exploration.posterior import TabularPosterior


class PosteriorSampling(ModelBasedAgent):
    r"""PSRL on R runs at once: one posterior sample of the MDP per run and episode, solved exactly
    (the module docstring's three steps).

    Args:
        prior_concentration: α_0 of the Dirichlet prior on each p(·|s, a); None (default) gives 1/S.
        reward_prior_mean, reward_prior_sd: the Normal prior on each r(s, a) (default N(0, 1), so that an
            unvisited pair is sometimes sampled as better than any reward seen).
        reward_noise_sd: σ, the assumed sd of an observed reward (default 0.1: the testbeds' rewards
            are deterministic; larger values make the agent re-check rewards for longer).

    The posterior is :class:`~pgm_control.exploration.posterior.TabularPosterior`, the closed form of
    :func:`~pgm_control.models.tabular_mdp_model`.

    Example:
        >>> from pgm_control.envs import riverswim
        >>> from pgm_control.exploration import run_episodes
        >>> history = run_episodes(PosteriorSampling(), riverswim(), 100, 20, num_runs=4, seed=0)
        >>> bool(history.returns[:, -10:].mean() > 2.0)  # close to V* = 3.4 after 100 episodes
        True
    """

    def __init__(self, prior_concentration: float | None = None, reward_prior_mean: float = 0.0,
                 reward_prior_sd: float = 1.0, reward_noise_sd: float = 0.1):
        super().__init__(TabularPosterior(prior_concentration, reward_prior_mean, reward_prior_sd, reward_noise_sd))

    def planning_mdp(self, generator):
        return self.posterior.sample(generator)
