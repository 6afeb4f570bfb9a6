"""The exploration benchmark script runs: a smoke run of ``benchmarks/bench_exploration.py --quick``."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_exploration.py"
HEADER = "| agent | runs | T | Reg(T) | 95% band | Reg(T) / Lai-Robbins | d Reg / d ln t | s | pulls × runs / s |"
AGENTS = ["ε-greedy (ε = 0.1)", "UCB1", "KL-UCB", "Thompson (Beta)", "IDS (Beta, 32 draws)",
          "simulator alone (random arms)"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """(exit status, stdout, figure path) of one quick run without the peer, in a fresh interpreter."""
    figure = tmp_path_factory.mktemp("bench") / "regret.png"
    completed = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--skip-peer", "--figure", str(figure)],
                               capture_output=True, text=True, timeout=300, check=False)
    return completed.returncode, completed.stdout + completed.stderr, figure


def rows(output: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in output.splitlines()
            if line.startswith("| ") and not line.startswith("| agent")]


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
