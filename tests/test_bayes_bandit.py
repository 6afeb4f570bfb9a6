"""Exact Bayesian bandit values: hand-computed horizons 1 and 2, an independent recursion in exact
rational arithmetic (Thompson's probabilities by Evan Miller's closed form for two Beta variables),
Thompson's value against a Monte Carlo simulation, and Bayes-optimal >= every other policy."""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pytest
import torch

from pgm_control.exploration.bayes import bayes_bandit_value, bayes_optimal_bandit

UNIFORM = ([1, 1], [1, 1])


def test_horizon_one_is_the_prior_mean_of_the_chosen_arm():
    for policy in ("bayes_optimal", "thompson", "greedy", "ucb1"):
        assert bayes_bandit_value(policy, *UNIFORM, horizon=1) == pytest.approx(0.5, abs=1e-14)
    # Prior means 2/3 and 1/4: greedy and Bayes-optimal both take the first arm.
    prior = ([2, 1], [1, 3])
    assert bayes_bandit_value("greedy", *prior, horizon=1) == pytest.approx(2 / 3, abs=1e-15)
    assert bayes_bandit_value("bayes_optimal", *prior, horizon=1) == pytest.approx(2 / 3, abs=1e-15)
    # UCB1 has tried nothing: it picks uniformly, (2/3 + 1/4) / 2.
    assert bayes_bandit_value("ucb1", *prior, horizon=1) == pytest.approx(11 / 24, abs=1e-15)


def test_horizon_two_by_hand():
    # Bayes-optimal / greedy: pull arm 1 (1/2); after a success (1/2) pull it again (mean 2/3), after a
    # failure switch to the untouched arm (1/2): 1/2 + 1/2 · 2/3 + 1/2 · 1/2 = 13/12.
    assert bayes_bandit_value("bayes_optimal", *UNIFORM, horizon=2) == pytest.approx(13 / 12, abs=1e-14)
    assert bayes_bandit_value("greedy", *UNIFORM, horizon=2) == pytest.approx(13 / 12, abs=1e-14)
    # Thompson: after a success P(Beta(2,1) > U) = ∫ 2x · x dx = 2/3, so the second pull pays
    # 2/3 · 2/3 + 1/3 · 1/2 = 11/18; after a failure P(Beta(1,2) > U) = 1/3, paying 1/9 + 1/3 = 4/9:
    # 1/2 + (11/18 + 4/9) / 2 = 37/36.
    assert bayes_bandit_value("thompson", *UNIFORM, horizon=2) == pytest.approx(37 / 36, abs=1e-14)
    # UCB1 pulls each arm once: 1/2 + 1/2.
    assert bayes_bandit_value("ucb1", *UNIFORM, horizon=2) == pytest.approx(1.0, abs=1e-14)


# ---- An independent recursion in exact arithmetic (two arms) -----------------------------------------


def beta_fn(a: int, b: int) -> Fraction:
    return Fraction(math.factorial(a - 1) * math.factorial(b - 1), math.factorial(a + b - 1))


def prob_second_larger(a1: int, b1: int, a2: int, b2: int) -> Fraction:
    """P(X2 > X1), X_i ~ Beta(a_i, b_i), integers (Evan Miller, "Formulas for Bayesian A/B testing")."""
    return sum((beta_fn(a1 + i, b1 + b2) / ((b2 + i) * beta_fn(1 + i, b2) * beta_fn(a1, b1))
                for i in range(a2)), Fraction(0))


def exact_value(policy: str, alpha, beta, horizon: int) -> Fraction:
    """V_π(b, h) by plain memoized recursion over (s1, f1, s2, f2) with Fractions."""

    @lru_cache(maxsize=None)
    def value(s1, f1, s2, f2, h):
        if h == 0:
            return Fraction(0)
        a = (alpha[0] + s1, alpha[1] + s2)
        b = (beta[0] + f1, beta[1] + f2)
        p = [Fraction(a[i]) / (a[i] + b[i]) for i in range(2)]
        succ = [value(s1 + 1, f1, s2, f2, h - 1), value(s1, f1, s2 + 1, f2, h - 1)]
        fail = [value(s1, f1 + 1, s2, f2, h - 1), value(s1, f1, s2, f2 + 1, h - 1)]
        q = [p[i] * (1 + succ[i]) + (1 - p[i]) * fail[i] for i in range(2)]
        if policy == "bayes_optimal":
            return max(q)
        if policy == "thompson":
            second = prob_second_larger(a[0], b[0], a[1], b[1])
            return (1 - second) * q[0] + second * q[1]
        if policy == "greedy":
            return q[0] if p[0] > p[1] else q[1] if p[1] > p[0] else (q[0] + q[1]) / 2
        pulls = (s1 + f1, s2 + f2)  # ucb1
        if 0 in pulls:
            untried = [q[i] for i in range(2) if pulls[i] == 0]
            return sum(untried) / len(untried)
        index = [[s1, s2][i] / pulls[i] + math.sqrt(2 * math.log(sum(pulls)) / pulls[i]) for i in range(2)]
        return q[0] if index[0] > index[1] else q[1] if index[1] > index[0] else (q[0] + q[1]) / 2

    return value(0, 0, 0, 0, horizon)


@pytest.mark.parametrize("policy", ["bayes_optimal", "thompson", "greedy", "ucb1"])
@pytest.mark.parametrize("prior", [([1, 1], [1, 1]), ([1, 3], [2, 1])])
def test_against_an_exact_rational_recursion(policy, prior):
    horizon = 7
    expected = float(exact_value(policy, *prior, horizon))
    assert bayes_bandit_value(policy, *prior, horizon=horizon) == pytest.approx(expected, abs=1e-13)


def test_bayes_optimal_with_non_integer_priors_against_the_recursion():
    prior = ([0.5, 2.5], [0.5, 1.5])
    expected = float(exact_value("bayes_optimal", [Fraction(x) for x in prior[0]],
                                 [Fraction(x) for x in prior[1]], 6))
    assert bayes_bandit_value("bayes_optimal", *prior, horizon=6) == pytest.approx(expected, abs=1e-13)


# ---- Monte Carlo -------------------------------------------------------------------------------------


def test_thompson_exact_value_against_monte_carlo():
    alpha, beta, horizon, runs = np.array([1.0, 2.0, 1.0]), np.array([1.0, 1.0, 3.0]), 8, 200_000
    rng = np.random.default_rng(0)
    means = rng.beta(alpha, beta, size=(runs, 3))
    successes, failures = np.zeros((runs, 3)), np.zeros((runs, 3))
    total = np.zeros(runs)
    rows = np.arange(runs)
    for _ in range(horizon):
        arm = rng.beta(alpha + successes, beta + failures).argmax(1)
        reward = rng.random(runs) < means[rows, arm]
        successes[rows, arm] += reward
        failures[rows, arm] += ~reward
        total += reward
    # 200,000 runs of 8 pulls: SE = sd / sqrt(n) ≈ 2.3 / 447 ≈ 0.005; a correct value lies within 4 SE
    # with probability 1 − 6e-5 (fixed seed, so the test is deterministic).
    standard_error = total.std() / np.sqrt(runs)
    exact = bayes_bandit_value("thompson", alpha, beta, horizon=horizon)
    assert abs(total.mean() - exact) < 4 * standard_error


# ---- Orderings, callables, the policy table -----------------------------------------------------------


@pytest.mark.parametrize("prior, horizon", [(([1, 1], [1, 1]), 12), (([1, 2, 1], [1, 1, 2]), 6)])
def test_bayes_optimal_beats_every_other_policy(prior, horizon):
    best = bayes_bandit_value("bayes_optimal", *prior, horizon=horizon)
    others = [bayes_bandit_value(p, *prior, horizon=horizon) for p in ("thompson", "greedy", "ucb1")]
    assert all(other <= best + 1e-12 for other in others)
    assert min(others) < best - 1e-3  # the comparison has teeth: some policy is strictly worse


def test_a_callable_equal_to_greedy_gives_the_same_value():
    alpha, beta = torch.tensor([1.0, 2.0]), torch.tensor([2.0, 1.0])

    def greedy(successes, failures):
        means = (alpha + successes) / (alpha + beta + successes + failures)
        best = (means == means.max()).double()
        return best / best.sum()

    expected = bayes_bandit_value("greedy", alpha, beta, horizon=6)
    assert bayes_bandit_value(greedy, alpha, beta, horizon=6) == pytest.approx(expected, abs=1e-14)


def test_the_optimal_policy_table():
    horizon = 5
    result = bayes_optimal_bandit(*UNIFORM, horizon=horizon)
    assert result.value == pytest.approx(bayes_bandit_value("bayes_optimal", *UNIFORM, horizon), abs=1e-14)
    assert result.action_values([0, 0], [0, 0]).max().item() == pytest.approx(result.value, abs=1e-14)
    # Level t holds C(t + 3, 3) count vectors (t pulls spread over 4 counts).
    assert [q.shape for q in result.q] == [(math.comb(t + 3, 3), 2) for t in range(horizon)]
    assert result.policy([0, 0], [0, 0]).tolist() == [0.5, 0.5]  # symmetric: a tie
    assert result.policy([0, 0], [1, 0]).tolist() == [0.0, 1.0]  # arm 1 failed: try arm 2
    with pytest.raises(ValueError, match="fewer than horizon=5"):
        result.policy([3, 0], [2, 0])


def test_two_arms_horizon_fifty_is_fast_and_ordered():
    values = {p: bayes_bandit_value(p, *UNIFORM, horizon=50) for p in ("bayes_optimal", "thompson", "ucb1")}
    assert values["ucb1"] < values["thompson"] < values["bayes_optimal"] < 50 * 2 / 3  # E[max μ] = 2/3


@pytest.mark.parametrize("call, error, message", [
    (lambda: bayes_bandit_value("greedy", [1, 1], [1], 3), ValueError, "prior_failures must have shape"),
    (lambda: bayes_bandit_value("greedy", [1, 0], [1, 1], 3), ValueError, "prior_successes must be positive"),
    (lambda: bayes_bandit_value("greedy", [1, 1], [1, float("nan")], 3), ValueError, "must be finite"),
    (lambda: bayes_bandit_value("greedy", [1, 1], [1, 1], 0), ValueError, "horizon must be a positive"),
    (lambda: bayes_bandit_value("softmax", [1, 1], [1, 1], 3), ValueError, "policy must be one of"),
    (lambda: bayes_bandit_value(3, [1, 1], [1, 1], 3), TypeError, "policy must be one of"),
    (lambda: bayes_bandit_value("thompson", [0.5, 1], [1, 1], 3), ValueError, "integer prior_successes"),
    (lambda: bayes_bandit_value(lambda s, f: torch.ones(3) / 3, [1, 1], [1, 1], 2), ValueError,
     r"policy\(successes, failures\) must have shape"),
    (lambda: bayes_bandit_value(lambda s, f: torch.ones(2), [1, 1], [1, 1], 2), ValueError, "must sum to 1"),
    (lambda: bayes_bandit_value("greedy", [1] * 4, [1] * 4, 60), ValueError, "belief states"),
])
def test_bad_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()
