"""The exploration benchmark script runs: a smoke run of ``benchmarks/bench_exploration.py --quick``, and
its bsuite Deep Sea scoring against hand-computed cases."""

import re
import sys
from pathlib import Path

import pytest
import torch
from bench_helpers import run_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_exploration.py"
HEADER = "| agent | runs | T | Reg(T) | 95% band | Reg(T) / Lai-Robbins | d Reg / d ln t | s | pulls × runs / s |"
AGENTS = ["ε-greedy (ε = 0.1)", "UCB1", "KL-UCB", "Thompson (Beta)", "IDS (Beta, 32 draws)",
          "simulator alone (random arms)"]
MDP_AGENTS = ["ε-greedy Q (ε = 0.1)", "count-bonus Q (β = 0.5)", "bootstrapped Q (10 heads, σ = 10)", "PSRL",
              "model-based count bonus (β = 1)", "model-based information gain (β = 1)"]
RIVERSWIM_HEADER = "| agent | runs | K | Reg(K) | 95% band | Reg(K) / Reg(K/2) | mean return, last K/10 | s |"
DEEP_SEA_HEADER = "| N | agent | solved | median episode to solve | 2^N | beats dithering | s |"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """(exit status, stdout, figure path) of one quick run without the peer, in a fresh interpreter."""
    figure = tmp_path_factory.mktemp("bench") / "regret.png"
    return (*run_script(SCRIPT, "--quick", "--skip-peer", "--figure", figure), figure)


def rows(output: str, section: str = "## Bernoulli") -> list[list[str]]:
    """The data rows of the first table after the heading that starts with ``section``."""
    text = output[output.index(section):].split("\n\n")
    table = next(block for block in text if block.startswith("| "))
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]


@pytest.fixture(scope="module")
def bench():
    """The benchmark script as a module (its helpers import ``_report`` from benchmarks/)."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import bench_exploration
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return bench_exploration


def test_solved_episode_follows_bsuite_definition(bench):
    # Returns per episode: a treasure (0.99) is good, anything <= 0.5 is bad. Running bad fractions:
    # run 0: bad, bad, good, good, good → 1, 1, 2/3, 1/2, 2/5: first below 0.8 at episode 3.
    # run 1: good first → 0/1 < 0.8 at episode 1 (bsuite counts it too).
    # run 2: never good → 0 (unsolved).
    # run 3: bad ×4 then good → 4/5 = 0.8 is not < 0.8: unsolved within 5 episodes.
    returns = torch.tensor([[-0.01, 0.0, 0.99, 0.99, 0.99],
                            [0.99, -0.01, -0.01, -0.01, -0.01],
                            [0.0, 0.0, 0.0, 0.0, 0.0],
                            [0.0, 0.0, 0.0, 0.0, 0.99]], dtype=torch.float64)
    assert bench.solved_episodes(returns).tolist() == [3, 1, 0, 0]


def test_beats_dithering_uses_the_forgiveness_of_bsuite_score(bench):
    # N = 3: 2^3 + 100 = 108 episodes; solved at 107 beats dithering, at 108 or unsolved (0) does not.
    assert bench.beats_dithering(torch.tensor([107, 108, 0, 1]), 3).tolist() == [True, False, False, True]


@pytest.mark.slow  # a fresh interpreter and 5 agents × 50 runs × 300 pulls: ~5 s
def test_quick_run_prints_every_agent_and_writes_the_figure(quick_run):
    status, output, figure = quick_run
    assert status == 0, output
    assert HEADER in output and re.search(r"load average [\d.]+ at the end", output)
    table = rows(output)
    assert [row[0] for row in table] == AGENTS
    assert all(len(row) == 9 and row[1] == "50" and row[2] == "300" for row in table)
    assert figure.stat().st_size > 0
    assert "SMPyBandits" not in output


@pytest.mark.slow  # shares the quick run above
def test_quick_run_regret_orders_the_agents(quick_run):
    _, output, _ = quick_run
    final = {row[0]: float(row[3]) for row in rows(output)[:5]}
    # 50 runs × 300 pulls (seed 0): Thompson ≈ 7 and UCB1 ≈ 24 (its bonus over-explores at small t), with
    # SEs ≈ 0.5 and 0.6; ε-greedy pays ≈ 0.1 · 0.27 · 300 = 8 for exploring plus greedy lock-ins (SE ≈ 1.4).
    assert final["Thompson (Beta)"] < final["UCB1"]
    assert final["IDS (Beta, 32 draws)"] < final["UCB1"] and final["KL-UCB"] < final["UCB1"]


@pytest.mark.slow  # shares the quick run above
def test_quick_run_prints_the_mdp_sections(quick_run):
    _, output, _ = quick_run
    assert RIVERSWIM_HEADER in output and DEEP_SEA_HEADER in output
    riverswim = rows(output, "## RiverSwim")
    assert [row[0] for row in riverswim] == MDP_AGENTS
    assert all(row[1] == "3" and row[2] == "20" and float(row[3]) > 0 for row in riverswim)
    deep_sea = rows(output, "## Deep Sea")
    assert [(row[0], row[1]) for row in deep_sea] == [(n, agent) for n in ("4", "6") for agent in MDP_AGENTS]
    assert all(row[2].endswith("/2") and row[4] in ("16", "64") for row in deep_sea)
    scores = rows(output, "| agent | sizes |")
    assert [row[0] for row in scores] == MDP_AGENTS and all(0 <= float(row[2]) <= 1 for row in scores)
