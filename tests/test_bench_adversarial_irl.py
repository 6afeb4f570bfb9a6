"""The adversarial imitation benchmark runs: smoke runs of ``benchmarks/bench_adversarial_irl.py --quick``
on each task (Pendulum-v1 with SAC; CartPole-v1 in FixedHorizon with SoftQ)."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_adversarial_irl.py"


@pytest.mark.slow
@pytest.mark.parametrize(("task", "header"), [("pendulum", "expert: SAC on Pendulum-v1, 60 steps"),
                                              ("cartpole", "expert: SoftQ on CartPole-v1, 60 steps")])
def test_quick_run_prints_one_row_per_method(task, header):
    completed = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--task", task], capture_output=True,
                               text=True, timeout=300, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert output.startswith(header)
    rows = [line.strip("|").split("|") for line in output.splitlines() if line.startswith(("| gail |", "| airl |"))]
    assert [row[0].strip() for row in rows] == ["gail", "airl"]
    for row in rows:
        assert math.isfinite(float(row[2])) and math.isfinite(float(row[3]))  # return, normalized return
