r"""Benchmark of Soft Actor-Critic on Pendulum-v1: pgm_control's ``SAC`` beside stable-baselines3's.

    python benchmarks/bench_sac.py                   # the full run recorded in benchmarks/README.md
    python benchmarks/bench_sac.py --quick           # a smoke run of seconds (tests/test_bench_sac.py)
    python benchmarks/bench_sac.py --skip-sb3 --variants v2 v1 --seeds 1

Each run trains one agent for ``--steps`` environment steps (20 000) from one seed and evaluates it
with the deterministic policy (the squashed mean action) on 10 episodes, episode i reset with seed
``seed + 10_000 + i`` (pgm_control's ``SAC.evaluate`` protocol, copied for SB3), at step 0, every
``--eval-every`` steps (1000) and at the end; the final evaluation is the reported return. Runs go
one at a time, seeds in turn and libraries alternating within a seed (pgm_control v2, SB3, pgm_control
v1 for seed 0, then seed 1, ...), so a drift of the machine's load hits every library alike.
``--ray [ADDRESS]`` runs the same (library, seed) runs as Ray tasks instead, one CPU each, on a local
Ray or on the cluster at ADDRESS (``benchmarks/_sweep.py``; wall times then depend on what shares
the machines).

Hyperparameters are pgm_control's ``SACConfig()`` defaults, and SB3's SAC gets the same ones
(``benchmarks/_sb3_sac.py`` maps the names): two ReLU hidden layers of 256 in every network, Adam
lr 1e-3 for every loss, batch 256, buffer 10^6, γ 0.99, τ 0.005, 1000 uniform random warm-up steps,
one gradient step per environment step, automatic temperature from α = 1 with target entropy
-dim A (v2); v1 keeps α = 1 fixed. Where the two still differ (read from both sources):

* The entropy target: -dim A in each library's own action units. pgm_control's log π is the
  density of the action in the environment's units (Pendulum's torque in [-2, 2], log π includes
  -log 2), SB3's that of the action rescaled to [-1, 1]; so pgm_control's target H̄ = -1 is SB3's
  -1 - log 2 ≈ -1.69 (a less random policy).
* The temperature loss: pgm_control descends J(α) = E[-α (log π + H̄)] in log α (gradient
  α (H - H̄)), SB3 descends E[-log α (log π + H̄)] (gradient H - H̄): the same sign, steps α times
  larger in SB3's.
* The order within a gradient step: SB3 updates α first, then Q, then π; pgm_control Q, π, then α.
  SB3's actor loss also back-propagates into the critics' weights (the gradients are discarded);
  pgm_control freezes them.
* SB3 starts updating after ``learning_starts`` + 1 steps, pgm_control after ``learning_starts``.

Timing: ``time.perf_counter`` from before the agent is built to the end of training, less the
evaluations (pgm_control trains in chunks of ``--eval-every`` steps, which equals one call,
``train(a); train(b) == train(a + b)``; SB3 evaluates from a callback whose time is subtracted).
``torch.set_num_threads(1)`` on both sides (``--threads``). SB3 runs in ``benchmarks/.venv-sb3``
(see benchmarks/README.md) through ``benchmarks/_sb3_sac.py``, one process per run; process start
and imports are not timed. The 1-minute load average is printed before and after every run.

The learning curves (evaluation return against steps, mean ± std over seeds, each seed thin) go to
``--plot`` (default ``benchmarks/bench_sac_pendulum.png``; none in ``--quick`` unless given).
``--profile`` adds a cProfile of a few hundred pgm_control update steps.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import json
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import gymnasium
import numpy as np
import torch
from _report import Table, cpu_name, library_version, load_average
from _sweep import add_ray_argument, sweep

from pgm_control.rl import SAC, SACConfig
from pgm_control.rl.training import EVAL_SEED_OFFSET

HERE = Path(__file__).resolve().parent
SB3_PYTHON = HERE / ".venv-sb3" / "bin" / "python"
SB3_HELPER = HERE / "_sb3_sac.py"
DEFAULT_PLOT = HERE / "bench_sac_pendulum.png"
ENV_ID = "Pendulum-v1"
TARGET_RETURN = -200.0  # the return SAC must reach on Pendulum-v1 within the budget


@dataclass
class Run:
    """One training run: its learning curve, final evaluation and timings."""

    library: str  # "pgm_control v2", "pgm_control v1", "stable-baselines3"
    seed: int
    steps: int
    seconds: float  # build + training, evaluations excluded
    eval_seconds: float
    eval_steps: list[int] = field(default_factory=list)
    eval_returns: list[float] = field(default_factory=list)
    eval_stds: list[float] = field(default_factory=list)
    final_returns: list[float] = field(default_factory=list)
    temperature: float = float("nan")
    versions: dict = field(default_factory=dict)  # SB3's venv
    load: tuple[float, float] = (float("nan"), float("nan"))  # 1-minute load average before, after

    @property
    def final_return(self) -> float:
        return float(np.mean(self.final_returns))


# ---------------------------------------------------------------------------- the runs

def timed_evaluation(agent: SAC, episodes: int) -> tuple[np.ndarray, float]:
    """``agent.evaluate(episodes)`` (deterministic) and the seconds it took."""
    start = time.perf_counter()
    returns = agent.evaluate(episodes)
    return returns, time.perf_counter() - start


def run_pgm_control(config: SACConfig, seed: int, steps: int, eval_every: int, eval_episodes: int) -> Run:
    """Train pgm_control's SAC in chunks of ``eval_every`` steps, evaluating between chunks (untimed)."""
    start = time.perf_counter()
    agent = SAC(gymnasium.make(ENV_ID), config, seed=seed)
    run = Run(f"pgm_control {config.variant}", seed, 0, 0.0, 0.0)
    while True:
        returns, seconds = timed_evaluation(agent, eval_episodes)
        run.eval_seconds += seconds
        run.eval_steps.append(agent.step)
        run.eval_returns.append(float(returns.mean()))
        run.eval_stds.append(float(returns.std()))
        if agent.step >= steps:
            break
        agent.train(min(eval_every, steps - agent.step), progress=False)
    run.seconds = time.perf_counter() - start - run.eval_seconds
    run.steps, run.final_returns, run.temperature = agent.step, returns.tolist(), agent.temperature
    return run


def run_sb3(config: SACConfig, seed: int, steps: int, eval_every: int, eval_episodes: int, threads: int) -> Run:
    """Train SB3's SAC in its venv through ``_sb3_sac.py`` with the same hyperparameters."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.json", Path(folder) / "out.json"
        source.write_text(json.dumps({
            **asdict(config), "env_id": ENV_ID, "seed": seed, "steps": steps, "eval_every": eval_every,
            "eval_episodes": eval_episodes, "eval_seed": seed + EVAL_SEED_OFFSET, "threads": threads,
        }))
        env = {**os.environ, **{name: str(threads) for name in
                                ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
        completed = subprocess.run([str(SB3_PYTHON), str(SB3_HELPER), str(source), str(target)],
                                   capture_output=True, text=True, check=False, env=env)
        if completed.returncode != 0:
            raise RuntimeError(f"SB3 helper failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
        out = json.loads(target.read_text())
    return Run("stable-baselines3", seed, out["steps"], out["seconds"], out["eval_seconds"], out["eval_steps"],
               out["eval_returns"], out["eval_stds"], out["final_returns"], out["temperature"], out["versions"])


def run_one(library: str, config: SACConfig, seed: int, steps: int, eval_every: int, eval_episodes: int,
            threads: int) -> Run:
    """One (library, seed) run, in this process or as a Ray task (``--ray``), with the load around it."""
    torch.set_num_threads(threads)
    load_before = os.getloadavg()[0]
    if library == "stable-baselines3":
        run = run_sb3(config, seed, steps, eval_every, eval_episodes, threads)
    else:
        run = run_pgm_control(replace(config, variant=library.split()[-1]), seed, steps, eval_every, eval_episodes)
    run.load = (load_before, os.getloadavg()[0])
    return run


# ---------------------------------------------------------------------------- reporting

def fmt_return(values) -> str:
    values = np.asarray(values, dtype=np.float64)
    return f"{values.mean():.1f} ± {values.std():.1f}" if len(values) > 1 else f"{values.mean():.1f}"


def machine_facts() -> str:
    return (f"{datetime.date.today().isoformat()}; {cpu_name()}; {os.cpu_count()} cores; "
            f"Python {platform.python_version()}; torch {torch.__version__} ({torch.get_num_threads()} threads); "
            f"gymnasium {gymnasium.__version__}; pgm_control at {library_version()}; {load_average()}")


def summary(runs: list[Run], libraries: list[str], table_steps: int) -> None:
    print(f"\n### Summary over seeds ({ENV_ID}, {table_steps} steps)\n")
    table = Table(["library", "seeds", "final return (mean ± std over seeds)", "per seed",
                   "wall s per run (mean, min–max)", "steps/s", "final α (mean)"], "llllrrr")
    for library in libraries:
        mine = [r for r in runs if r.library == library]
        if not mine:
            continue
        seconds = np.array([r.seconds for r in mine])
        table.row(library, len(mine), fmt_return([r.final_return for r in mine]),
                  ", ".join(f"{r.final_return:.1f}" for r in mine),
                  f"{seconds.mean():.1f} ({seconds.min():.1f}–{seconds.max():.1f})",
                  f"{np.mean([r.steps / r.seconds for r in mine]):.1f}",
                  f"{np.mean([r.temperature for r in mine]):.3f}")


def targets(runs: list[Run]) -> None:
    ours = [r for r in runs if r.library == "pgm_control v2"]
    theirs = [r for r in runs if r.library == "stable-baselines3"]
    if not ours:
        return
    mean = float(np.mean([r.final_return for r in ours]))
    print(f"\ntarget: pgm_control v2 final return {mean:.1f} (≥ {TARGET_RETURN:.0f}: "
          f"{'met' if mean >= TARGET_RETURN else 'NOT met'})")
    if theirs:
        sb3 = float(np.mean([r.final_return for r in theirs]))
        ours_s, sb3_s = np.mean([r.seconds for r in ours]), np.mean([r.seconds for r in theirs])
        print(f"target: return {mean:.1f} vs stable-baselines3 {sb3:.1f} "
              f"(as good or better: {'met' if mean >= sb3 else 'NOT met'}; difference {mean - sb3:+.1f})")
        print(f"target: wall time per run {ours_s:.1f} s vs stable-baselines3 {sb3_s:.1f} s "
              f"(no more: {'met' if ours_s <= sb3_s else 'NOT met'}; ratio {ours_s / sb3_s:.2f})")


def plot(runs: list[Run], libraries: list[str], path: Path, steps: int) -> None:
    """Evaluation return against steps: each seed thin, the mean over seeds ± std shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for color, library in zip(("C3", "C0", "C2"), libraries):
        mine = [r for r in runs if r.library == library]
        if not mine:
            continue
        for r in mine:
            ax.plot(r.eval_steps, r.eval_returns, color=color, lw=0.6, alpha=0.35)
        common = min(len(r.eval_steps) for r in mine)
        x = np.asarray(mine[0].eval_steps[:common])
        y = np.array([r.eval_returns[:common] for r in mine])
        ax.plot(x, y.mean(0), color=color, lw=2, label=f"{library} ({len(mine)} seeds)")
        ax.fill_between(x, y.mean(0) - y.std(0), y.mean(0) + y.std(0), color=color, alpha=0.15)
    ax.axhline(TARGET_RETURN, color="k", lw=0.8, ls="--", label=f"target {TARGET_RETURN:.0f}")
    ax.set(xlabel="environment steps", ylabel="evaluation return (10 episodes, deterministic)",
           title=f"SAC on {ENV_ID}, {steps} steps", ylim=(-1800, 0))
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"\nlearning curves: {path}")


def profile(config: SACConfig, updates: int, top: int = 20) -> None:
    """cProfile of ``updates`` environment steps of pgm_control's SAC, each with one gradient step."""
    agent = SAC(gymnasium.make(ENV_ID), replace(config, eval_every=0), seed=0)
    agent.train(config.learning_starts, progress=False)  # warm-up: random actions, no updates
    print(f"\n### cProfile: {updates} steps of pgm_control SAC {config.variant} after the warm-up "
          f"(one gradient step each)\n")
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    agent.train(updates, progress=False)
    profiler.disable()
    print(f"{(time.perf_counter() - start) / updates * 1000:.1f} ms per step under the profiler\n")
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime").print_stats(top)
    print("```text\n" + stream.getvalue().strip() + "\n```")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of seconds: 400 steps (200 warm-up), 1 seed, v2, no SB3, 2 eval episodes")
    parser.add_argument("--skip-sb3", action="store_true", help="leave out stable-baselines3")
    parser.add_argument("--steps", type=int, default=None, help="environment steps per run (default 20000)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds, 0..N-1 (default 3)")
    parser.add_argument("--variants", nargs="+", choices=("v2", "v1"), default=None,
                        help="pgm_control SAC variants to run (default: v2)")
    parser.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (default 1000)")
    parser.add_argument("--eval-episodes", type=int, default=None, help="episodes per evaluation (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads(N) on both sides (default 1)")
    parser.add_argument("--plot", type=Path, default=None,
                        help=f"learning-curve PNG (default {DEFAULT_PLOT.relative_to(HERE.parent)}; none with --quick)")
    add_ray_argument(parser)
    parser.add_argument("--profile", type=int, default=0, metavar="STEPS",
                        help="also cProfile this many pgm_control SAC steps after the warm-up")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        steps, seeds, eval_every, eval_episodes = 400, 1, 200, 2
        config = SACConfig(learning_starts=200, eval_every=0)
    else:
        steps, seeds, eval_every, eval_episodes = 20_000, 3, 1000, 10
        config = SACConfig(eval_every=0)  # the script evaluates, outside the timings; not train()
    steps = args.steps if args.steps is not None else steps
    seeds = args.seeds if args.seeds is not None else seeds
    eval_every = args.eval_every if args.eval_every is not None else eval_every
    eval_episodes = args.eval_episodes if args.eval_episodes is not None else eval_episodes
    variants = args.variants or ["v2"]
    plot_path = args.plot if args.plot is not None else (None if args.quick else DEFAULT_PLOT)
    with_sb3 = not (args.quick or args.skip_sb3)

    print(f"# SAC on {ENV_ID}{' (--quick)' if args.quick else ''}\n")
    print(f"machine: {machine_facts()}\n")
    if with_sb3 and not SB3_PYTHON.exists():
        print("stable-baselines3 not installed (see benchmarks/README.md)\n")
        with_sb3 = False
    shown = {k: v for k, v in asdict(config).items() if k not in ("variant", "eval_every", "eval_episodes")}
    print(f"hyperparameters (both libraries): {shown}; {steps} steps, seeds 0..{seeds - 1}, "
          f"evaluation every {eval_every} steps on {eval_episodes} episodes (deterministic)\n")
    libraries = [f"pgm_control {variants[0]}"] + (["stable-baselines3"] if with_sb3 else []) + \
        [f"pgm_control {v}" for v in variants[1:]]

    order = "one at a time, in this order" if args.ray is None else "Ray tasks, listed in this order"
    print(f"### Runs ({order}; final return: mean of {eval_episodes} evaluation episodes)\n")
    table = Table(["library", "seed", "final return", "wall s (eval excluded)", "steps/s", "eval s",
                   "final α", "load before → after"], "lrrrrrrl")
    start = time.perf_counter()
    configs = [{"library": library, "config": config, "seed": seed, "steps": steps, "eval_every": eval_every,
                "eval_episodes": eval_episodes, "threads": args.threads}
               for seed in range(seeds) for library in libraries]
    try:
        runs: list[Run] = sweep(run_one, configs, args.ray)
    except RuntimeError as error:  # SB3's helper failed (a Ray task error is also a RuntimeError)
        print(error)
        return 1
    for run in runs:
        table.row(run.library, run.seed, f"{run.final_return:.1f}", f"{run.seconds:.1f}",
                  f"{run.steps / run.seconds:.1f}", f"{run.eval_seconds:.1f}", f"{run.temperature:.3f}",
                  f"{run.load[0]:.2f} → {run.load[1]:.2f}")
    versions = next((run.versions for run in runs if run.versions), {})

    summary(runs, libraries, steps)
    if versions:
        print("\nstable-baselines3's venv: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    if not args.quick:
        targets(runs)
    print("\n### Learning curves (evaluation return; mean over seeds)\n")
    curve_steps = runs[0].eval_steps
    curve = Table(["step", *libraries], "r" + "r" * len(libraries))
    for i, step in enumerate(curve_steps):
        curve.row(step, *(fmt_return([r.eval_returns[i] for r in runs if r.library == lib and i < len(r.eval_returns)])
                          for lib in libraries))
    if plot_path is not None:
        plot(runs, libraries, plot_path, steps)
    if args.profile:
        profile(replace(config, variant=variants[0]), args.profile)
    print(f"\ntotal {time.perf_counter() - start:.0f} s; {load_average()} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
