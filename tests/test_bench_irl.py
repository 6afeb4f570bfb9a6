"""The MaxEnt IRL benchmark script runs: a smoke run of ``benchmarks/bench_irl.py --quick``."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_irl.py"
HEADER = ("| MDP | implementation | optimizer | s/step | evals/step | s/eval | steps to KL ≤ 0.05 | "
          "s to KL ≤ 0.05 | steps run | stop | final KL | s run |")


@pytest.fixture(scope="module")
def quick_run():
    """(exit status, stdout) of one quick run, in a fresh interpreter as the README runs it."""
    completed = subprocess.run([sys.executable, str(SCRIPT), "--quick"],
                               capture_output=True, text=True, timeout=300, check=False)
    return completed.returncode, completed.stdout + completed.stderr


def rows(output: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")]
            for line in output.splitlines() if re.match(r"^\| S=\d+ ", line)]


def test_quick_run_exits_0(quick_run):
    status, output = quick_run
    assert status == 0, output


def test_quick_run_prints_the_table(quick_run):
    _, output = quick_run
    assert HEADER in output
    table = rows(output)
    for states in ["S=16 (4×4, K=3)", "S=36 (6×6, K=3)"]:
        optimizers = [row[2] for row in table if row[0] == states]
        assert optimizers == ["L-BFGS", "L-BFGS, diagnostics=True", "Adam lr 0.05"], optimizers
    assert all(len(row) == 12 for row in table)


def test_lbfgs_reaches_the_kl_bound_and_converges(quick_run):
    _, output = quick_run
    for row in rows(output):
        if row[2].startswith("L-BFGS"):
            assert int(row[6]) >= 1 and float(row[7]) > 0, row  # steps and seconds to KL <= 0.05
            assert row[9] == "converged" and float(row[10]) <= 0.05, row
            assert 1.0 <= float(row[4]) <= 2.0, row  # evaluations per L-BFGS step: one, plus rare line-search retries


def test_quick_run_leaves_imitation_out(quick_run):
    _, output = quick_run
    assert {row[1] for row in rows(output)} == {"pgm_control `maxent_irl`"}
    assert "imitation not installed" not in output
    assert "agreement: 0/0 comparisons within tolerance" in output
