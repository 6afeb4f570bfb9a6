r"""Benchmark of exploration (CS285 notes, "Exploration"): regret of bandit agents beside the Lai-Robbins
bound, and the speed of the batched bandit simulator.

    python benchmarks/bench_exploration.py                 # the full run recorded in benchmarks/README.md
    python benchmarks/bench_exploration.py --quick         # a smoke run (tests/test_bench_exploration.py)
    python benchmarks/bench_exploration.py --figure regret.png

Bandits. ``BernoulliBandit(μ = (0.5, 0.8, 0.3))``, T = 10^4 pulls in R = 1,000 independent runs at once
(``run_bandit``, seed 0), for ε-greedy (ε = 0.1), UCB1, KL-UCB (c = 0), Thompson sampling (Beta(1, 1)
priors) and information-directed sampling (Beta(1, 1) priors, 32 posterior draws). For each agent the
table gives the pseudo-regret Reg(T) = T μ* − Σ_t μ_{a_t} averaged over the runs with its 95% band
(± 1.96 SE over runs), its ratio to the Lai-Robbins bound Σ_a Δ_a / KL(μ_a, μ*) · ln T (asymptotic:
at finite T an agent may sit below it), the slope d Reg / d ln t over the last decade [T/10, T] (the
Lai-Robbins coefficient Σ_a Δ_a / KL(μ_a, μ*) ≈ 2.20 is the best possible asymptotic slope; linear
regret shows as a slope growing with T), the wall time and pulls × runs per second. A last row times
the simulator alone (``BernoulliBandit.pull`` of uniformly random arms, without an agent).

Peer: SMPyBandits (Besson 2018), the research simulator for bandits, in its own venv
``benchmarks/.venv-smpybandits`` (see benchmarks/README.md), runs the same UCB1 and Thompson experiment
through ``benchmarks/_smpybandits_bandit.py`` (its ``Evaluator``-free loop: one policy object per run,
``choice()`` / ``getReward()`` per pull, as its own ``Evaluator`` does). It plays runs one after another
in Python, so only ``--peer-runs`` runs (10 by default) are timed and its throughput is reported per
pull × run; its regret is printed for the same band check.

Exploration in MDPs: further sections (RiverSwim, DeepSea) append to ``SECTIONS`` below, each a function
of the parsed arguments that prints its own table.

Timing: ``time.perf_counter``; ``torch.set_num_threads(1)`` unless ``--threads N``. The 1-minute load
average is printed at the start and the end: other processes on the shared cores inflate the timings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
from _report import Table, cpu_name, library_version, load_average

from pgm_control.exploration import (
    KLUCB,
    UCB1,
    BernoulliBandit,
    EpsilonGreedy,
    InformationDirected,
    ThompsonBeta,
    lai_robbins_bound,
    plot_regret,
    regret,
    run_bandit,
)

HERE = Path(__file__).resolve().parent
SMPYBANDITS_PYTHON = HERE / ".venv-smpybandits" / "bin" / "python"
MEANS = (0.5, 0.8, 0.3)
AGENTS = {
    "ε-greedy (ε = 0.1)": lambda: EpsilonGreedy(0.1),
    "UCB1": UCB1,
    "KL-UCB": KLUCB,
    "Thompson (Beta)": ThompsonBeta,
    "IDS (Beta, 32 draws)": InformationDirected,
}
BANDIT_HEADER = ["agent", "runs", "T", "Reg(T)", "95% band", "Reg(T) / Lai-Robbins", "d Reg / d ln t",
                 "s", "pulls × runs / s"]


def log_slope(mean_curve: torch.Tensor) -> float:
    """d Reg / d ln t between t = T/10 and t = T, from the mean regret curve (column t − 1 is Reg(t))."""
    pulls = mean_curve.numel()
    first = max(pulls // 10, 1)
    return float((mean_curve[pulls - 1] - mean_curve[first - 1]) / math.log(pulls / first))


def simulator_throughput(pulls: int, runs: int) -> tuple[float, float]:
    """Seconds and pulls × runs / s of ``BernoulliBandit.pull`` alone, uniformly random arms."""
    bandit, generator = BernoulliBandit(MEANS), torch.Generator().manual_seed(0)
    actions = torch.randint(len(MEANS), (pulls, runs), generator=generator)
    start = time.perf_counter()
    for t in range(pulls):
        bandit.pull(actions[t], generator)
    seconds = time.perf_counter() - start
    return seconds, pulls * runs / seconds


def run_peer(pulls: int, runs: int) -> dict | None:
    """SMPyBandits' UCB1 and Thompson on the same bandit (``_smpybandits_bandit.py`` in its venv)."""
    if not SMPYBANDITS_PYTHON.exists():
        print("\nSMPyBandits not installed (see benchmarks/README.md): peer rows left out")
        return None
    request = json.dumps({"means": MEANS, "pulls": pulls, "runs": runs, "seed": 0})
    completed = subprocess.run([str(SMPYBANDITS_PYTHON), str(HERE / "_smpybandits_bandit.py")], input=request,
                               capture_output=True, text=True, check=False,
                               env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    if completed.returncode != 0:
        print(f"\nSMPyBandits failed:\n{completed.stderr[-2000:]}")
        return None
    return json.loads(completed.stdout.strip().splitlines()[-1])


def bandit_section(args) -> None:
    """Regret of the five bandit agents beside the Lai-Robbins bound; simulator and peer throughput."""
    pulls, runs = args.pulls, args.runs
    bound = lai_robbins_bound(MEANS, float(pulls)).item()
    print(f"\n## Bernoulli bandit μ = {MEANS}, T = {pulls:,}, {runs:,} runs\n")
    print(f"Lai-Robbins bound at T: {bound:.2f} (coefficient Σ Δ_a / KL(μ_a, μ*) = {bound / math.log(pulls):.3f})\n")
    table = Table(BANDIT_HEADER, "lrrrrrrrr")
    curves = {}
    for label, make in AGENTS.items():
        start = time.perf_counter()
        history = run_bandit(make(), BernoulliBandit(MEANS), pulls, runs, seed=0, progress=False)
        seconds = time.perf_counter() - start
        curve = regret(history.actions, MEANS)
        final, half = curve.mean[-1].item(), (curve.upper[-1] - curve.mean[-1]).item()
        table.row(label, f"{runs:,}", f"{pulls:,}", f"{final:.2f}", f"± {half:.2f}", f"{final / bound:.2f}",
                  f"{log_slope(curve.mean):.2f}", f"{seconds:.2f}", f"{pulls * runs / seconds:,.0f}")
        curves[label] = curve._replace(per_run=curve.per_run[:0])  # the bands suffice for the figure
        del history
    seconds, rate = simulator_throughput(pulls, runs)
    table.row("simulator alone (random arms)", f"{runs:,}", f"{pulls:,}", "", "", "", "", f"{seconds:.2f}",
              f"{rate:,.0f}")
    if not args.skip_peer:
        peer = run_peer(pulls, args.peer_runs)
        if peer is not None:
            for label, result in peer["agents"].items():
                rate = pulls * args.peer_runs / result["seconds"]
                table.row(f"SMPyBandits {peer['version']} {label}", f"{args.peer_runs:,}", f"{pulls:,}",
                          f"{result['regret']:.2f}", f"± {result['half_width']:.2f}",
                          f"{result['regret'] / bound:.2f}", "", f"{result['seconds']:.2f}", f"{rate:,.0f}")
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        ax = plot_regret(curves, means=MEANS)
        ax.set_xscale("log")
        ax.set_title(f"Bernoulli bandit μ = {MEANS}, {runs:,} runs (95% bands)")
        ax.figure.savefig(args.figure, dpi=120, bbox_inches="tight")
        print(f"\nfigure: {args.figure}")


# Each section is a function of the parsed arguments that prints its own table; MDP sections append here.
SECTIONS = [bandit_section]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="T = 300 pulls, 50 runs, 3 peer runs")
    parser.add_argument("--pulls", type=int, default=None, help="T (default 10,000)")
    parser.add_argument("--runs", type=int, default=None, help="runs of each agent (default 1,000)")
    parser.add_argument("--peer-runs", type=int, default=None, help="runs timed in SMPyBandits (default 10)")
    parser.add_argument("--skip-peer", action="store_true", help="leave SMPyBandits out")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--figure", default=None, help="write the regret curves to this image file")
    args = parser.parse_args(argv)
    quick = {"pulls": 300, "runs": 50, "peer_runs": 3}
    full = {"pulls": 10_000, "runs": 1_000, "peer_runs": 10}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"# Exploration benchmark ({'quick' if args.quick else 'full'})\n")
    print(f"pgm_control {library_version()}; torch {torch.__version__}, {args.threads} thread(s); "
          f"Python {platform.python_version()}; {cpu_name()}; {load_average()} at the start")
    for section in SECTIONS:
        section(args)
    print(f"\n{load_average()} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
