"""The adversarial imitation benchmark runs: a smoke run of ``benchmarks/bench_adversarial_irl.py --quick``."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_adversarial_irl.py"


@pytest.mark.slow
def test_quick_run_prints_one_row_per_method():
    completed = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True,
                               timeout=300, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert output.startswith("expert: SAC 60 steps")
    rows = [line.strip("|").split("|") for line in output.splitlines() if line.startswith(("| gail |", "| airl |"))]
    assert [row[0].strip() for row in rows] == ["gail", "airl"]
    for row in rows:
        assert math.isfinite(float(row[2])) and math.isfinite(float(row[3]))  # return, normalized return
