r"""Benchmark of inference in the Pyro optimality model: exact enumeration and SVI, each checked against
the exact solvers run in the same process.

    python benchmarks/bench_pyro.py                  # the full run recorded in benchmarks/README.md
    python benchmarks/bench_pyro.py --quick          # a smoke run of a few seconds (tests/test_bench_pyro.py)
    python benchmarks/bench_pyro.py --skip-svi --threads 2

Cases (float64, temperature α = 1, uniform action prior):

1. Enumeration versus T. ``enumerate_log_evidence(mdp, T)`` (``TraceEnum_ELBO`` on
   ``optimality_hmm_model``: actions summed out, s_1 enumerated, s_2..s_T one ``DiscreteHMM`` site) on
   ``random_mdp(10, 4, branching=3, seed=0)``, on the 5 x 6 gridworld of case 2 and on
   ``random_mdp(100, 4, branching=10, seed=0)`` as successor lists and dense, for
   T = 25, 50, 100, 200, 400, 1000: time (best of 5), time per step, the |difference| to the
   hand-written messages ``log_evidence(mdp, T)`` (timed too; must be <= 1e-10, else exit status 1)
   and a least-squares line time = a + b T. Linear cost means a constant time per step and
   time(200)/time(25) near 200/25 = 8.
2. SVI time-to-accuracy on

       GridWorld(["......", ".S.X..", "......", "..X.G.", "......"], step_reward=-2.0,
                 goal_reward=0.0, trap_reward=-10.0, slip=0.1),   T = 10,

   against π* = ``soft_value_iteration(mdp, 10, backup="expected").policy`` (the optimum of the
   ELBO over policies with the dynamics held fixed). Accuracy is the mean KL under q's own visitation,

       KL(q) = (1/T) Σ_t Σ_s d_t^q(s) KL(q_t(·|s) ‖ π*_t(·|s)),     d^q = state_distributions(mdp, q),

   evaluated exactly after every SVI step (evaluation time is not counted). With the expected backup,
   log π*_t = log p(a|s) + Q_t - V_t and Q_t = r + E[V_{t+1}], so the ELBO telescopes to

       ELBO(π*) - ELBO(q) = T · KL(q)          (exact; ``elbo`` is checked against it, tolerance 1e-10).

   The loop steps ``policy_svi`` (the SVI object ``fit_policy`` steps: same model, guide, loss and
   learning-rate schedule over the step cap) so the KL can be read after each step, with
   ``pyro.set_rng_seed(seed)`` (``--seed``, 0 by default)
   after clearing the parameter store, two untimed warm-up steps on a throwaway guide first. So each row
   is ``fit_policy(..., num_steps=cap)`` watched step by step. A run stops when KL <= 0.005, or at
   the cap (1500 steps or 120 s of SVI time), reported as "not reached".

Timing: ``time.perf_counter``; ``torch.set_num_threads(1)`` unless ``--threads N`` (the tensors are
small, so a second thread only adds barriers; see benchmarks/README.md). The machine's 1-minute load
average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from functools import partial

import numpy as np
import pyro
import torch
from _report import Agreement, Table, cpu_name, load_average

from pgm_control import TabularMDP
from pgm_control.envs import GridWorld, random_mdp
from pgm_control.inference import (
    elbo,
    enumerate_log_evidence,
    log_evidence,
    policy_svi,
    soft_value_iteration,
    state_distributions,
)
from pgm_control.models import AmortizedPolicyGuide, TabularPolicyGuide

# Largest |difference| accepted between enumeration and the messages (DiscreteHMM multiplies T
# log-matrices in a tree, the messages step backwards; measured ≤ 3e-11 up to T = 1000).
ENUMERATION_TOL = 1e-10
# Largest |ELBO gap - T · KL| accepted: an exact identity evaluated in float64 (terms of order 10).
IDENTITY_TOL = 1e-10
KL_TARGETS = (0.02, 0.005)
GRID_MAP = ["......", ".S.X..", "......", "..X.G.", "......"]
SVI_HORIZON = 10
WARM_UP_STEPS = 2  # untimed SVI steps on a throwaway guide before each run


@dataclass(frozen=True)
class SviRun:
    guide: str  # "tabular" or "amortized"
    estimator: str  # "causal" or "tracegraph"
    num_trajectories: int
    lr: float
    final_lr: float


@dataclass(frozen=True)
class Config:
    horizons: tuple[int, ...]
    ratio: tuple[int, int]  # report time(ratio[1]) / time(ratio[0])
    repeats: int  # best of
    svi_runs: tuple[SviRun, ...]
    max_steps: int
    max_seconds: float


FULL = Config(
    horizons=(25, 50, 100, 200, 400, 1000), ratio=(25, 200), repeats=5,
    svi_runs=(SviRun("tabular", "causal", 256, 0.1, 0.005),
              SviRun("tabular", "causal", 1024, 0.1, 0.005),
              SviRun("tabular", "tracegraph", 256, 0.1, 0.005),
              SviRun("amortized", "causal", 1024, 0.01, 0.001)),
    max_steps=1500, max_seconds=120.0,
)
QUICK = Config(
    horizons=(4, 8, 16), ratio=(4, 16), repeats=1,
    svi_runs=(SviRun("tabular", "causal", 64, 0.1, 0.005),
              SviRun("tabular", "tracegraph", 64, 0.1, 0.005),
              SviRun("amortized", "causal", 64, 0.01, 0.001)),
    max_steps=4, max_seconds=2.0,
)


# ---------------------------------------------------------------------------- helpers

def best_of(function, repeats: int):
    """(best wall time in seconds, result) over `repeats` calls."""
    best, result = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.4f}" if seconds < 0.1 else f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def machine_facts() -> str:
    cpu = cpu_name()
    return (f"{datetime.date.today().isoformat()}; {cpu}; {os.cpu_count()} cores; "
            f"Python {platform.python_version()}; torch {torch.__version__} "
            f"({torch.get_num_threads()} threads); Pyro {pyro.__version__}; {load_average()}")


def svi_grid() -> GridWorld:
    return GridWorld(GRID_MAP, step_reward=-2.0, goal_reward=0.0, trap_reward=-10.0, slip=0.1)


# ---------------------------------------------------------------------------- 1. enumeration

def linear_fit(horizons: list[int], seconds: list[float]) -> tuple[float, float]:
    """Least-squares intercept a and slope b of seconds = a + b T."""
    slope, intercept = np.polyfit(np.asarray(horizons, dtype=float), np.asarray(seconds), 1)
    return float(intercept), float(slope)


def enumeration_case(config: Config, agreement: Agreement) -> None:
    print(f"### Enumeration versus T: `enumerate_log_evidence` against `log_evidence` "
          f"(best of {config.repeats})\n")
    mdps = {"random S=10 A=4 K=3": random_mdp(10, 4, branching=3, seed=0),
            f"grid {len(GRID_MAP)}×{len(GRID_MAP[0])} (S=30, slip 0.1)": svi_grid(),
            "random S=100 A=4 K=10": random_mdp(100, 4, branching=10, seed=0),
            "random S=100 A=4 K=10 dense": random_mdp(100, 4, branching=10, seed=0).to_dense()}
    table = Table(["MDP", "T", "enumeration (s)", "per step (ms)", "log_evidence (s)", "enumeration / messages",
                   "max abs diff"], "lrrrrrr")
    fits = []
    for name, mdp in mdps.items():
        enumerate_log_evidence(mdp, 2)  # warm-up: Pyro's first trace builds its caches
        log_evidence(mdp, 2)
        times = []
        for T in config.horizons:
            seconds, value = best_of(partial(enumerate_log_evidence, mdp, T), config.repeats)
            ref_seconds, ref_value = best_of(partial(log_evidence, mdp, T), config.repeats)
            agree = agreement.check(f"{name} T={T} enumerate_log_evidence vs log_evidence",
                                    abs(float(value) - float(ref_value)), ENUMERATION_TOL)
            times.append(seconds)
            table.row(name, T, fmt_seconds(seconds), f"{1000 * seconds / T:.2f}", fmt_seconds(ref_seconds),
                      f"{seconds / ref_seconds:.2g}×", agree)
        fits.append((name, times))

    first, last = config.ratio
    print(f"\nLinear fit time = a + b T over T = {', '.join(map(str, config.horizons))}:\n")
    table = Table(["MDP", "slope b (ms/step)", "intercept a (ms)",
                   f"time({last}) / time({first}) (linear: {last / first:g})"], "lrrr")
    for name, times in fits:
        intercept, slope = linear_fit(list(config.horizons), times)
        by_horizon = dict(zip(config.horizons, times))
        table.row(name, f"{1000 * slope:.2f}", f"{1000 * intercept:.1f}",
                  f"{by_horizon[last] / by_horizon[first]:.1f}")


# ---------------------------------------------------------------------------- 2. SVI

def mean_kl(mdp: TabularMDP, log_q: torch.Tensor, log_pi_star: torch.Tensor) -> float:
    r"""(1/T) Σ_t Σ_s d_t^q(s) KL(q_t(·|s) ‖ π*_t(·|s)); log_q, log_pi_star ``[T, S, A]``."""
    q = log_q.exp()
    visits = state_distributions(mdp, q)  # [T, S]
    kl = (q * (log_q - log_pi_star)).sum(-1)  # [T, S]; log_q is a log_softmax, finite
    return float((visits * kl).sum() / log_q.shape[0])


@dataclass
class SviResult:
    hits: dict  # KL target -> (steps, SVI seconds)
    steps: int
    seconds: float
    initial_kl: float
    final_kl: float
    final_gap: float
    identity_error: float  # max over evaluations of |ELBO gap - T · KL|


def new_svi(mdp: TabularMDP, run: SviRun, config: Config, seed: int):
    """A fresh guide and its SVI, after clearing the store and seeding (a used AmortizedPolicyGuide keeps
    its weights, so the guide is rebuilt too)."""
    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    T = SVI_HORIZON
    guide = TabularPolicyGuide(mdp, T) if run.guide == "tabular" else AmortizedPolicyGuide(mdp, T)
    return guide, policy_svi(guide, run.num_trajectories, config.max_steps, lr=run.lr, final_lr=run.final_lr,
                             estimator=run.estimator)


def evaluate(mdp: TabularMDP, guide, log_pi_star: torch.Tensor, elbo_star: float) -> tuple[float, float]:
    """(KL(q), ELBO(π*) - ELBO(q)) of the guide's current policy, both exact."""
    with torch.no_grad():
        log_q = guide.log_policy().detach()
    return mean_kl(mdp, log_q, log_pi_star), elbo_star - float(elbo(mdp, SVI_HORIZON, log_q.exp()))


def svi_case_run(mdp: TabularMDP, run: SviRun, config: Config, log_pi_star: torch.Tensor,
                 elbo_star: float, seed: int = 0) -> SviResult:
    """One SVI run, read after every step, until KL <= the last target or the cap."""
    T = SVI_HORIZON
    guide, svi = new_svi(mdp, run, config, seed)
    for _ in range(WARM_UP_STEPS):  # Pyro's and torch's first calls build caches; not timed
        svi.step(mdp, T, run.num_trajectories, 1.0, None)
    guide, svi = new_svi(mdp, run, config, seed)

    kl, gap = evaluate(mdp, guide, log_pi_star, elbo_star)
    initial_kl, identity_error = kl, abs(gap - T * kl)
    hits, seconds, steps = {}, 0.0, 0
    while steps < config.max_steps and seconds < config.max_seconds and len(hits) < len(KL_TARGETS):
        start = time.perf_counter()
        svi.step(mdp, T, run.num_trajectories, 1.0, None)
        seconds += time.perf_counter() - start
        steps += 1
        kl, gap = evaluate(mdp, guide, log_pi_star, elbo_star)
        identity_error = max(identity_error, abs(gap - T * kl))
        for target in KL_TARGETS:
            if kl <= target and target not in hits:
                hits[target] = (steps, seconds)
    return SviResult(hits, steps, seconds, initial_kl, kl, gap, identity_error)


def svi_case(config: Config, agreement: Agreement, seed: int) -> None:
    mdp, T = svi_grid(), SVI_HORIZON
    star = soft_value_iteration(mdp, T, backup="expected")
    log_pi_star = star.log_policy
    elbo_star = float(elbo(mdp, T, star.policy))
    print(f"\n### SVI time-to-accuracy (grid {len(GRID_MAP)}×{len(GRID_MAP[0])}, S={mdp.num_states}, "
          f"T={T}; cap {config.max_steps} steps or {config.max_seconds:g} s of SVI time; seed {seed})\n")
    print(f"ELBO(π*) = {elbo_star:.4f}, log p(O) = {float(log_evidence(mdp, T)):.4f}\n")
    k1, k2 = KL_TARGETS
    table = Table(["guide", "estimator", "N", "lr → final", "s/step", f"steps to KL ≤ {k1}", "seconds",
                   f"steps to KL ≤ {k2}", "seconds", "KL at start → end (steps)", "ELBO gap at end"],
                  "lllrrrrrrll")
    for run in config.svi_runs:
        result = svi_case_run(mdp, run, config, log_pi_star, elbo_star, seed)
        label = f"{run.guide} {run.estimator} N={run.num_trajectories}"
        agreement.check(f"SVI {label}: ELBO(π*) - ELBO(q) vs T · KL(q), every step", result.identity_error,
                        IDENTITY_TOL)
        cells = []
        for target in KL_TARGETS:
            if target in result.hits:
                steps, seconds = result.hits[target]
                cells += [str(steps), fmt_seconds(seconds)]
            else:
                cells += ["not reached", "—"]
        table.row(run.guide, f"`{run.estimator}`", run.num_trajectories, f"{run.lr:g} → {run.final_lr:g}",
                  f"{result.seconds / max(result.steps, 1):.3f}", *cells,
                  f"{result.initial_kl:.3f} → {result.final_kl:.4f} ({result.steps})", f"{result.final_gap:.4f}")
    print("\nKL: (1/T) Σ_t Σ_s d_t^q(s) KL(q_t(·|s) ‖ π*_t(·|s)) after each step; seconds: SVI steps only "
          "(the exact evaluation is not counted); a run stops at KL ≤ 0.005 or at the cap.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of a few seconds")
    parser.add_argument("--skip-enumeration", action="store_true", help="leave out the enumeration timings")
    parser.add_argument("--skip-svi", action="store_true", help="leave out the SVI runs")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads(N) (default 1: the tensors are small, see the README)")
    parser.add_argument("--seed", type=int, default=0, help="pyro.set_rng_seed for every SVI run (default 0)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = QUICK if args.quick else FULL

    print(f"# pgm_control Pyro inference{' (--quick)' if args.quick else ''}\n")
    print(f"machine: {machine_facts()}\n")
    agreement = Agreement()
    start = time.perf_counter()
    if not args.skip_enumeration:
        enumeration_case(config, agreement)
    if not args.skip_svi:
        svi_case(config, agreement, args.seed)
    print()
    agreement.report()
    print(f"total {time.perf_counter() - start:.0f} s; {load_average()} at the end")
    return 1 if agreement.failures else 0


if __name__ == "__main__":
    sys.exit(main())
