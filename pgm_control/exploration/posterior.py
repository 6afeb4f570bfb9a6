r"""The posterior over an unknown tabular MDP, for R runs at once (CS285 notes, "Exploration": "Posterior
Sampling" and "Information Gain" in RL problems).

The unknown parameters are θ = (p(·|s, a), r(s, a)) for every state-action pair, with conjugate priors

    p(·|s, a) ~ Dirichlet(α_0, ..., α_0)          (S categories)
    r(s, a)   ~ Normal(m_0, s_0²),   observed rewards ~ Normal(r(s, a), σ²)   (σ known)

so that after N(s, a, s') observed transitions and N(s, a) rewards summing to Σr(s, a)

    p(·|s, a) | h ~ Dirichlet(α_0 + N(s, a, ·))
    r(s, a)   | h ~ Normal(μ(s, a), 1/λ(s, a)),   λ = 1/s_0² + N(s, a)/σ²,   μ = (m_0/s_0² + Σr(s, a)/σ²) / λ.

:func:`pgm_control.models.tabular_mdp_model` is this model as a Pyro program; :class:`TabularPosterior`
keeps the counts as tensors ``[R, S, A, S]`` and ``[R, S, A]`` and applies the closed-form update above
(the tests check it against the Pyro program's log densities). The reward model is Normal with a known
noise σ rather than a Normal-Gamma with unknown noise: the testbeds' rewards are deterministic, and a
small σ says so.
"""

from __future__ import annotations

import math

import pyro.distributions as dist
import torch

from pgm_control._checks import DTYPE, as_float_tensor, check_finite, check_positive, check_real


def _sample_dirichlet(concentration: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    r"""One draw of Dirichlet(α) per row of ``concentration [..., K]``, seeded, normalized in log space.

    Gamma(α) = Gamma(α + 1) · U^{1/α} with U ~ Uniform(0, 1) (Marsaglia & Tsang's boost): its log never
    underflows, so small concentrations (α_0 = 1/S) give no 0/0 rows."""
    boosted = torch._standard_gamma(concentration + 1, generator=generator)
    uniform = torch.rand(concentration.shape, generator=generator, dtype=concentration.dtype)
    return torch.softmax(boosted.log() + uniform.log() / concentration, dim=-1)


def _check_concentration(concentration, name: str) -> torch.Tensor:
    concentration = as_float_tensor(concentration, name)
    check_finite(concentration, name)
    if concentration.dim() == 0 or concentration.shape[-1] < 2:
        raise ValueError(f"{name} must have a last axis of K >= 2 categories, got shape {list(concentration.shape)}")
    if concentration.min() <= 0:
        raise ValueError(f"{name} must hold positive Dirichlet concentrations, got minimum "
                         f"{concentration.min().item()}")
    return concentration


def dirichlet_kl(posterior_concentration, prior_concentration) -> torch.Tensor:
    r"""KL(Dir(α') ‖ Dir(α)) over the last axis (K categories), for any batch shape:

        KL = ln Γ(α'_0) − Σ_k ln Γ(α'_k) − ln Γ(α_0) + Σ_k ln Γ(α_k) + Σ_k (α'_k − α_k)(ψ(α'_k) − ψ(α'_0)),

    with α_0 = Σ_k α_k. Example: one observation of category 0 under a flat prior on 2 categories,
    KL(Dir(2, 1) ‖ Dir(1, 1)) = ln 2 − 1/2:

        >>> round(dirichlet_kl([2.0, 1.0], [1.0, 1.0]).item(), 6)
        0.193147
    """
    post = _check_concentration(posterior_concentration, "posterior_concentration")
    prior = _check_concentration(prior_concentration, "prior_concentration")
    if post.shape[-1] != prior.shape[-1]:
        raise ValueError(f"posterior_concentration and prior_concentration must have the same number of "
                         f"categories, got {post.shape[-1]} and {prior.shape[-1]}")
    post_total, prior_total = post.sum(-1), prior.sum(-1)
    return (torch.lgamma(post_total) - torch.lgamma(post).sum(-1) - torch.lgamma(prior_total)
            + torch.lgamma(prior).sum(-1)
            + ((post - prior) * (torch.digamma(post) - torch.digamma(post_total)[..., None])).sum(-1))


def information_gain_unchecked(concentration: torch.Tensor) -> torch.Tensor:
    r""":func:`dirichlet_information_gain` without input checks (for agents, which call it every episode)."""
    total = concentration.sum(-1, keepdim=True)
    kl_after = total.log() - concentration.log() + torch.digamma(concentration + 1) - torch.digamma(total + 1)
    return (concentration / total * kl_after).sum(-1)


def dirichlet_information_gain(concentration) -> torch.Tensor:
    r"""The exact information gain about θ ~ Dir(α) from one observation y ~ Categorical(θ) (CS285
    notes, "Information Gain"; the VIME bonus of Houthooft et al. 2016 made exact):

        IG(θ, y) = E_y[H(p(θ)) − H(p(θ | y))] = E_{y ~ p(y)}[KL(Dir(α + e_y) ‖ Dir(α))]
                 = Σ_k (α_k/α_0) [ln α_0 − ln α_k + ψ(α_k + 1) − ψ(α_0 + 1)],

    the predictive p(y = k) = α_k/α_0 weighting the KL of the one-observation update, which simplifies
    because Γ(x + 1) = x Γ(x). ``concentration [..., K]`` -> ``[...]``. For K = 2 it is the Beta
    information gain of a Bernoulli observation.

        >>> round(dirichlet_information_gain([1.0, 1.0]).item(), 6)
        0.193147
    """
    return information_gain_unchecked(_check_concentration(concentration, "concentration"))


class TabularPosterior:
    r"""The exact posterior over p(s'|s, a) and r(s, a) of R runs, from their counts (the conjugate
    update of the module docstring).

    Args:
        prior_concentration: α_0 of the Dirichlet prior on each p(·|s, a); None (default) gives
            α_0 = 1/S, the prior of Osband, Russo & Van Roy (2013): one pseudo-observation per row.
        reward_prior_mean, reward_prior_sd: m_0 and s_0 of the Normal prior on each r(s, a).
        reward_noise_sd: σ, the known sd of an observed reward around r(s, a).

    After :meth:`reset`, ``transition_counts`` N(s, a, s') ``[R, S, A, S]``, ``visit_counts`` N(s, a)
    and ``reward_sums`` Σr(s, a) ``[R, S, A]`` (float64) are the sufficient statistics.
    """

    def __init__(self, prior_concentration: float | None = None, reward_prior_mean: float = 0.0,
                 reward_prior_sd: float = 1.0, reward_noise_sd: float = 1.0):
        self.prior_concentration = (None if prior_concentration is None
                                    else check_positive(prior_concentration, "prior_concentration"))
        self.reward_prior_mean = check_real(reward_prior_mean, "reward_prior_mean", "a number")
        if not math.isfinite(self.reward_prior_mean):
            raise ValueError(f"reward_prior_mean must be finite, got {self.reward_prior_mean}")
        self.reward_prior_sd = check_positive(reward_prior_sd, "reward_prior_sd")
        self.reward_noise_sd = check_positive(reward_noise_sd, "reward_noise_sd")

    def reset(self, num_runs: int, num_states: int, num_actions: int) -> None:
        """Back to the prior, for R runs of an MDP with S states and A actions."""
        self.alpha0 = 1.0 / num_states if self.prior_concentration is None else self.prior_concentration
        self.transition_counts = torch.zeros(num_runs, num_states, num_actions, num_states, dtype=DTYPE)
        self.reward_sums = torch.zeros(num_runs, num_states, num_actions, dtype=DTYPE)
        self._runs, self._ones = torch.arange(num_runs), torch.ones(num_runs, dtype=DTYPE)

    @property
    def visit_counts(self) -> torch.Tensor:
        """N(s, a) = Σ_{s'} N(s, a, s'), ``[R, S, A]``."""
        return self.transition_counts.sum(-1)

    def update(self, states: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
               next_states: torch.Tensor) -> None:
        """Add one transition (s, a, r, s') per run, each ``[R]``."""
        self.transition_counts.index_put_((self._runs, states, actions, next_states), self._ones, accumulate=True)
        self.reward_sums.index_put_((self._runs, states, actions), rewards.to(DTYPE), accumulate=True)

    def transition_concentration(self) -> torch.Tensor:
        """α_0 + N(s, a, ·), ``[R, S, A, S]``: the Dirichlet posterior of each p(·|s, a)."""
        return self.alpha0 + self.transition_counts

    def reward_posterior(self) -> dist.Normal:
        """Normal(μ(s, a), 1/λ(s, a)) with batch shape ``[R, S, A]``."""
        precision = self.reward_prior_sd ** -2 + self.visit_counts / self.reward_noise_sd ** 2
        mean = (self.reward_prior_mean * self.reward_prior_sd ** -2
                + self.reward_sums / self.reward_noise_sd ** 2) / precision
        return dist.Normal(mean, precision.rsqrt())

    def transition_posterior(self) -> dist.Dirichlet:
        """Dirichlet(α_0 + N(s, a, ·)) with batch shape ``[R, S, A]`` and event shape ``[S]``."""
        return dist.Dirichlet(self.transition_concentration())

    def sample(self, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One MDP per run from the posterior: transitions ``[R, S, A, S]`` and rewards ``[R, S, A]``."""
        transitions = _sample_dirichlet(self.transition_concentration(), generator)
        belief = self.reward_posterior()
        noise = torch.randn(belief.loc.shape, generator=generator, dtype=DTYPE)
        return transitions, belief.loc + belief.scale * noise

    def mean_transitions(self) -> torch.Tensor:
        """P̂(s'|s, a) = (α_0 + N(s, a, s')) / (S α_0 + N(s, a)), the posterior mean ``[R, S, A, S]``:
        the empirical frequencies smoothed by the prior, uniform before the first visit."""
        concentration = self.transition_concentration()
        return concentration / concentration.sum(-1, keepdim=True)

    def empirical_rewards(self) -> torch.Tensor:
        """r̂(s, a) = Σr(s, a) / N(s, a), the observed mean reward (0 before the first visit), ``[R, S, A]``."""
        return self.reward_sums / self.visit_counts.clamp(min=1)

