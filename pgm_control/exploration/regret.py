r"""Regret curves, their confidence bands over runs, and the classical bounds (CS285 notes, "Exploration").

The notes define Reg(T) = T E[r(a*)] − Σ_{t=1}^T r(a_t). The curves here are the pseudo-regret, which
replaces each reward by its arm's mean: Reg(t) = t μ* − Σ_{s≤t} μ_{a_s} (the same expectation, less noise).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from pgm_control._checks import (
    DTYPE,
    as_float_tensor,
    as_index_tensor,
    check_finite,
    check_indices,
    check_real,
    check_shape,
)
from pgm_control.exploration.bandits import BernoulliBandit, bernoulli_kl


class RegretCurve(NamedTuple):
    """Regret over time, t = 1..T: ``per_run [R, T]`` and its ``mean``, ``lower``, ``upper`` bands [T]."""

    per_run: torch.Tensor
    mean: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor


def _normal_quantile(level: float) -> float:
    """z with P(|N(0, 1)| ≤ z) = level (1.96 for 0.95)."""
    return math.sqrt(2) * torch.erfinv(torch.tensor(level, dtype=DTYPE)).item()


def regret(actions, means, level: float = 0.95) -> RegretCurve:
    r"""Cumulative pseudo-regret Reg(t) = t μ* − Σ_{s≤t} μ_{a_s} of ``actions [R, T]`` on arms with
    ``means [A]``, with the band mean ± z·SE over the R runs (z = 1.96 for ``level`` 0.95; SE = sd/√R).
    Column t − 1 of every tensor is Reg(t)."""
    means = as_float_tensor(means, "means")
    check_shape(means, [None], "means", "[A] (one mean reward per arm)")
    check_finite(means, "means")
    actions = as_index_tensor(actions, "actions")
    check_shape(actions, [None, None], "actions", "[R, T] (runs × pulls)")
    check_indices(actions, means.numel(), "actions", " (arm indices)")
    return cumulative_regret(means.max() - means[actions], level)


def cumulative_regret(step_regret, level: float = 0.95) -> RegretCurve:
    r"""Cumulative regret Reg(t) = Σ_{s≤t} Δ_s from the per-step regrets ``step_regret [R, T]`` (e.g.
    Δ_s = max_a E[r | x_{s,a}] − E[r | x_{s,a_s}] in a contextual bandit), with the band mean ± z·SE over
    the R runs as in :func:`regret`. Column t − 1 of every tensor is Reg(t)."""
    step_regret = as_float_tensor(step_regret, "step_regret")
    check_shape(step_regret, [None, None], "step_regret", "[R, T] (runs × pulls)")
    check_finite(step_regret, "step_regret")
    level = check_real(level, "level", "a probability in (0, 1)")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    per_run = step_regret.cumsum(-1)
    mean = per_run.mean(0)
    num_runs = per_run.shape[0]
    sd = per_run.std(0) if num_runs > 1 else torch.zeros_like(mean)
    half_width = _normal_quantile(level) * sd / math.sqrt(num_runs)
    return RegretCurve(per_run, mean, mean - half_width, mean + half_width)


def _bernoulli_gaps(means) -> tuple[torch.Tensor, torch.Tensor, float]:
    means = BernoulliBandit(means).means  # validates: [A], probabilities
    best = means.max()
    suboptimal = means < best
    return means[suboptimal], best - means[suboptimal], float(best)


def lai_robbins_bound(means, t) -> torch.Tensor:
    r"""Lai & Robbins (1985) asymptotic lower bound on a consistent policy's regret on a Bernoulli bandit:

        Reg(t) ≳ Σ_{a: Δ_a > 0} Δ_a / KL(μ_a, μ*) · ln t,

    KL the Bernoulli divergence; ``t`` a number or a tensor of times (returned with its shape)."""
    sub_means, gaps, best = _bernoulli_gaps(means)
    coefficient = (gaps / bernoulli_kl(sub_means, torch.tensor(best, dtype=DTYPE))).sum()
    return coefficient * torch.log(_check_times(t))


def ucb1_bound(means, t) -> torch.Tensor:
    r"""Auer, Cesa-Bianchi & Fischer (2002), Theorem 1: UCB1's expected regret after t pulls is at most

        Σ_{a: Δ_a > 0} 8 ln t / Δ_a + (1 + π²/3) Σ_a Δ_a."""
    _, gaps, _ = _bernoulli_gaps(means)
    return (8 / gaps).sum() * torch.log(_check_times(t)) + (1 + math.pi ** 2 / 3) * gaps.sum()


def _check_times(t) -> torch.Tensor:
    t = as_float_tensor(t, "t")
    if t.numel() and not bool((t >= 1).all()):
        raise ValueError(f"t must hold times >= 1 (numbers of pulls), got minimum {t.min().item()}")
    return t


def plot_regret(curves: dict, means=None, ax=None):
    """Draw each ``RegretCurve`` of ``curves`` (label → curve) with its band, and, given Bernoulli
    ``means``, the Lai-Robbins and UCB1 bounds beside them. Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    length = 1
    for label, curve in curves.items():
        times = torch.arange(1, curve.mean.numel() + 1)
        ax.plot(times, curve.mean, label=label)
        ax.fill_between(times, curve.lower, curve.upper, alpha=0.25)
        length = max(length, curve.mean.numel())
    if means is not None:
        times = torch.arange(1, length + 1, dtype=DTYPE)
        ax.plot(times, lai_robbins_bound(means, times), "k--", label="Lai-Robbins lower bound")
        ax.plot(times, ucb1_bound(means, times), "k:", label="UCB1 upper bound")
    ax.set_xlabel("pulls t")
    ax.set_ylabel("regret Reg(t)")
    ax.legend()
    return ax


__all__ = ["RegretCurve", "cumulative_regret", "lai_robbins_bound", "plot_regret", "regret", "ucb1_bound"]
