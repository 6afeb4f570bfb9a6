r"""PEARL-style latent model on the point robot, beside a non-adaptive SAC on the task mixture and the
goal-known ("oracle") SAC (``pgm_control.meta.PEARL``; CS285 notes, "Meta-RL", "Latent Model").

    python benchmarks/bench_pearl.py                      # the full run
    python benchmarks/bench_pearl.py --quick              # a smoke run of seconds (tests/test_bench_transfer.py)
    python benchmarks/bench_pearl.py --iterations 300 --conditioning posterior --seeds 0 1

The family is ``point_robot_tasks(episode_length=10, max_step=0.2)``: goals on the unit half circle,
10 steps of at most 0.2 per coordinate, reward −‖s' − g‖. Every agent has the default
:class:`~pgm_control.meta.PEARLConfig` except ``conditioning``; an iteration is one prior and one
posterior episode in each of the 30 training tasks, then 25 gradient steps. Evaluation: 100 fresh
tasks (seed 12345), 3 episodes each with mean actions and posterior sampling (episode 1 z ~ p(z),
episode k z ~ q_φ(z | episodes 1..k−1)). "goal-seeking controller" is the hand-written a = clip(g − s),
the goal known, as a reference for the oracle. Columns: mean return per episode ± its standard error
over the 100 tasks, and the wall time of training.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Table, library_version, load_average

from pgm_control.meta import PEARL, PEARLConfig, point_robot_tasks

EVAL_TASKS, EVAL_EPISODES, EVAL_SEED = 100, 3, 12345


def controller_returns(family, num_tasks: int, seed: int) -> torch.Tensor:
    """Returns ``[num_tasks]`` of a = clip(g − s) with the goal known."""
    tasks = family.sample(num_tasks, torch.Generator().manual_seed(seed))
    states, total = family.reset(num_tasks), torch.zeros(num_tasks, dtype=torch.float64)
    for _ in range(family.episode_length):
        states, rewards = family.step(tasks, states, family.goals(tasks) - states)
        total += rewards
    return total


def cell(values: torch.Tensor) -> str:
    return f"{values.mean():.2f} ± {values.std() / values.numel() ** 0.5:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of seconds")
    parser.add_argument("--iterations", type=int, default=None, help="training iterations (default 200)")
    parser.add_argument("--conditioning", nargs="+", default=["posterior", "none", "oracle"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    iterations = 2 if args.quick else (args.iterations or 200)
    overrides = dict(num_train_tasks=4, hidden=(16,), encoder_hidden=(16,), gradient_steps=2) if args.quick else {}
    family = point_robot_tasks(episode_length=10, max_step=0.2)
    print(f"# PEARL-style latent model on the point robot{' (--quick)' if args.quick else ''}\n")
    print(f"{library_version()}; {load_average()}; {iterations} iterations\n")
    table = Table(["agent", "seed", "gradient steps", *(f"episode {k + 1}" for k in range(EVAL_EPISODES)), "train s"],
                  "lrr" + "r" * EVAL_EPISODES + "r")
    reference = controller_returns(family, EVAL_TASKS, EVAL_SEED)
    table.row("goal-seeking controller", "-", "-", *([cell(reference)] * EVAL_EPISODES), "-")
    for conditioning in args.conditioning:
        for seed in args.seeds:
            config = PEARLConfig(conditioning=conditioning, **overrides)
            agent = PEARL(family, config, seed=seed)
            began = time.perf_counter()
            agent.train(iterations, progress=False)
            elapsed = time.perf_counter() - began
            returns = agent.evaluate(EVAL_TASKS, EVAL_EPISODES, seed=EVAL_SEED)
            table.row(conditioning, seed, iterations * config.gradient_steps,
                      *(cell(returns[:, k]) for k in range(EVAL_EPISODES)), f"{elapsed:.0f}")
    print(f"\n{load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
