r"""Benchmark of meta-RL on exactly solvable task families: RL² beside the exact Bayes-optimal and oracle
values, MAML's post-adaptation return beside pretraining on all tasks, PEARL beside non-adaptive and
goal-known SAC.

    python benchmarks/bench_meta.py             # the full run recorded in benchmarks/README.md
    python benchmarks/bench_meta.py --quick     # a smoke run of seconds (tests/test_bench_meta.py)

Tables:

1. **RL²** (``train_rl2``, 1000 Adam steps; bandit: GRU 32 units, 256 trials per step, lr 0.01, entropy
   bonus 0.003; grid: GRU 64 units, 128 trials, lr 0.003, entropy bonus 0.01) on the Bernoulli bandit with
   Beta(1, 1) priors on 2 arms over 10 pulls (``beta_bandit_tasks``, exact for this horizon) and on grid
   navigation 3 × 3 (2 episodes of 4 steps). The return per trial is the mean over 5000 fresh trials
   (sampled actions) for each seed; the table gives the mean ± standard deviation over seeds, beside the
   exact Bayes-optimal value (``bayes_adaptive_value``), the oracle (the task known from the start) and
   the uniformly random policy (exact).
2. **Tabular MAML with exact gradients** (``train_tabular_maml``, grid navigation 3 × 3, one episode of
   4 steps, inner step α = 5 on the exact J_z, 300 Adam steps, lr 0.1): second-order MAML, first-order
   MAML and pretraining on all goals (``num_inner_steps=0``); E_z[J_z] before and after one inner step of
   the same α, exact (deterministic: no seeds).
3. **Point-robot MAML** (``train_point_robot_maml``: Gaussian policy, mean 0.1 · tanh(W s + b), fixed
   σ = 0.05; goals on the half circle, 20 steps; inner step α = 0.1 on 10 episodes; meta-batch 20; 300
   Adam steps of lr 0.02; second and first order) against pretraining on all goals with the same
   settings; the mean return per episode on 200 fresh goals before adaptation and after 1 and 3 inner
   steps of the same α, mean ± standard deviation over seeds.

4. **PEARL** on the point robot, beside a non-adaptive SAC on the task mixture and the goal-known SAC:
   ``bench_pearl.py`` (its docstring gives the protocol) run for the same seeds, 800 iterations (2 in the
   quick run); returns per episode of a trial (posterior sampling across episodes).

Timing: ``time.perf_counter`` around each training run, ``torch.set_num_threads(1)``; the 1-minute load
average is printed at the start and the end (the machine may be shared).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from dataclasses import dataclass

import torch
from _report import Table, cpu_name, library_version, load_average

from pgm_control.meta import (
    bayes_adaptive_value,
    beta_bandit_tasks,
    evaluate_point_robot,
    evaluate_rl2,
    grid_navigation_tasks,
    oracle_value,
    point_robot_tasks,
    tabular_maml_objective,
    train_point_robot_maml,
    train_rl2,
    train_tabular_maml,
)


@dataclass(frozen=True)
class Settings:
    """Step counts of a run (the quick run shrinks them and nothing else)."""

    rl2_bandit_iterations: int = 1000
    rl2_grid_iterations: int = 1000
    rl2_bandit_trials: int = 256
    rl2_grid_trials: int = 128
    evaluation_trials: int = 5000
    maml_tabular_iterations: int = 300
    maml_point_iterations: int = 300
    point_evaluation_tasks: int = 200


QUICK = Settings(rl2_bandit_iterations=3, rl2_grid_iterations=3, rl2_bandit_trials=16, rl2_grid_trials=16,
                 evaluation_trials=100,
                 maml_tabular_iterations=3, maml_point_iterations=2, point_evaluation_tasks=10)
BANDIT_PULLS = 10
GRID_SIZE, GRID_STEPS, GRID_EPISODES = 3, 4, 2
TABULAR_ALPHA = 5.0
POINT_ALPHA = 0.1


def mean_sd(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


@dataclass(frozen=True)
class RL2Setup:
    """One RL² row: the family, N episodes per trial and the training settings."""

    label: str
    family: object
    num_episodes: int
    iterations: int
    trials: int
    hidden_size: int
    lr: float
    entropy_bonus: float


def rl2_row(table: Table, setup: RL2Setup, settings: Settings, seeds: list[int]) -> None:
    family, num_episodes = setup.family, setup.num_episodes
    exact = bayes_adaptive_value(family, num_episodes)
    returns, seconds = [], []
    for seed in seeds:
        start = time.perf_counter()
        fit = train_rl2(family, num_episodes, num_iterations=setup.iterations, num_trials=setup.trials,
                        hidden_size=setup.hidden_size, lr=setup.lr, entropy_bonus=setup.entropy_bonus, seed=seed,
                        progress=False)
        seconds.append(time.perf_counter() - start)
        returns.append(evaluate_rl2(fit.agent, family, num_episodes, num_trials=settings.evaluation_trials,
                                    seed=1000 + seed).mean)
    gaps = [exact.value - value for value in returns]
    table.row(setup.label, f"RL² ({len(seeds)} seeds, {setup.iterations} iterations)", mean_sd(returns),
              f"{exact.value:.3f}", f"{exact.oracle_value:.3f}", f"{uniform_random_return(family, num_episodes):.3f}",
              mean_sd(gaps),
              f"{statistics.mean(seconds):.0f}")


def uniform_random_return(family, num_episodes: int) -> float:
    """The exact return of the uniform policy: E_z[N · J_z(θ = 0)]."""
    logits = torch.zeros(family.episode_length, family.num_states, family.num_actions, dtype=torch.float64)
    return float(num_episodes * tabular_maml_objective(logits, family, 0.0, 0).detach() @ family.prior)


def rl2_table(settings: Settings, seeds: list[int]) -> None:
    print("## RL² against the exact Bayes-optimal return\n")
    table = Table(["family", "agent", "return per trial", "Bayes-optimal", "oracle", "random", "gap to Bayes",
                   "s train (per seed)"], "llrrrrrr")
    bandit = beta_bandit_tasks([1.0, 1.0], [1.0, 1.0], num_pulls=BANDIT_PULLS)
    rl2_row(table, RL2Setup(f"Bernoulli bandit, Beta(1, 1) × 2 arms, {BANDIT_PULLS} pulls", bandit, BANDIT_PULLS,
                            settings.rl2_bandit_iterations, settings.rl2_bandit_trials, 32, 1e-2, 0.003),
            settings, seeds)
    grid = grid_navigation_tasks(GRID_SIZE, GRID_STEPS)
    rl2_row(table, RL2Setup(f"grid navigation {GRID_SIZE}×{GRID_SIZE}, {GRID_EPISODES} episodes × {GRID_STEPS} "
                            "steps", grid, GRID_EPISODES, settings.rl2_grid_iterations, settings.rl2_grid_trials,
                            64, 3e-3, 0.01), settings, seeds)
    print("\nThe bandit family is the Gauss–Jacobi discretization of the Beta(1, 1) prior (6 atoms per arm):")
    print("its Bayes-optimal value equals the Beta prior's over 10 pulls; its oracle is that of the atoms")
    print(f"(the Beta prior's oracle is 10 · E[max(μ_1, μ_2)] = 20/3 = {20 / 3:.3f}).\n")


def tabular_maml_table(settings: Settings) -> None:
    print(f"## Tabular MAML, exact gradients (grid navigation {GRID_SIZE}×{GRID_SIZE}, one episode of "
          f"{GRID_STEPS} steps, α = {TABULAR_ALPHA:g})\n")
    family = grid_navigation_tasks(GRID_SIZE, GRID_STEPS)
    table = Table(["initialization", "E_z J_z(θ) before", "E_z J_z(θ'_z) after one step", "oracle", "s train"],
                  "lrrrr")
    for label, steps, first_order in (("MAML (second order)", 1, False), ("MAML (first order)", 1, True),
                                      ("pretrained on all goals", 0, False)):
        start = time.perf_counter()
        fit = train_tabular_maml(family, inner_lr=TABULAR_ALPHA, num_inner_steps=steps, first_order=first_order,
                                 num_iterations=settings.maml_tabular_iterations, progress=False)
        seconds = time.perf_counter() - start
        before, after = (float(tabular_maml_objective(fit.logits, family, TABULAR_ALPHA, k).detach() @ family.prior)
                         for k in (0, 1))
        table.row(label, f"{before:.3f}", f"{after:.3f}", f"{oracle_value(family, 1):.3f}", f"{seconds:.1f}")
    print()


def point_robot_table(settings: Settings, seeds: list[int]) -> None:
    print(f"## Point-robot MAML (goals on the half circle, 20 steps, α = {POINT_ALPHA:g}, {len(seeds)} seeds)\n")
    family = point_robot_tasks()
    table = Table(["initialization", "return before", "after 1 step", "after 3 steps", "s train (per seed)"],
                  "lrrrr")
    for label, steps, first_order in (("MAML (second order)", 1, False), ("MAML (first order)", 1, True),
                                      ("pretrained on all goals", 0, False)):
        results: dict[int, list[float]] = {0: [], 1: [], 3: []}
        seconds = []
        for seed in seeds:
            start = time.perf_counter()
            fit = train_point_robot_maml(family, inner_lr=POINT_ALPHA, num_inner_steps=steps, first_order=first_order,
                                         lr=0.02, num_iterations=settings.maml_point_iterations, seed=seed,
                                         progress=False)
            seconds.append(time.perf_counter() - start)
            for k in results:
                results[k].append(float(evaluate_point_robot(
                    fit.params, family, inner_lr=POINT_ALPHA, num_inner_steps=k,
                    num_tasks=settings.point_evaluation_tasks, seed=1000 + seed).mean()))
        table.row(label, *(mean_sd(results[k]) for k in (0, 1, 3)), f"{statistics.mean(seconds):.0f}")
    print()


def pearl_table(settings: Settings, seeds: list[int]) -> None:
    import bench_pearl  # the PEARL experiment lives in its own script; run it here for the same seeds

    length = ["--quick"] if settings == QUICK else ["--iterations", "800"]
    bench_pearl.main([*length, "--seeds", *map(str, seeds)])
    print()


# Each table runs as table(settings, seeds); the tabular one is exact and deterministic (no seeds).
TABLES = {"rl2": rl2_table, "tabular-maml": lambda settings, seeds: tabular_maml_table(settings),
          "point-maml": point_robot_table, "pearl": pearl_table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny step counts: a smoke run of seconds")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per trained agent (default 3)")
    parser.add_argument("--tables", nargs="+", choices=sorted(TABLES), default=sorted(TABLES),
                        help="the tables to run (default: all)")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (the tables report a spread over seeds)")
    torch.set_num_threads(1)
    settings = QUICK if args.quick else Settings()
    seeds = list(range(args.seeds))
    start = time.perf_counter()
    print(f"# pgm_control meta-RL{' (--quick)' if args.quick else ''}\n")
    print(f"machine: {datetime.date.today().isoformat()}; {cpu_name()}; {os.cpu_count()} cores; torch "
          f"{torch.__version__} (1 thread); pgm_control at {library_version()}; {load_average()}\n")
    for name in ("rl2", "tabular-maml", "point-maml", "pearl"):
        if name in args.tables:
            TABLES[name](settings, seeds)
    print(f"total {time.perf_counter() - start:.0f} s; {load_average()} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
