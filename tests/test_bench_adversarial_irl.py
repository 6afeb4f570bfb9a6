"""The adversarial imitation benchmark runs: smoke runs of ``benchmarks/bench_adversarial_irl.py --quick``
on each task (Pendulum-v1 with SAC; CartPole-v1 in FixedHorizon with SoftQ)."""

import math
import subprocess
import sys
from pathlib import Path

import pytest
from bench_helpers import run_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_adversarial_irl.py"


@pytest.mark.slow
@pytest.mark.parametrize(("task", "header"), [("pendulum", "expert: SAC on Pendulum-v1, 60 steps"),
                                              ("cartpole", "expert: SoftQ on CartPole-v1, 60 steps")])
def test_quick_run_prints_one_row_per_method(task, header):
    status, output = run_script(SCRIPT, "--quick", "--task", task)
    assert status == 0, output
    assert output.startswith(header)
    rows = [line.strip("|").split("|") for line in output.splitlines() if line.startswith(("| gail |", "| airl |"))]
    assert [row[0].strip() for row in rows] == ["gail", "airl"]
    for row in rows:
        assert math.isfinite(float(row[2])) and math.isfinite(float(row[3]))  # return, normalized return


@pytest.mark.slow
def test_expert_checkpoint_is_trained_once_and_reused(tmp_path):
    checkpoint = tmp_path / "expert.pt"
    command = [sys.executable, str(SCRIPT), "--quick", "--task", "cartpole", "--methods", "gail",
               "--expert-checkpoint", str(checkpoint)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True).stdout
    assert checkpoint.exists()
    checkpoint.touch()
    modified = checkpoint.stat().st_mtime_ns
    second = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True).stdout
    assert checkpoint.stat().st_mtime_ns == modified  # read, not written again
    def expert_return(output):
        return output.splitlines()[0].split("return ")[1].split(";")[0]

    assert expert_return(first) == expert_return(second)  # the same expert


@pytest.mark.slow
def test_gradient_penalty_flag_runs_gail():
    status, output = run_script(SCRIPT, "--quick", "--task", "cartpole", "--methods", "gail", "airl",
                                "--gradient-penalty", "1")
    assert status == 0, output
    rows = [line.strip("|").split("|") for line in output.splitlines() if line.startswith(("| gail |", "| airl |"))]
    assert [row[0].strip() for row in rows] == ["gail", "airl"]  # AIRL runs unpenalized beside it
