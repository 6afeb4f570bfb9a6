"""The adversarial imitation benchmark runs: smoke runs of ``benchmarks/bench_adversarial_irl.py --quick``
on each task (Pendulum-v1 with SAC; CartPole-v1 in FixedHorizon with SoftQ), with and without imitation's
venv for the ``--peer`` rows."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from bench_helpers import BENCHMARKS, run_script

from pgm_control.rl import Transitions

SCRIPT = BENCHMARKS / "bench_adversarial_irl.py"
PEER_PYTHON = BENCHMARKS / ".venv-imitation" / "bin" / "python"


def quick_run(*extra: str) -> str:
    status, output = run_script(SCRIPT, "--quick", *extra, timeout=600)
    assert status == 0, output
    return output


def rows(output: str) -> list[list[str]]:
    """The (library, method, seed, return, normalized, ...) cells of each result row."""
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in output.splitlines()
            if line.startswith(("| pgm_control |", "| imitation |"))]


def assert_finite_returns(table: list[list[str]]) -> None:
    for row in table:
        assert math.isfinite(float(row[3])) and math.isfinite(float(row[4]))  # return, normalized return


@pytest.mark.slow
@pytest.mark.parametrize(("task", "header"), [("pendulum", "expert: SAC on Pendulum-v1, 60 steps"),
                                              ("cartpole", "expert: SoftQ on CartPole-v1, 60 steps")])
def test_quick_run_prints_one_row_per_method(task, header):
    output = quick_run("--task", task)
    assert output.startswith(header)
    table = rows(output)
    assert [row[:2] for row in table] == [["pgm_control", "gail"], ["pgm_control", "airl"]]
    assert_finite_returns(table)


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
def test_peer_rows_are_skipped_with_a_message_without_the_venv(tmp_path):
    output = quick_run("--peer", "--peer-python", str(tmp_path / "missing" / "python"), "--methods", "airl")
    assert "imitation not installed" in output
    assert [row[:2] for row in rows(output)] == [["pgm_control", "airl"]]


@pytest.fixture(scope="module")
def bench():
    """The benchmark script as a module."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_adversarial_irl
    finally:
        sys.path.remove(str(BENCHMARKS))
    return bench_adversarial_irl


def test_peer_on_cartpole_is_refused_with_the_supported_task(bench, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_arguments(["--task", "cartpole", "--peer"])
    assert exit_info.value.code == 2
    assert "run on --task pendulum only, not cartpole" in capsys.readouterr().err


def test_peer_flag_adds_imitation_once(bench):
    assert bench.parse_arguments(["--peer"]).libraries == ["pgm_control", "imitation"]
    assert bench.parse_arguments(["--peer", "--libraries", "imitation"]).libraries == ["imitation"]


def test_saved_demonstrations_mark_each_episode_end(bench, tmp_path):
    # Two episodes of 3 steps on a line: s' = s + 1 inside an episode; the second episode restarts at 10.
    states = torch.tensor([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    demos = Transitions(states, torch.zeros(6, 1), torch.zeros(6), states + 1, torch.zeros(6))
    bench.save_demonstrations(tmp_path / "demos.npz", demos)
    with np.load(tmp_path / "demos.npz", allow_pickle=False) as data:
        assert data["episode_ends"].tolist() == [False, False, True, False, False, True]
        np.testing.assert_array_equal(data["next_observations"], (states + 1).numpy())


@pytest.mark.slow
@pytest.mark.skipif(not PEER_PYTHON.exists(), reason="imitation's venv benchmarks/.venv-imitation is absent")
def test_peer_rows_follow_ours_within_a_seed():
    output = quick_run("--peer")
    table = rows(output)
    assert [row[:2] for row in table] == [["pgm_control", "gail"], ["imitation", "gail"],
                                          ["pgm_control", "airl"], ["imitation", "airl"]]
    assert_finite_returns(table)
    assert "imitation's venv: imitation" in output


@pytest.mark.slow
@pytest.mark.skipif(not PEER_PYTHON.exists(), reason="imitation's venv benchmarks/.venv-imitation is absent")
def test_imitation_alone_reads_the_expert_checkpoint_ours_wrote(tmp_path):
    checkpoint = tmp_path / "expert.pt"
    ours = quick_run("--methods", "airl", "--expert-checkpoint", str(checkpoint))
    theirs = quick_run("--methods", "airl", "--libraries", "imitation", "--expert-checkpoint", str(checkpoint))
    assert ours.splitlines()[0].split(", ", 3)[3] == theirs.splitlines()[0].split(", ", 3)[3]  # same expert, demos
    assert [row[:2] for row in rows(theirs)] == [["imitation", "airl"]]


@pytest.mark.slow
def test_gradient_penalty_flag_runs_gail():
    table = rows(quick_run("--task", "cartpole", "--gradient-penalty", "1"))
    assert [row[:2] for row in table] == [["pgm_control", "gail"], ["pgm_control", "airl"]]  # AIRL unpenalized
    assert_finite_returns(table)
