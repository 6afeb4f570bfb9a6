r"""Grading checks of assignment 03, soft optimality and the optimism problem (Lecture 20, "How are these
messages related to RL?", "The problem of optimism in stochastic dynamics", "Optimal policy with respect
to ELBO"; CS285 notes, "Soft Optimality").

Same contract as :mod:`pgm_control.course.checks`: each check builds an instance from its seed, calls
the student's function and raises ``AssertionError`` naming the first wrong number.
"""

from __future__ import annotations

import math

import torch

from pgm_control._checks import DTYPE
from pgm_control.course.checks import _labeller, _pair, call, compare
from pgm_control.envs import random_mdp
from pgm_control.mdp import TabularMDP

TEMPERATURES = (0.5, 1.0, 2.0)
# Temperatures of the hard-limit check: the last one makes exp(Q/α) overflow unless the soft maximum
# is taken in log space.
SMALL_TEMPERATURES = (1.0, 0.1, 1e-3)
ELBO_TOLERANCE = 1e-8


def soft_instance(seed: int) -> tuple[TabularMDP, int, float]:
    """A random MDP (3-5 states, 2-3 actions, γ = 1), a horizon T in 2-5 and a temperature α from
    :data:`TEMPERATURES` (α = 1, the lecture's, for seed 0)."""
    generator = torch.Generator().manual_seed(seed)
    S = int(torch.randint(3, 6, (), generator=generator))
    A = int(torch.randint(2, 4, (), generator=generator))
    horizon = int(torch.randint(2, 6, (), generator=generator))
    temperature = 1.0 if seed == 0 else TEMPERATURES[int(torch.randint(3, (), generator=generator))]
    return random_mdp(S, A, seed=seed), horizon, temperature


def check_soft_value_iteration(soft_value_iteration, seed) -> None:
    r"""``soft_value_iteration(mdp, T, temperature, backup) -> (Q [T, S, A], V [T, S])`` for both
    backups, against :func:`pgm_control.inference.soft_value_iteration`."""
    from pgm_control.inference import soft_value_iteration as exact

    mdp, horizon, temperature = soft_instance(seed)
    for backup in ("expected", "optimistic"):
        q, v = _pair(call(soft_value_iteration, mdp, horizon, temperature, backup), "(Q, V)")
        truth = exact(mdp, horizon, temperature, backup)
        where = f" (backup={backup!r}, temperature={temperature:g})"
        compare("V" + where, v, truth.v, _labeller(mdp, "ts"))
        compare("Q" + where, q, truth.q, _labeller(mdp, "tsa"))


def check_soft_policy(soft_policy, seed) -> None:
    r"""``soft_policy(mdp, T, temperature) -> π_t(a|s) [T, S, A]`` (expected backup) at α = 1, 0.1 and
    10^-3, against the library; the smallest α needs log space (exp(Q/α) overflows)."""
    from pgm_control.inference import soft_value_iteration as exact

    mdp, horizon, _ = soft_instance(seed)
    for temperature in SMALL_TEMPERATURES:
        truth = exact(mdp, horizon, temperature, "expected").policy
        compare(f"π (temperature={temperature:g})", call(soft_policy, mdp, horizon, temperature), truth,
                _labeller(mdp, "tsa"))


def lottery_threshold(horizon: int, backup: str, temperature: float) -> float:
    r"""The win probability p* above which the soft policy gambles at the start of
    :func:`~pgm_control.envs.lottery_mdp` (default rewards: safe -1, jackpot 0, bust -3), in closed form.

    After the first step the three absorbing states pay r_x for n = T - 1 steps, so V_2(x) = n r_x for
    both backups, and π_1(gamble | start) > 1/2 iff Q_1(start, gamble) > Q_1(start, safe) = n r_safe:

        expected:    p·0 + (1 - p)(-3n) > -n                          =>  p* = 2/3
        optimistic:  α log(p e^{0} + (1 - p) e^{-3n/α}) > -n          =>  p* = (e^{-n/α} - e^{-3n/α}) / (1 - e^{-3n/α})
    """
    n = horizon - 1
    if backup == "expected":
        return 2.0 / 3.0
    return (math.exp(-n / temperature) - math.exp(-3 * n / temperature)) / -math.expm1(-3 * n / temperature)


def check_gamble_threshold(gamble_threshold, seed) -> None:
    r"""``gamble_threshold(T, backup, temperature) -> p*`` for both backups, against the closed form
    :func:`lottery_threshold` (to 1e-6)."""
    generator = torch.Generator().manual_seed(seed)
    horizon = 5 if seed == 0 else int(torch.randint(2, 7, (), generator=generator))
    temperature = 1.0 if seed == 0 else TEMPERATURES[int(torch.randint(3, (), generator=generator))]
    for backup in ("optimistic", "expected"):
        expected = torch.tensor(lottery_threshold(horizon, backup, temperature), dtype=DTYPE)
        compare(f"win-probability threshold (backup={backup!r}, T = {horizon}, temperature={temperature:g})",
                call(gamble_threshold, horizon, backup, temperature), expected)


def as_policy(policy, mdp: TabularMDP, horizon: int) -> torch.Tensor:
    """The student's policy as a float64 tensor ``[T, S, A]`` of probabilities, or a failure saying what
    is wrong with it."""
    shape = (horizon, mdp.num_states, mdp.num_actions)
    compare("q(a|s)", policy, torch.zeros(shape, dtype=DTYPE), tol=math.inf)  # None, not a tensor, wrong shape
    policy = torch.as_tensor(policy, dtype=DTYPE).detach()
    compare("Σ_a q(a|s)", policy.sum(-1), torch.ones(shape[:2], dtype=DTYPE), _labeller(mdp, "ts"))
    if bool((policy < 0).any()):
        raise AssertionError(f"q(a|s): got a negative probability, {float(policy.min()):.3g}")
    return policy


def check_elbo_optimal_policy(elbo_optimal_policy, seed) -> None:
    r"""``elbo_optimal_policy(mdp, T, temperature) -> q_t(a|s) [T, S, A]``: no perturbation of it may
    have a higher ELBO, and its ELBO must equal the optimum Σ_s p(s_1) V_1(s)/α of the expected backup
    (Lecture 20, "Optimal policy with respect to ELBO"), both by :func:`pgm_control.inference.elbo`."""
    from pgm_control.inference import elbo, soft_value_iteration

    mdp, horizon, temperature = soft_instance(seed)
    policy = as_policy(call(elbo_optimal_policy, mdp, horizon, temperature), mdp, horizon)
    value = float(elbo(mdp, horizon, policy, temperature=temperature))
    generator = torch.Generator().manual_seed(seed + 1)
    for _ in range(3):  # mix 5% of a random policy in: a first-order step off the student's policy
        noise = torch.rand(policy.shape, generator=generator, dtype=DTYPE)
        perturbed = 0.95 * policy + 0.05 * noise / noise.sum(-1, keepdim=True)
        better = float(elbo(mdp, horizon, perturbed, temperature=temperature))
        if better > value + 1e-12:
            raise AssertionError(f"a perturbed policy (5% of a random one mixed in) has a higher ELBO than "
                                 f"yours: {better:.6g} > {value:.6g}, so yours is not the maximizer")
    optimum = soft_value_iteration(mdp, horizon, temperature, "expected")
    best = float((mdp.initial * optimum.v[0]).sum()) / temperature
    if abs(value - best) > ELBO_TOLERANCE:  # ten digits: a near-optimal policy misses by ~1e-6
        raise AssertionError(f"ELBO of your policy (temperature={temperature:g}): got {value:.10g}, "
                             f"expected {best:.10g} ± {ELBO_TOLERANCE:g}, the maximum Σ_s p(s_1) V_1(s)/α "
                             f"(gap {best - value:.3g})")
