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

RiverSwim. ``riverswim(6)``, K = 500 episodes of H = 20 steps in R = 20 runs (``run_episodes``, seed 0), for
the tabular explorers: ε-greedy Q-learning (ε = 0.1, the dithering baseline), Q-learning with the count
bonus β/√N(s, a) (β = 0.5), bootstrapped Q-learning (10 heads, randomized priors σ = 10), PSRL (Dirichlet
prior α_0 = 1/S, Normal reward prior, the library's defaults), and value iteration of the estimated MDP with
the MBIE-EB count bonus β/√N(s, a) or the exact Dirichlet information gain (β = 1 both). The table gives the
cumulative regret Reg(K) = Σ_k (V*_1(s_1) − return_k) against the exact optimal H-step value, averaged over
runs with its 95% band, and Reg(K) / Reg(K/2): 2 for linear regret, √2 ≈ 1.41 for regret growing as √K,
near 1 for an agent that has stopped paying.

Deep Sea. ``deep_sea(N)`` for N = 5, 8, 11, 14 (H = N), R = 10 runs of at most K = 1,000 episodes each,
the same six agents, scored as bsuite's ``deep_sea`` analysis (Osband et al. 2020,
``bsuite/experiments/deep_sea/analysis.py``): an episode is *bad* when it misses the treasure (in this
deterministic Deep Sea, the same as leaving the diagonal, bsuite's definition); a run *solves* size N at the
first episode k with (bad episodes among 1..k) / k < 0.8; it *beats dithering* when it solves within
2^N + 100 episodes (the forgiveness of bsuite's ``score``); the score is the fraction of sizes that beat
dithering. Departures: bsuite runs one seed per size for 10,000 episodes on sizes 10, 12, …, 50; here the
score averages over the R runs of each size as well, the budget K = 1,000 < 2^N for N ≥ 10 caps what
"beats dithering" can mean (a run unsolved at K counts as failed), and the sizes stop at 14 because the
model-based agents draw or update a dense [R, S, A, S] model of S = N² + 1 states every episode (PSRL at
N = 20 takes about 0.6 s per episode for 10 runs). A uniformly random policy collects the treasure with
probability 2^{−N} per episode, so dithering needs about 2^N episodes to see it once.
The table's median episode to solve counts unsolved runs as K + 1 and is ``torch.median`` (the lower
middle value of the 10 runs).

Further sections append to ``SECTIONS`` below, each a function of the parsed arguments that prints its
own table; ``--sections`` picks some of them.

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

from pgm_control.envs import deep_sea, riverswim
from pgm_control.exploration import (
    KLUCB,
    UCB1,
    BernoulliBandit,
    BootstrappedQ,
    CountBonusQ,
    EpsilonGreedy,
    EpsilonGreedyQ,
    InformationDirected,
    ModelBasedBonus,
    PosteriorSampling,
    ThompsonBeta,
    lai_robbins_bound,
    plot_regret,
    regret,
    run_bandit,
    run_episodes,
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
MDP_AGENTS = {
    "ε-greedy Q (ε = 0.1)": lambda: EpsilonGreedyQ(0.1),
    "count-bonus Q (β = 0.5)": lambda: CountBonusQ(0.5),
    "bootstrapped Q (10 heads, σ = 10)": BootstrappedQ,
    "PSRL": PosteriorSampling,
    "model-based count bonus (β = 1)": lambda: ModelBasedBonus("count", 1.0),
    "model-based information gain (β = 1)": lambda: ModelBasedBonus("information_gain", 1.0),
}
RIVERSWIM_STATES, RIVERSWIM_HORIZON = 6, 20
BAD_FRACTION = 0.8  # bsuite's find_solution threshold on the running fraction of bad episodes
FORGIVENESS = 100  # bsuite's score: solved within 2^N + 100 episodes beats dithering
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


def riverswim_section(args) -> None:
    """Cumulative regret of the tabular explorers on RiverSwim(6), H = 20."""
    episodes, runs = args.episodes, args.mdp_runs
    print(f"\n## RiverSwim({RIVERSWIM_STATES}), H = {RIVERSWIM_HORIZON}, K = {episodes:,} episodes, {runs} runs\n")
    table = Table(["agent", "runs", "K", "Reg(K)", "95% band", "Reg(K) / Reg(K/2)", "mean return, last K/10",
                   "s"], "lrrrrrrr")
    optimal = None
    for label, make in MDP_AGENTS.items():
        start = time.perf_counter()
        history = run_episodes(make(), riverswim(RIVERSWIM_STATES), episodes, RIVERSWIM_HORIZON, runs, seed=0,
                               progress=False)
        seconds = time.perf_counter() - start
        final = history.regret[:, -1]
        half = 1.96 * final.std().item() / math.sqrt(runs) if runs > 1 else float("nan")
        midway = history.regret[:, max(episodes // 2, 1) - 1].mean().item()
        last = history.returns[:, -max(episodes // 10, 1):].mean().item()
        table.row(label, runs, f"{episodes:,}", f"{final.mean():.1f}", f"± {half:.1f}",
                  f"{final.mean().item() / midway:.2f}", f"{last:.3f}", f"{seconds:.1f}")
        optimal = history.optimal_values[0, 0].item()
    print(f"\nV*_1(s_1) = {optimal:.4f} per episode (exact finite-horizon value iteration)")


def solved_episodes(returns: torch.Tensor, threshold: float = BAD_FRACTION) -> torch.Tensor:
    """bsuite's deep_sea solution episode of each run: the first 1-based episode k at which the running
    fraction of bad episodes (no treasure: return <= 0.5) falls below ``threshold``; 0 where none does.
    ``returns [R, K]`` → ``[R]`` long."""
    bad = (returns <= 0.5).to(torch.float64).cumsum(-1)
    episode = torch.arange(1, returns.shape[-1] + 1, dtype=torch.float64)
    solved = bad / episode < threshold
    return torch.where(solved.any(-1), solved.to(torch.float64).argmax(-1) + 1, 0)


def beats_dithering(solved: torch.Tensor, size: int) -> torch.Tensor:
    """bsuite's deep_sea score of each run: solved (k > 0) within 2^N + 100 episodes, ``[R]`` bool."""
    return (solved > 0) & (solved < 2 ** size + FORGIVENESS)


def deep_sea_section(args) -> None:
    """Episodes to solve Deep Sea(N) as N grows, scored like bsuite's deep_sea."""
    sizes, cap, runs = args.sizes, args.deep_sea_episodes, args.deep_sea_runs
    print(f"\n## Deep Sea(N), H = N, at most {cap:,} episodes, {runs} runs (bsuite's deep_sea score)\n")
    table = Table(["N", "agent", "solved", "median episode to solve", "2^N", "beats dithering", "s"], "rlrrrrr")
    scores = {label: [] for label in MDP_AGENTS}
    for size in sizes:
        for label, make in MDP_AGENTS.items():
            start = time.perf_counter()
            history = run_episodes(make(), deep_sea(size), cap, size, runs, seed=0, progress=False)
            seconds = time.perf_counter() - start
            solved = solved_episodes(history.returns)
            beat = beats_dithering(solved, size)
            scores[label].append(beat.to(torch.float64).mean().item())
            censored = torch.where(solved > 0, solved, cap + 1).to(torch.float64)
            median = censored.median().item()
            table.row(size, label, f"{int((solved > 0).sum())}/{runs}",
                      f"> {cap:,}" if median > cap else f"{median:.0f}", f"{2 ** size:,}",
                      f"{beat.to(torch.float64).mean().item():.2f}", f"{seconds:.1f}")
    print()
    summary = Table(["agent", "sizes", "score (fraction of sizes × runs beating dithering)"], "lrr")
    for label, values in scores.items():
        summary.row(label, ", ".join(map(str, sizes)), f"{sum(values) / len(values):.2f}")


# Each section is a function of the parsed arguments that prints its own table.
SECTIONS = {"bandit": bandit_section, "riverswim": riverswim_section, "deep_sea": deep_sea_section}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="T = 300 pulls, 50 runs, 3 peer runs; RiverSwim K = 20, 3 runs; Deep Sea N = 4, 6, "
                             "30 episodes, 2 runs")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run, of {', '.join(SECTIONS)} (default all)")
    parser.add_argument("--pulls", type=int, default=None, help="T (default 10,000)")
    parser.add_argument("--runs", type=int, default=None, help="runs of each agent (default 1,000)")
    parser.add_argument("--peer-runs", type=int, default=None, help="runs timed in SMPyBandits (default 10)")
    parser.add_argument("--skip-peer", action="store_true", help="leave SMPyBandits out")
    parser.add_argument("--episodes", type=int, default=None, help="RiverSwim episodes K (default 500)")
    parser.add_argument("--mdp-runs", type=int, default=None, help="RiverSwim runs (default 20)")
    parser.add_argument("--sizes", type=lambda text: [int(n) for n in text.split(",")], default=None,
                        help="Deep Sea sizes N, comma-separated (default 5,8,11,14)")
    parser.add_argument("--deep-sea-episodes", type=int, default=None, help="Deep Sea episode budget (default 1,000)")
    parser.add_argument("--deep-sea-runs", type=int, default=None, help="Deep Sea runs per size (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--figure", default=None, help="write the regret curves to this image file")
    args = parser.parse_args(argv)
    args.sections = args.sections.split(",")
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"--sections: unknown {unknown}; choose from {list(SECTIONS)}")
    quick = {"pulls": 300, "runs": 50, "peer_runs": 3, "episodes": 20, "mdp_runs": 3, "sizes": [4, 6],
             "deep_sea_episodes": 30, "deep_sea_runs": 2}
    full = {"pulls": 10_000, "runs": 1_000, "peer_runs": 10, "episodes": 500, "mdp_runs": 20,
            "sizes": [5, 8, 11, 14], "deep_sea_episodes": 1_000, "deep_sea_runs": 10}
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
    for name in args.sections:
        SECTIONS[name](args)
    print(f"\n{load_average()} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
