r"""Bandit agents batched over runs, and the driver that plays them (CS285 notes, "Exploration").

Every agent keeps, for R runs and A arms, the pull counts N(a) and reward sums [R, A] (float64); ``act``
returns one arm per run ``[R]`` from these statistics and ``update`` adds the observed rewards. Nothing
loops over runs or arms; ``run_bandit`` loops over time only.
"""

from __future__ import annotations

import abc
import math
from typing import NamedTuple

import torch
from torch.distributions import Beta, Normal

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    check_broadcastable,
    check_finite,
    check_indices,
    check_nonnegative,
    check_positive,
    check_positive_integer,
    check_probabilities,
    check_real,
    check_seed,
    check_shape,
)
from pgm_control._progress import progress_bar
from pgm_control.exploration.bandits import Bandit, BernoulliBandit, bernoulli_kl_unchecked

# Newton's method for the KL-UCB index stops once no index moves by more than this (in q).
_KL_UCB_TOLERANCE = 1e-12
_KL_UCB_MAX_STEPS = 50  # measured: 6 steps for N(a) <= 10^4, 7 for N(a) <= 10^6


def argmax_random_ties(scores: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """argmax over the last axis of ``scores [R, A]``, ties broken uniformly at random."""
    is_max = scores == scores.max(-1, keepdim=True).values
    noise = torch.rand(scores.shape, generator=generator, dtype=DTYPE)
    return torch.where(is_max, noise, -1.0).argmax(-1)


def _sample_beta(alpha: torch.Tensor, beta: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One draw of Beta(α, β) per entry, X / (X + Y) with X ~ Γ(α), Y ~ Γ(β) (seeded, unlike ``Beta.sample``)."""
    x = torch._standard_gamma(alpha, generator=generator)
    y = torch._standard_gamma(beta, generator=generator)
    return x / (x + y)


def _check_pulls(agent: BanditAgent, actions, rewards) -> None:
    """One pull per run of a reset agent: long ``actions [R]`` in 0..A-1, finite float ``rewards [R]``."""
    if not hasattr(agent, "counts"):
        raise ValueError(f"{type(agent).__name__} has no runs yet: call reset(num_runs, num_arms) first")
    num_runs, num_arms = agent.counts.shape
    if not isinstance(actions, torch.Tensor) or actions.dtype != torch.long:
        raise TypeError(f"actions must be a long tensor [R] of arms, got {_kind_of(actions)}")
    if not isinstance(rewards, torch.Tensor) or not rewards.is_floating_point():
        raise TypeError(f"rewards must be a float tensor [R], got {_kind_of(rewards)}")
    check_shape(actions, [num_runs], "actions", "[R] (one arm per run)")
    check_shape(rewards, [num_runs], "rewards", "[R] (one reward per run)")
    check_indices(actions, num_arms, "actions", " (arms)")
    check_finite(rewards, "rewards")


def _kind_of(value) -> str:
    """How an error message names a wrong argument: 'a torch.float32 tensor', or its type's name."""
    return f"a {value.dtype} tensor" if isinstance(value, torch.Tensor) else type(value).__name__


class BanditAgent(abc.ABC):
    """Shared statistics: ``counts`` N(a) and ``sums`` Σ r over the pulls of a, each [R, A]."""

    bernoulli_only = False  # True where the agent's model needs rewards in {0, 1}

    def reset(self, num_runs: int, num_arms: int) -> None:
        self.counts = torch.zeros(num_runs, num_arms, dtype=DTYPE)
        self.sums = torch.zeros(num_runs, num_arms, dtype=DTYPE)

    def update(self, actions: torch.Tensor, rewards: torch.Tensor) -> None:
        """Add one pull per run: ``actions [R]`` (arms in 0..A-1) with finite ``rewards [R]``."""
        _check_pulls(self, actions, rewards)
        self.counts.scatter_add_(1, actions[:, None], torch.ones_like(rewards)[:, None])
        self.sums.scatter_add_(1, actions[:, None], rewards[:, None])

    def empirical_means(self) -> torch.Tensor:
        """μ̂_a = Σ r / N(a), [R, A]; +inf for arms not yet pulled, so that every arm is tried once first."""
        return torch.where(self.counts > 0, self.sums / self.counts.clamp(min=1), math.inf)

    @abc.abstractmethod
    def act(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """The arm of each run, ``[R]`` (long), drawn with ``generator``."""


class EpsilonGreedy(BanditAgent):
    r"""ε-greedy: with probability ε a uniformly random arm, else a = argmax_a μ̂_a (ties at random).

    Each arm is pulled once first (μ̂ of an unpulled arm counts as +∞). Regret is linear:
    Reg(T) ≈ ε T · (mean gap over arms)."""

    def __init__(self, epsilon: float = 0.1):
        epsilon = check_real(epsilon, "epsilon", "a probability in [0, 1]")
        if not 0.0 <= epsilon <= 1.0:  # also rejects NaN
            raise ValueError(f"epsilon must be a probability in [0, 1], got {epsilon}")
        self.epsilon = epsilon

    def act(self, generator=None):
        greedy = argmax_random_ties(self.empirical_means(), generator)
        num_runs, num_arms = self.counts.shape
        explore = torch.rand(num_runs, generator=generator, dtype=DTYPE) < self.epsilon
        uniform = torch.randint(num_arms, (num_runs,), generator=generator)
        return torch.where(explore, uniform, greedy)


class UCB1(BanditAgent):
    r"""UCB1, optimism under uncertainty (CS285 notes, "Optimistic Exploration"; Auer et al. 2002):

        a = argmax_a μ̂_a + sqrt(2 ln t / N(a))

    with t the number of pulls made so far; each arm is pulled once first. Reg(T) = O(log T)."""

    def index(self) -> torch.Tensor:
        """The upper confidence bounds [R, A] (+∞ for unpulled arms)."""
        t = self.counts.sum(-1, keepdim=True).clamp(min=1)
        bonus = torch.sqrt(2 * torch.log(t) / self.counts.clamp(min=1))
        return torch.where(self.counts > 0, self.empirical_means() + bonus, math.inf)

    def act(self, generator=None):
        return argmax_random_ties(self.index(), generator)


class KLUCB(BanditAgent):
    r"""KL-UCB for Bernoulli rewards (Garivier & Cappé 2011):

        a = argmax_a max{q ∈ [μ̂_a, 1] : N(a) KL(μ̂_a, q) ≤ ln t + c ln ln t}

    with KL the Bernoulli divergence, solved by Newton's method on all runs and arms at once
    (:func:`kl_ucb_index`); each arm is pulled once first. c = 0 (the default) is the variant Garivier &
    Cappé recommend in practice."""

    bernoulli_only = True

    def __init__(self, c: float = 0.0):
        self.c = check_nonnegative(c, "c")

    def index(self) -> torch.Tensor:
        """The KL upper confidence bounds [R, A] (+∞ for unpulled arms)."""
        t = self.counts.sum(-1, keepdim=True).clamp(min=math.e)
        budget = (torch.log(t) + self.c * torch.log(torch.log(t))) / self.counts.clamp(min=1)
        means = self.sums / self.counts.clamp(min=1)  # unpulled arms are masked below
        return torch.where(self.counts > 0, _kl_ucb_index(means, budget.expand_as(means)), math.inf)

    def act(self, generator=None):
        return argmax_random_ties(self.index(), generator)


def kl_ucb_index(means, budget) -> torch.Tensor:
    r"""The largest q ∈ [p, 1] with KL(p, q) ≤ d, elementwise for p = ``means`` ∈ [0, 1] and d = ``budget``
    > 0 (broadcast), by Newton's method on f(q) = KL(p, q) − d, f'(q) = (q − p) / (q (1 − q)):

        q ← q − f(q) q (1 − q) / (q − p),

    started from above at min(p + sqrt(d / 2), 1 − (1 − p) exp((p ln p − d) / (1 − p))), the roots of
    Pinsker's bound KL ≥ 2 (q − p)² and of KL ≥ p ln p + (1 − p) ln((1 − p)/(1 − q)). f is convex and
    increasing on [p, 1), so every iterate stays above the root and they decrease to it; iteration
    stops when no entry moves by more than 1e-12. q = 1 where p = 1.

    >>> [round(q, 10) for q in kl_ucb_index([0.0, 0.5], [math.log(2), 0.1]).tolist()]  # KL(0, q) = −ln(1 − q)
    [0.5, 0.7128786315]
    """
    means, budget = as_float_tensor(means, "means"), as_float_tensor(budget, "budget")
    check_finite(budget, "budget")
    check_probabilities(means, "means")
    if budget.numel() and not bool((budget > 0).all()):
        raise ValueError(f"budget must be positive (the KL radius d), got minimum {budget.min().item()}")
    check_broadcastable(means, budget, "means", "budget")
    means, budget = torch.broadcast_tensors(means, budget)
    if means.numel() == 0:
        return means.clone()
    return _kl_ucb_index(means, budget)


def _kl_ucb_index(means: torch.Tensor, budget: torch.Tensor) -> torch.Tensor:
    """``kl_ucb_index`` for validated, non-empty tensors of one shape (its docstring's iteration)."""
    below_one = means < 1
    p = torch.where(below_one, means, 0.5)  # p = 1 is answered by the where below
    q = torch.minimum(p + torch.sqrt(budget / 2), 1 - (1 - p) * torch.exp((torch.xlogy(p, p) - budget) / (1 - p)))
    for _ in range(_KL_UCB_MAX_STEPS):
        step = (bernoulli_kl_unchecked(p, q) - budget) * q * (1 - q) / (q - p)
        q = q - step
        if not step.abs().max() > _KL_UCB_TOLERANCE:
            break
    return torch.where(below_one, q, 1.0)


class ThompsonBeta(BanditAgent):
    r"""Thompson sampling with Beta-Bernoulli posteriors (CS285 notes, "Posterior Sampling"):

        θ_a ~ p̂(θ_a) = Beta(α_0 + successes_a, β_0 + failures_a),   a = argmax_a θ_a,

    then the posterior is updated with the observed reward. ``posterior()`` is the belief state as a
    ``torch.distributions.Beta`` with batch shape [R, A]."""

    bernoulli_only = True

    def __init__(self, prior_successes: float = 1.0, prior_failures: float = 1.0):
        self.prior_successes = check_positive(prior_successes, "prior_successes")
        self.prior_failures = check_positive(prior_failures, "prior_failures")

    def posterior(self) -> Beta:
        return Beta(self.prior_successes + self.sums, self.prior_failures + self.counts - self.sums)

    def act(self, generator=None):
        belief = self.posterior()
        return _sample_beta(belief.concentration1, belief.concentration0, generator).argmax(-1)


class ThompsonGaussian(BanditAgent):
    r"""Thompson sampling with Normal-Normal posteriors, known reward noise sd σ (CS285 notes, "Posterior
    Sampling"). With prior μ_a ~ N(m_0, s_0²) and N(a) rewards summing to S_a:

        precision_a = 1/s_0² + N(a)/σ²,   mean_a = (m_0/s_0² + S_a/σ²) / precision_a,
        θ_a ~ N(mean_a, 1/precision_a),   a = argmax_a θ_a."""

    def __init__(self, noise_sd: float = 1.0, prior_mean: float = 0.0, prior_sd: float = 1.0):
        self.noise_sd = check_positive(noise_sd, "noise_sd")
        self.prior_mean = check_real(prior_mean, "prior_mean", "a number")
        if not math.isfinite(self.prior_mean):
            raise ValueError(f"prior_mean must be finite, got {self.prior_mean}")
        self.prior_sd = check_positive(prior_sd, "prior_sd")

    def posterior(self) -> Normal:
        precision = self.prior_sd ** -2 + self.counts / self.noise_sd ** 2
        mean = (self.prior_mean * self.prior_sd ** -2 + self.sums / self.noise_sd ** 2) / precision
        return Normal(mean, precision.rsqrt())

    def act(self, generator=None):
        belief = self.posterior()
        noise = torch.randn(belief.loc.shape, generator=generator, dtype=DTYPE)
        return (belief.loc + belief.scale * noise).argmax(-1)


def beta_information_gain(alpha, beta) -> torch.Tensor:
    r"""Exact information gain about z = μ_a from one Bernoulli observation y ~ Bernoulli(μ_a), for the
    posterior z ~ Beta(α, β) (CS285 notes, "Information Gain"):

        IG(z, y) = E_y[H(p(z)) − H(p(z | y))]
                 = H(Beta(α, β)) − p H(Beta(α+1, β)) − (1 − p) H(Beta(α, β+1)),   p = α / (α + β),

    with the differential entropy H(Beta(α, β)) = ln B(α, β) − (α−1)ψ(α) − (β−1)ψ(β) + (α+β−2)ψ(α+β).
    The recurrences ψ(x + 1) = ψ(x) + 1/x and B(α + 1, β) = B(α, β) α / (α + β) reduce this to the mutual
    information I(z; y) = H(y) − E_z[H(y | z)] in closed form, which is what is computed (three digammas,
    no cancellation between large entropies):

        IG = −p ln p − (1 − p) ln(1 − p) + p ψ(α) + (1 − p) ψ(β) − ψ(α + β) + 1 / (α + β)."""
    alpha, beta = as_float_tensor(alpha, "alpha"), as_float_tensor(beta, "beta")
    for value, name in ((alpha, "alpha"), (beta, "beta")):
        check_finite(value, name)
        if value.numel() and value.min() <= 0:
            raise ValueError(f"{name} must hold positive Beta parameters, got minimum {value.min().item()}")
    check_broadcastable(alpha, beta, "alpha", "beta")
    return _beta_information_gain(alpha, beta)


def _beta_information_gain(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``beta_information_gain`` for validated tensors (the closed form of its docstring)."""
    total = alpha + beta
    p = alpha / total
    bernoulli_entropy = -torch.xlogy(p, p) - torch.xlogy(1 - p, 1 - p)
    return (bernoulli_entropy + p * torch.digamma(alpha) + (1 - p) * torch.digamma(beta)
            - torch.digamma(total) + 1 / total)


class InformationDirected(ThompsonBeta):
    r"""Information-directed sampling on Beta-Bernoulli posteriors (Russo & Van Roy 2014, deterministic
    variant), built on the CS285 notes' "Information Gain":

        a = argmin_a Δ̂_a² / IG_a,   Δ̂_a = E[max_b θ_b − θ_a],   IG_a = IG(z = μ_a, y = r(a)) exact,

    Δ̂ estimated from ``num_samples`` joint posterior draws. Departure from Russo & Van Roy: the
    information is about the pulled arm's mean (``beta_information_gain``), not about the identity of
    the optimal arm, and the action is deterministic rather than a randomised pair."""

    def __init__(self, num_samples: int = 32, prior_successes: float = 1.0, prior_failures: float = 1.0):
        super().__init__(prior_successes, prior_failures)
        self.num_samples = check_positive_integer(num_samples, "num_samples")

    def act(self, generator=None):
        belief = self.posterior()
        shape = (self.num_samples, *belief.batch_shape)
        draws = _sample_beta(belief.concentration1.expand(shape), belief.concentration0.expand(shape), generator)
        regret_estimate = (draws.max(-1, keepdim=True).values - draws).mean(0)
        gain = _beta_information_gain(belief.concentration1, belief.concentration0)
        return argmax_random_ties(-(regret_estimate ** 2) / gain, generator)


class BanditHistory(NamedTuple):
    """What ``run_bandit`` returns: ``actions [R, T]`` (int64) and ``rewards [R, T]`` (float64)."""

    actions: torch.Tensor
    rewards: torch.Tensor


def run_bandit(agent: BanditAgent, bandit: Bandit, num_pulls: int, num_runs: int = 1, seed: int = 0,
               progress: bool | None = None) -> BanditHistory:
    """Play ``agent`` on ``bandit`` for ``num_pulls`` steps in ``num_runs`` independent runs at once.

    One seeded ``torch.Generator`` drives both the bandit and the agent; ``progress`` switches the tqdm
    bar (None: shown only for long runs). Returns ``BanditHistory(actions [R, T], rewards [R, T])``."""
    if not isinstance(agent, BanditAgent):
        raise TypeError(f"agent must be a BanditAgent (e.g. UCB1()), got {type(agent).__name__}")
    if not isinstance(bandit, Bandit):
        raise TypeError(f"bandit must be a BernoulliBandit or GaussianBandit, got {type(bandit).__name__}")
    if agent.bernoulli_only and not isinstance(bandit, BernoulliBandit):
        raise ValueError(f"{type(agent).__name__} models rewards in {{0, 1}}: use it on a BernoulliBandit, "
                         f"got {type(bandit).__name__}")
    num_pulls = check_positive_integer(num_pulls, "num_pulls")
    num_runs = check_positive_integer(num_runs, "num_runs")
    generator = torch.Generator().manual_seed(check_seed(seed))
    agent.reset(num_runs, bandit.num_arms)
    actions = torch.empty(num_runs, num_pulls, dtype=torch.long)
    rewards = torch.empty(num_runs, num_pulls, dtype=DTYPE)
    work = num_runs * num_pulls * bandit.num_arms
    with progress_bar(num_pulls, progress, work, desc=type(agent).__name__) as bar:
        for t in range(num_pulls):
            actions[:, t] = agent.act(generator)
            rewards[:, t] = bandit._pull(actions[:, t], generator)
            agent.update(actions[:, t], rewards[:, t])
            bar.update(1)
    return BanditHistory(actions, rewards)


__all__ = [
    "KLUCB",
    "UCB1",
    "BanditAgent",
    "BanditHistory",
    "EpsilonGreedy",
    "InformationDirected",
    "ThompsonBeta",
    "ThompsonGaussian",
    "beta_information_gain",
    "kl_ucb_index",
    "run_bandit",
]
