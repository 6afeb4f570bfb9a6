r"""Exact values of bandit policies under a Beta prior: the bandit as a POMDP whose state is the belief
(CS285 notes, "Exploration", "Posterior Sampling").

Arm a of a Bernoulli bandit has mean μ_a ~ Beta(α_a, β_a), independently. After s_a successes and f_a
failures of arm a the belief is Beta(α_a + s_a, β_a + f_a), so the counts b = (s, f) are a sufficient
statistic: the belief state. The next reward of arm a is 1 with the posterior mean
p_a(b) = (α_a + s_a) / (α_a + β_a + s_a + f_a), and the expected total reward of a policy π over the
remaining h pulls obeys

    V_π(b, h) = Σ_a π(a | b) [ p_a(b) (1 + V_π(b + succ_a, h − 1)) + (1 − p_a(b)) V_π(b + fail_a, h − 1) ]
    V_*(b, h) = max_a       [ p_a(b) (1 + V_*(b + succ_a, h − 1)) + (1 − p_a(b)) V_*(b + fail_a, h − 1) ]

with V(b, 0) = 0. After t pulls the counts sum to t, so the belief states of level t are the
C(t + 2A − 1, 2A − 1) ways to spread t over 2A counts: polynomial in the horizon for a fixed number of
arms A. The recursion here runs backward over levels, each level one batch of tensors (the lookup of
b + succ_a and b + fail_a is a sorted search over integer codes of the counts).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    as_index_tensor,
    check_distribution,
    check_finite,
    check_horizon,
    check_shape,
)

POLICIES = ("bayes_optimal", "thompson", "greedy", "ucb1")
# Largest number of belief states (all levels together) the exact recursion will enumerate.
MAX_BELIEF_STATES = 20_000_000
# Actions whose values differ by at most this much count as tied in the optimal policy table.
TIE_TOL = 1e-12


@dataclass(frozen=True, eq=False)
class BayesBanditResult:
    r"""The Bayes-optimal bandit policy (from :func:`bayes_optimal_bandit`).

    ``value`` is V_*(b_0, H), the largest expected total reward over H pulls. ``q[t]`` ``[N_t, A]``
    holds the action values Q_*(b, a) of the N_t belief states of level t (t pulls made, t = 0..H−1),
    whose counts are decoded by :meth:`action_values` and :meth:`policy`."""

    value: float
    q: list[torch.Tensor]
    codes: list[torch.Tensor]
    radix: int
    horizon: int

    def action_values(self, successes, failures) -> torch.Tensor:
        """Q_*(b, a) ``[A]`` after observing ``successes`` ``[A]`` and ``failures`` ``[A]`` (counts above
        the prior) with fewer than ``horizon`` pulls in total."""
        num_arms = self.q[0].shape[-1]
        counts = torch.cat([_read_counts(successes, "successes", num_arms),
                            _read_counts(failures, "failures", num_arms)])
        level = int(counts.sum())
        if level >= self.horizon:
            raise ValueError(f"successes and failures must total fewer than horizon={self.horizon} pulls, "
                             f"got {level}")
        code = (counts * self.radix ** torch.arange(2 * num_arms)).sum()
        return self.q[level][torch.searchsorted(self.codes[level], code)]

    def policy(self, successes, failures) -> torch.Tensor:
        """π_*(a | b) ``[A]``: uniform over the actions within 1e-12 of the best Q_*(b, a)."""
        q = self.action_values(successes, failures)
        best = (q >= q.max() - TIE_TOL).to(DTYPE)
        return best / best.sum()


def bayes_bandit_value(policy: str | Callable, prior_successes, prior_failures, horizon: int) -> float:
    r"""Exact expected total reward of a policy over ``horizon`` pulls of a Bernoulli bandit with
    μ_a ~ Beta(prior_successes[a], prior_failures[a]) (CS285 notes, "Exploration"; module docstring).

    Args:
        policy: one of

            * ``"bayes_optimal"``: max_a in the recursion (the value of :func:`bayes_optimal_bandit`).
            * ``"thompson"``: π(a | b) = P(a = argmax_a' μ_a') under the posterior,
              = ∫_0^1 Beta(x; α_a + s_a, β_a + f_a) Π_{a' ≠ a} I_x(α_a' + s_a', β_a' + f_a') dx. For
              integer prior counts the integrand is a polynomial, integrated exactly by Gauss–Legendre
              quadrature (the CDFs I_x too), so the probabilities carry rounding error only (measured:
              within 4e-14 of Evan Miller's closed form over two arms and horizon 50); non-integer
              prior counts are refused with a ValueError.
            * ``"greedy"``: the largest posterior mean p_a(b), ties split evenly.
            * ``"ucb1"`` (Auer et al. 2002, "Finite-time analysis of the multiarmed bandit problem";
              the notes' "Optimistic Exploration"): from the observed counts only, not the prior —
              while some arm is untried (N(a) = s_a + f_a = 0) pull the untried arms uniformly;
              otherwise the index μ̂_a + sqrt(2 ln t / N(a)) with μ̂_a = s_a / N(a) and t = Σ_a N(a) the
              number of pulls made so far; ties (equal floating-point indices) split evenly.
            * a callable ``policy(successes, failures)`` from the observed counts (long tensors ``[A]``,
              counts above the prior) to action probabilities ``[A]``, called once per belief state.
        prior_successes, prior_failures: α ``[A]`` and β ``[A]``, positive (ones give uniform priors).
        horizon: H, the number of pulls (a positive integer).

    Example:
        >>> bayes_bandit_value("greedy", [1, 1], [1, 1], horizon=1)
        0.5
    """
    alpha, beta = _read_prior(prior_successes, prior_failures)
    horizon = check_horizon(horizon, required=True)
    chooser = _chooser(policy, alpha, beta, horizon)
    return _backward(alpha, beta, horizon, chooser)[0]


def bayes_optimal_bandit(prior_successes, prior_failures, horizon: int) -> BayesBanditResult:
    r"""The Bayes-optimal policy of a Beta–Bernoulli bandit and its value (CS285 notes, "Exploration":
    the bandit as a POMDP whose state is the belief), by the exact recursion

        V_*(b, h) = max_a [ p_a(b) (1 + V_*(b + succ_a, h − 1)) + (1 − p_a(b)) V_*(b + fail_a, h − 1) ]

    over the belief states b (module docstring). Returns a :class:`BayesBanditResult` with the value and
    the table of Q_*(b, a) for every belief state reached in fewer than ``horizon`` pulls.

    Example:
        >>> result = bayes_optimal_bandit([1, 1], [1, 1], horizon=2)
        >>> round(result.value, 12), result.policy([1, 0], [0, 0]).tolist()
        (1.083333333333, [1.0, 0.0])
    """
    alpha, beta = _read_prior(prior_successes, prior_failures)
    horizon = check_horizon(horizon, required=True)
    value, q, codes, radix = _backward(alpha, beta, horizon, _optimal)
    return BayesBanditResult(value=value, q=q, codes=codes, radix=radix, horizon=horizon)


# ----------------------------------------------------------------------------------------------------
# Validation


def _read_prior(prior_successes, prior_failures) -> tuple[torch.Tensor, torch.Tensor]:
    alpha = as_float_tensor(prior_successes, "prior_successes").detach()
    beta = as_float_tensor(prior_failures, "prior_failures").detach()
    check_shape(alpha, [None], "prior_successes", "α per arm [A]")
    check_shape(beta, [alpha.shape[0]], "prior_failures", "β per arm [A]")
    if alpha.shape[0] == 0:
        raise ValueError("prior_successes must name at least one arm, got an empty sequence")
    for tensor, name in ((alpha, "prior_successes"), (beta, "prior_failures")):
        check_finite(tensor, name)
        if (tensor <= 0).any():
            raise ValueError(f"{name} must be positive Beta parameters (ones give uniform priors), "
                             f"got {tensor.tolist()}")
    return alpha, beta


def _read_counts(counts, name: str, num_arms: int) -> torch.Tensor:
    counts = as_index_tensor(counts, name)
    check_shape(counts, [num_arms], name, "observed counts per arm [A]")
    if (counts < 0).any():
        raise ValueError(f"{name} must be non-negative counts, got {counts.tolist()}")
    return counts


def _chooser(policy, alpha: torch.Tensor, beta: torch.Tensor, horizon: int):
    """The action rule as a function (counts [N, 2A], q [N, A]) -> values [N]."""
    if callable(policy):
        return _callable_chooser(policy, alpha.shape[0])
    if not isinstance(policy, str):
        raise TypeError(f"policy must be one of {POLICIES} or a callable (successes, failures) -> probs, "
                        f"got {type(policy).__name__}")
    if policy == "bayes_optimal":
        return _optimal
    if policy == "greedy":
        return _stochastic(lambda counts: _split_ties(_posterior_mean(alpha, beta, counts)))
    if policy == "ucb1":
        return _stochastic(_ucb1_probs)
    if policy == "thompson":
        return _stochastic(_ThompsonProbabilities(alpha, beta, horizon))
    raise ValueError(f"policy must be one of {POLICIES} or a callable, got {policy!r}")


# ----------------------------------------------------------------------------------------------------
# The recursion over belief states


def _level_codes(num_counts: int, horizon: int, radix: int) -> list[torch.Tensor]:
    """Sorted integer codes Σ_i c_i radix^i of the count vectors c of each level t = 0..H."""
    unit = radix ** torch.arange(num_counts)
    levels = [torch.zeros(1, dtype=torch.long)]
    for _ in range(horizon):
        levels.append(torch.unique(levels[-1][:, None] + unit).contiguous())
    return levels


def _decode(codes: torch.Tensor, num_counts: int, radix: int) -> torch.Tensor:
    """Counts ``[N, 2A]`` (successes then failures) from codes ``[N]``."""
    return codes[:, None].div(radix ** torch.arange(num_counts), rounding_mode="floor") % radix


def _backward(alpha: torch.Tensor, beta: torch.Tensor, horizon: int, choose):
    """V(b_0, H) by backward induction over levels; also the Q tables and codes of levels 0..H−1."""
    num_arms = alpha.shape[0]
    num_counts = 2 * num_arms
    _require_tractable(num_counts, horizon)
    radix = horizon + 1
    codes = _level_codes(num_counts, horizon, radix)
    unit = radix ** torch.arange(num_counts)
    v_next = torch.zeros(codes[horizon].shape[0], dtype=DTYPE)
    q_tables = [None] * horizon
    for t in range(horizon - 1, -1, -1):
        counts = _decode(codes[t], num_counts, radix)
        p = _posterior_mean(alpha, beta, counts)
        after = torch.searchsorted(codes[t + 1], codes[t][:, None] + unit)
        v_success, v_failure = v_next[after[:, :num_arms]], v_next[after[:, num_arms:]]
        q = p * (1.0 + v_success) + (1.0 - p) * v_failure
        q_tables[t] = q
        v_next = choose(counts, q)
    return v_next.item(), q_tables, codes[:horizon], radix


def _require_tractable(num_counts: int, horizon: int) -> None:
    total = math.comb(horizon + num_counts, num_counts)  # count vectors with total <= H
    if total > MAX_BELIEF_STATES or (horizon + 1) ** num_counts >= 2**62:
        raise ValueError(
            f"{num_counts // 2} arms over horizon={horizon} make {total:,} belief states, more than the "
            f"{MAX_BELIEF_STATES:,} the exact recursion enumerates: use fewer arms or a shorter horizon"
        )


def _posterior_mean(alpha: torch.Tensor, beta: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """p_a(b) = (α_a + s_a) / (α_a + β_a + s_a + f_a), ``[N, A]``."""
    num_arms = alpha.shape[0]
    successes, failures = counts[:, :num_arms], counts[:, num_arms:]
    return (alpha + successes) / (alpha + beta + successes + failures)


def _optimal(counts: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return q.max(-1).values


def _stochastic(probs_of_counts):
    """A chooser V(b) = Σ_a π(a | b) Q(b, a) from a rule counts ``[N, 2A]`` -> π ``[N, A]``."""
    def choose(counts, q):
        return (probs_of_counts(counts) * q).sum(-1)
    return choose


def _split_ties(scores: torch.Tensor) -> torch.Tensor:
    """Uniform over the maxima of each row of ``scores`` ``[N, A]``."""
    best = (scores == scores.max(-1, keepdim=True).values).to(DTYPE)
    return best / best.sum(-1, keepdim=True)


def _ucb1_probs(counts: torch.Tensor) -> torch.Tensor:
    """UCB1 from the observed counts: untried arms first, then μ̂_a + sqrt(2 ln t / N(a))."""
    num_arms = counts.shape[-1] // 2
    pulls = (counts[:, :num_arms] + counts[:, num_arms:]).to(DTYPE)
    untried = pulls == 0
    t = pulls.sum(-1, keepdim=True)
    index = counts[:, :num_arms] / pulls + torch.sqrt(2.0 * torch.log(t) / pulls)
    scores = torch.where(untried.any(-1, keepdim=True), untried.to(DTYPE), index)
    return _split_ties(scores)


def _callable_chooser(policy, num_arms: int):
    def probs_of_counts(counts):
        rows = []
        for row in counts:
            probs = as_float_tensor(policy(row[:num_arms].clone(), row[num_arms:].clone()), "policy(...)")
            check_shape(probs, [num_arms], "policy(successes, failures)", "action probabilities [A]")
            check_distribution(probs, "policy(successes, failures)", "probabilities over the A arms")
            rows.append(probs)
        return torch.stack(rows)
    return _stochastic(probs_of_counts)


class _ThompsonProbabilities:
    r"""P(arm a's posterior sample is the largest) for batches of belief states, by Gauss–Legendre
    quadrature on [0, 1] with enough nodes to be exact for the polynomial integrands of integer counts:

        P_a(b) = ∫_0^1 f_a(x) Π_{a' ≠ a} F_a'(x) dx,   F(x) = x ∫_0^1 f(x u) du,

    f and F the posterior Beta densities and CDFs. Both are tabulated once per arm for every
    (s_a, f_a) with s_a + f_a <= H, at the quadrature nodes."""

    def __init__(self, alpha: torch.Tensor, beta: torch.Tensor, horizon: int):
        if not (torch.equal(alpha, alpha.round()) and torch.equal(beta, beta.round())):
            raise ValueError(
                "policy='thompson' needs integer prior_successes and prior_failures (its probabilities are "
                f"then exact polynomial integrals), got {alpha.tolist()} and {beta.tolist()}"
            )
        self.num_arms = alpha.shape[0]
        # Degree of f_a Π F_a' <= Σ (α + β) + H − A − 1; n nodes integrate degree 2n − 1 exactly.
        degree = int((alpha + beta).sum()) + horizon - self.num_arms - 1
        nodes, weights = (torch.as_tensor(z, dtype=DTYPE) for z in np.polynomial.legendre.leggauss(degree // 2 + 2))
        self.x, self.w = (nodes + 1) / 2, weights / 2  # mapped from [−1, 1] to [0, 1]
        counts = torch.arange(horizon + 1, dtype=DTYPE)
        a = alpha[:, None, None] + counts[:, None]  # [A, s, f]
        a, b = torch.broadcast_tensors(a, beta[:, None, None] + counts)
        self.density = _beta_density(a[..., None], b[..., None], self.x)  # [A, s, f, K]
        self.cdf = torch.stack([_beta_cdf(a[:, s], b[:, s], self.x, self.w) for s in range(horizon + 1)], 1)

    def __call__(self, counts: torch.Tensor) -> torch.Tensor:
        arms = torch.arange(self.num_arms)
        successes, failures = counts[:, :self.num_arms], counts[:, self.num_arms:]
        density = self.density[arms, successes, failures]  # [N, A, K]
        cdf = self.cdf[arms, successes, failures]
        others = cdf[:, None].expand(-1, self.num_arms, -1, -1).clone()  # [N, a, a', K]
        others[:, arms, arms] = 1.0
        return (density * others.prod(2) * self.w).sum(-1)


def _beta_cdf(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """I_x(a, b) = x ∫_0^1 Beta(x u; a, b) du at the nodes x ``[K]`` for parameters ``[...]``: ``[..., K]``
    (the inner integral by the same quadrature, one row of counts at a time to bound memory)."""
    inner = _beta_density(a[..., None, None], b[..., None, None], x[:, None] * x)
    return x * (inner * w).sum(-1)


def _beta_density(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    log_norm = torch.lgamma(a + b) - torch.lgamma(a) - torch.lgamma(b)
    return torch.exp(log_norm + (a - 1) * torch.log(x) + (b - 1) * torch.log1p(-x))
