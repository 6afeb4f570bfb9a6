"""The Pyro benchmark script runs: a smoke run of ``benchmarks/bench_pyro.py --quick``."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_pyro.py"


@pytest.fixture(scope="module")
def quick_run():
    """(exit status, stdout) of one quick run, in a fresh interpreter as the README runs it."""
    completed = subprocess.run([sys.executable, str(SCRIPT), "--quick"],
                               capture_output=True, text=True, timeout=120, check=False)
    return completed.returncode, completed.stdout + completed.stderr


def test_quick_run_exits_0(quick_run):
    status, output = quick_run
    assert status == 0, output


def test_quick_run_prints_the_enumeration_tables(quick_run):
    _, output = quick_run
    assert "| MDP | T | enumeration (s) | per step (ms) | log_evidence (s) |" in output
    assert "| MDP | slope b (ms/step) | intercept a (ms) |" in output
    for mdp in [r"random S=10 A=4 K=3", r"grid 5×6 \(S=30, slip 0\.1\)", r"random S=100 A=4 K=10",
                r"random S=100 A=4 K=10 dense"]:
        assert len(re.findall(rf"^\| {mdp} \| \d+ \| ", output, flags=re.MULTILINE)) == 3, mdp


def test_quick_run_prints_the_svi_table(quick_run):
    _, output = quick_run
    assert "| guide | estimator | N | lr → final | s/step | steps to KL ≤ 0.02 | seconds |" in output
    for guide, estimator in [("tabular", "causal"), ("tabular", "tracegraph"), ("amortized", "causal")]:
        assert re.search(rf"^\| {guide} \| `{estimator}` \| \d+ \|", output, flags=re.MULTILINE), estimator


def test_quick_run_agrees_with_the_exact_solvers(quick_run):
    _, output = quick_run
    lines = [line for line in output.splitlines() if line.startswith("agreement: ") and " vs " in line]
    assert len(lines) == 15  # 4 MDPs x 3 horizons + 3 SVI runs (ELBO gap = T · KL)
    assert all(line.endswith(" ok") for line in lines), lines
    assert "agreement: 15/15 comparisons within tolerance" in output
