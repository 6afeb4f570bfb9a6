"""The adversarial imitation benchmark runs: smoke runs of ``benchmarks/bench_adversarial_irl.py --quick``,
with and without imitation's venv for the ``--peer`` rows."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPT = BENCHMARKS / "bench_adversarial_irl.py"
PEER_PYTHON = BENCHMARKS / ".venv-imitation" / "bin" / "python"


def quick_run(*extra: str) -> str:
    completed = subprocess.run([sys.executable, str(SCRIPT), "--quick", *extra], capture_output=True, text=True,
                               timeout=600, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output


def rows(output: str) -> list[list[str]]:
    """The (library, method, seed, return, normalized, ...) cells of each result row."""
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in output.splitlines()
            if line.startswith(("| pgm_control |", "| imitation |"))]


def assert_finite_returns(table: list[list[str]]) -> None:
    for row in table:
        assert math.isfinite(float(row[3])) and math.isfinite(float(row[4]))  # return, normalized return


@pytest.mark.slow
def test_quick_run_prints_one_row_per_method():
    output = quick_run()
    assert output.startswith("expert: SAC 60 steps")
    table = rows(output)
    assert [row[:2] for row in table] == [["pgm_control", "gail"], ["pgm_control", "airl"]]
    assert_finite_returns(table)


@pytest.mark.slow
def test_peer_rows_are_skipped_with_a_message_without_the_venv(tmp_path):
    output = quick_run("--peer", "--peer-python", str(tmp_path / "missing" / "python"), "--methods", "airl")
    assert "imitation not installed" in output
    assert [row[:2] for row in rows(output)] == [["pgm_control", "airl"]]


@pytest.mark.slow
@pytest.mark.skipif(not PEER_PYTHON.exists(), reason="imitation's venv benchmarks/.venv-imitation is absent")
def test_peer_rows_follow_ours_within_a_seed():
    output = quick_run("--peer")
    table = rows(output)
    assert [row[:2] for row in table] == [["pgm_control", "gail"], ["imitation", "gail"],
                                          ["pgm_control", "airl"], ["imitation", "airl"]]
    assert_finite_returns(table)
    assert "imitation's venv: imitation" in output
