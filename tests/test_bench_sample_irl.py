"""The sample-based IRL benchmark script runs: a smoke run of ``benchmarks/bench_sample_irl.py --quick``."""

import re
from pathlib import Path

import pytest
from bench_helpers import run_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sample_irl.py"
HEADER = "| MDP | method | iterations | KL learner's π | KL reward's π | ESS min / median | s |"


@pytest.mark.slow  # ~10 s: a fresh interpreter, maxent_irl and three short fits
def test_quick_run_prints_the_table_and_agrees():
    status, output = run_script(SCRIPT, "--quick", timeout=300)
    assert status == 0, output
    assert HEADER in output
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in output.splitlines()
            if re.match(r"^\| S=16 ", line)]
    assert [row[1] for row in rows] == [
        "maxent_irl (L-BFGS, exact)", "sample_based_irl, exact learner, importance",
        "sample_based_irl, REINFORCE learner, importance", "sample_based_irl, REINFORCE learner, unweighted",
        "uniform policy (for scale)"]
    # every sample-based row fits closer to maxent_irl's policy than the uniform policy does
    uniform = float(rows[-1][3])
    assert all(float(row[4]) < uniform for row in rows[1:4])
    assert "agreement: 1/1 comparisons within tolerance" in output
