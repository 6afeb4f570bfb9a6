r"""Benchmark of the RND exploration bonus: deep soft Q-learning on Deep Sea, with and without it.

    python benchmarks/bench_deep_exploration.py            # the full run (3 seeds, N = 16, 4000 steps, 2 jobs)
    python benchmarks/bench_deep_exploration.py --quick    # a smoke run (tests/test_bench_deep_exploration.py)
    python benchmarks/bench_deep_exploration.py --size 20 --steps 6000 --seeds 5 --bonus-scale 10

The task is ``pgm_control/DeepSea-v0`` (bsuite's Deep Sea with one-hot observations,
:func:`pgm_control.envs.deep_sea_env`): the treasure 1 waits behind N ``right`` moves, each costing
0.01/N, so a dithering policy finds it with probability about 2^{-N} per episode (N = 16: 1/65 536).
Each run trains :class:`~pgm_control.rl.SoftQ` for ``--steps`` environment steps (N steps an episode)
from one seed, once without a bonus (the Boltzmann policy's own dithering, α = 0.1) and once with
``exploration_bonus="rnd"`` (random network distillation, r + β b(s'), ``--bonus-scale`` β = 3),
everything else equal: two hidden layers of 64, batch 64, N · 20 uniform random warm-up steps, the
other fields :class:`~pgm_control.rl.SoftQConfig`'s defaults.

Reported per run: the environment step of the first training episode that found the treasure
(return > 0.5), the number of such episodes, the reachable cells visited (of N(N+1)/2), the greedy
policy's return at the end (one episode: the environment is deterministic), and "solved" when that
return is above 0.5 (the optimal return is 0.99). Why β = 3 (seed 0 or 1, one run each): with β = 1
the bonus agent visited 76 of the 78 reachable cells of N = 12 but never the treasure in 8000 steps;
with β = 10 it found the treasure within 750 steps on N = 12 and N = 16 but kept exploring: on N = 16
its greedy policy solved 1 of 3 seeds after 4000 steps (seed 1 after 6000), where β = 3 solved seed 1
in 4000.

Runs go ``--jobs`` at a time (default 2) in separate processes, each with one torch thread; wall
times include process start. The 1-minute load average is printed before and after.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import gymnasium
import numpy as np
import torch
from _report import Table, cpu_name, library_version, load_average

from pgm_control.envs import DEEP_SEA_ID
from pgm_control.rl import SoftQ, SoftQConfig

SUCCESS = 0.5  # a return above it found the treasure (1 minus at most 0.01 of move costs)
AGENTS = ("no bonus", "RND bonus")


@dataclass
class Run:
    agent: str
    seed: int
    first_success: int | None  # the environment step at which the first successful episode ended
    successes: int
    cells: int
    final_return: float
    wall: float

    @property
    def solved(self) -> bool:
        return self.final_return > SUCCESS


def config(agent: str, size: int, bonus_scale: float, hidden: tuple[int, ...]) -> SoftQConfig:
    return SoftQConfig(hidden=hidden, batch_size=64, learning_starts=20 * size, eval_every=0,
                       exploration_bonus="rnd" if agent == "RND bonus" else None, bonus_scale=bonus_scale)


def run_one(agent: str, seed: int, size: int, steps: int, bonus_scale: float, hidden: tuple[int, ...]) -> Run:
    """Train one agent on Deep Sea of the given size; the record of its run."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    learner = SoftQ(gymnasium.make(DEEP_SEA_ID, size=size), config(agent, size, bonus_scale, hidden), seed=seed)
    history = learner.train(steps, progress=False)
    wall = time.perf_counter() - start
    found = np.asarray(history.episode_returns) > SUCCESS
    first = history.episode_steps[int(np.argmax(found))] if found.any() else None
    visited = learner.buffer.observations[:len(learner.buffer)].argmax(-1)
    return Run(agent, seed, first, int(found.sum()), len(torch.unique(visited)),
               float(learner.evaluate(1)[0]), wall)


def summary(runs: list[Run], steps: int) -> None:
    print("\n| agent | found the treasure | solved (greedy at the end) | median steps to first treasure | "
          "mean cells visited | mean wall s |")
    print("|---|---:|---:|---:|---:|---:|")
    for agent in AGENTS:
        mine = [r for r in runs if r.agent == agent]
        median = np.median([np.inf if r.first_success is None else r.first_success for r in mine])
        shown = f"> {steps}" if np.isinf(median) else f"{median:.0f}"
        print(f"| {agent} | {sum(r.first_success is not None for r in mine)}/{len(mine)} | "
              f"{sum(r.solved for r in mine)}/{len(mine)} | {shown} | {np.mean([r.cells for r in mine]):.1f} | "
              f"{np.mean([r.wall for r in mine]):.1f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=16, help="Deep Sea's N (default 16)")
    parser.add_argument("--steps", type=int, default=4000, help="environment steps per run (default 4000)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..K-1 per agent (default 3)")
    parser.add_argument("--bonus-scale", type=float, default=3.0, help="β of r + β b(s') (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one process each (default 2)")
    parser.add_argument("--quick", action="store_true", help="N = 4, 200 steps, 1 seed, small networks")
    args = parser.parse_args(argv)
    size, steps, seeds, hidden = args.size, args.steps, args.seeds, (64, 64)
    if args.quick:
        size, steps, seeds, hidden, args.jobs = 4, 200, 1, (16,), 1
    reachable = size * (size + 1) // 2
    print(f"# Deep exploration: SoftQ on {DEEP_SEA_ID} (N = {size}), {steps} steps, seeds 0..{seeds - 1}, "
          f"β = {args.bonus_scale}")
    print(f"{datetime.date.today()}, {cpu_name()}, {platform.python_version()}, torch {torch.__version__}, "
          f"{library_version()}, {args.jobs} job(s); {load_average()} before\n")
    table = Table(["agent", "seed", "first treasure at step", "treasures", f"cells (of {reachable})",
                   "final greedy return", "solved", "wall s"], "llrrrrlr")
    jobs = [(agent, seed, size, steps, args.bonus_scale, hidden) for seed in range(seeds) for agent in AGENTS]
    start = time.perf_counter()
    runs = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for r in pool.map(run_one, *zip(*jobs, strict=True)):  # in order, each as soon as it and those before end
            runs.append(r)
            table.row(r.agent, r.seed, "never" if r.first_success is None else r.first_success, r.successes, r.cells,
                      f"{r.final_return:.3f}", "yes" if r.solved else "no", f"{r.wall:.1f}")
    summary(runs, steps)
    print(f"\ntotal wall {time.perf_counter() - start:.0f} s; {load_average()} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
