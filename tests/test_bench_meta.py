"""The meta-RL benchmark script runs: a smoke run of ``benchmarks/bench_meta.py --quick``."""

import re
from pathlib import Path

import pytest
from bench_helpers import run_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_meta.py"

pytestmark = pytest.mark.slow  # a fresh interpreter and a few training runs: about 30 s on a busy core


@pytest.fixture(scope="module")
def quick_run():
    """(exit status, stdout) of one quick run, in a fresh interpreter as the README runs it."""
    return run_script(SCRIPT, "--quick", "--seeds", "2", timeout=600)


def test_quick_run_exits_0(quick_run):
    status, output = quick_run
    assert status == 0, output


def test_quick_run_prints_the_exact_values_beside_the_learned_ones(quick_run):
    _, output = quick_run
    rl2 = [line for line in output.splitlines() if "| RL² (2 seeds" in line]
    assert len(rl2) == 2, output
    # The exact columns: Bayes-optimal and oracle of the 10-pull Beta(1, 1) bandit and of grid navigation
    # 3×3 with 2 episodes of 4 steps (2.94 and 4.04, the bayes_adaptive_value docstring's example).
    assert "| 6.022 | 6.634 | 5.000 |" in rl2[0]
    assert "| 2.940 | 4.040 |" in rl2[1]
    maml = [line for line in output.splitlines() if re.match(r"^\| (MAML|pretrained)", line)]
    assert len(maml) == 6, output  # three rows per table
    assert all("nan" not in line for line in rl2 + maml)
