"""Measurements of the tabular Q-learning explorers (a helper for the exploration benchmark).

RiverSwim(6), H = 20: mean cumulative regret over R runs after K episodes, with the seconds taken.
Deep Sea(N), H = N: episodes until each run first collects the treasure (return > 0.5), censored at a cap.

    python benchmarks/_q_exploration_measure.py [--episodes 500] [--runs 20] [--cap 2000]
"""

from __future__ import annotations

import argparse
import time

import torch
from _report import Table, load_average

from pgm_control.envs import deep_sea, riverswim
from pgm_control.exploration import (
    BootstrappedQ,
    CountBonusQ,
    DirichletDensity,
    EmpiricalDensity,
    EpsilonGreedyQ,
    PseudoCountQ,
    run_episodes,
)


def riverswim_agents() -> dict:
    return {
        "EpsilonGreedyQ(0.1)": EpsilonGreedyQ(0.1),
        "CountBonusQ(0.5)": CountBonusQ(0.5),
        "PseudoCountQ(0.5, EmpiricalDensity)": PseudoCountQ(0.5, EmpiricalDensity()),
        "PseudoCountQ(0.5, DirichletDensity(0.5))": PseudoCountQ(0.5, DirichletDensity(0.5)),
        "BootstrappedQ(10, p=1, σ=10)": BootstrappedQ(),
        "BootstrappedQ(10, p=0.5, σ=10)": BootstrappedQ(mask_probability=0.5),
    }


def deep_sea_agents() -> dict:
    return {"EpsilonGreedyQ(0.1)": EpsilonGreedyQ(0.1), "EpsilonGreedyQ(1) (uniform)": EpsilonGreedyQ(1.0),
            "BootstrappedQ()": BootstrappedQ(), "CountBonusQ(0.5)": CountBonusQ(0.5)}


def first_success(returns: torch.Tensor) -> torch.Tensor:
    """The 1-based episode of each run's first return > 0.5, ``[R]``; 0 where it never happened."""
    found = returns > 0.5
    return torch.where(found.any(-1), found.double().argmax(-1) + 1, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cap", type=int, default=2000)
    parser.add_argument("--sizes", default="5,10,15,20")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"RiverSwim(6), H = 20, {args.runs} runs, {args.episodes} episodes, seed 0; {load_average()}")
    table = Table(["agent", "regret mean", "± SE", "regret at K/2", "seconds"], "lrrrr")
    for name, agent in riverswim_agents().items():
        start = time.perf_counter()
        history = run_episodes(agent, riverswim(6), args.episodes, 20, num_runs=args.runs, seed=0, progress=False)
        final = history.regret[:, -1]
        table.row(name, f"{final.mean():.1f}", f"{final.std() / args.runs ** 0.5:.1f}",
                  f"{history.regret[:, args.episodes // 2 - 1].mean():.1f}", f"{time.perf_counter() - start:.1f}")
    print(f"\nDeep Sea(N), H = N, 10 runs, cap {args.cap} episodes (0 = not found); {load_average()}")
    table = Table(["N", "agent", "found", "median first episode", "per run", "seconds"], "rlrrlr")
    for size in map(int, args.sizes.split(",")):
        for name, agent in deep_sea_agents().items():
            start = time.perf_counter()
            history = run_episodes(agent, deep_sea(size), args.cap, size, num_runs=10, seed=0, progress=False)
            first = first_success(history.returns)
            found = first[first > 0]
            median = f"{found.median().item()}" if found.numel() == 10 else "> cap" if found.numel() < 6 else (
                f"{first.where(first > 0, args.cap + 1).median().item()}")
            table.row(size, name, f"{found.numel()}/10", median, first.tolist(), f"{time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
