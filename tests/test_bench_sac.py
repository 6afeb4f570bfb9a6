"""The SAC benchmark script runs: a smoke run of ``benchmarks/bench_sac.py --quick``."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sac.py"
HEADER = "| library | seed | final return | wall s (eval excluded) | steps/s | eval s | final α | load before → after |"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """(exit status, output, plot path) of one quick run, in a fresh interpreter as the README runs it."""
    plot = tmp_path_factory.mktemp("bench_sac") / "curves.png"
    completed = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--plot", str(plot)],
                               capture_output=True, text=True, timeout=120, check=False)
    return completed.returncode, completed.stdout + completed.stderr, plot


def rows(output: str) -> list[list[str]]:
    """The rows of the runs table (8 cells; the summary's rows have 7)."""
    cells = [[cell.strip() for cell in line.strip("|").split("|")]
             for line in output.splitlines() if re.match(r"^\| pgm_control v\d \| \d+ \|", line)]
    return [row for row in cells if len(row) == 8]


def test_quick_run_exits_0(quick_run):
    status, output, _ = quick_run
    assert status == 0, output


def test_quick_run_prints_one_run_of_pgm_control_v2(quick_run):
    _, output, _ = quick_run
    assert HEADER in output
    (row,) = rows(output)
    assert row[:2] == ["pgm_control v2", "0"]
    final_return, seconds, steps_per_second = float(row[2]), float(row[3]), float(row[4])
    assert -2000.0 < final_return <= 0.0  # Pendulum's rewards lie in [-16.3, 0] per step, 200 steps
    assert seconds > 0 and steps_per_second == pytest.approx(400 / seconds, rel=0.02)


def test_quick_run_prints_the_learning_curve_and_writes_the_plot(quick_run):
    _, output, plot = quick_run
    steps = [int(m) for m in re.findall(r"^\| (\d+) \| -?[\d.]+ \|$", output, flags=re.MULTILINE)]
    assert steps == [0, 200, 400]
    assert plot.exists() and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quick_run_leaves_sb3_out(quick_run):
    _, output, _ = quick_run
    assert "stable-baselines3" not in output
    assert "target:" not in output
