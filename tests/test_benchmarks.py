"""The benchmark script runs: a smoke run of ``benchmarks/bench_exact.py --quick --skip-imitation``."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_exact.py"
SOLVERS = ["soft VI (expected)", "soft VI (optimistic)", "log_evidence"]


@pytest.fixture(scope="module")
def quick_run():
    """(exit status, stdout) of one quick run, in a fresh interpreter as `make bench` runs it."""
    completed = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--skip-imitation"],
                               capture_output=True, text=True, timeout=120, check=False)
    return completed.returncode, completed.stdout + completed.stderr


def test_quick_run_exits_0(quick_run):
    status, output = quick_run
    assert status == 0, output


def test_quick_run_prints_the_markdown_table(quick_run):
    _, output = quick_run
    assert "| MDP | storage | solver | pgm_control (s) | CPU (s) |" in output
    for storage in ["successor lists", "dense"]:
        for solver in SOLVERS:
            assert re.search(rf"\| random S=\d+ K=10 \| {storage} \| {re.escape(solver)} \|", output), solver
    for solver in [*SOLVERS, "soft VI (expected, keep='v')", "soft VI (optimistic, keep='v')"]:
        assert re.search(rf"\| grid \d+×\d+ \(S=[\d,]+\) \| successor lists \| {re.escape(solver)} \|", output)


def test_quick_run_prints_agreement_lines(quick_run):
    _, output = quick_run
    lines = [line for line in output.splitlines() if line.startswith("agreement: ") and " vs " in line]
    assert len(lines) == 17  # 2 random MDPs x 2 storages x 3 solvers + the grid's 5 solvers
    assert all(line.endswith(" ok") for line in lines), lines
    assert "agreement: 17/17 comparisons within tolerance" in output


def test_skip_imitation_leaves_the_comparison_out(quick_run):
    _, output = quick_run
    assert "mce_partition_fh" not in output
