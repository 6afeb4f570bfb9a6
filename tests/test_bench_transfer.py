"""The transfer and PEARL benchmark scripts run: smoke runs of ``--quick``, in fresh interpreters as the
benchmarks README runs them."""

import re
from pathlib import Path

import pytest
from bench_helpers import run_script

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def quick(script: str) -> tuple[int, str]:
    return run_script(script, "--quick")


@pytest.mark.slow  # a fresh interpreter and four exact experiments: about 20 s on a loaded 2-core machine
def test_bench_transfer_quick():
    status, output = quick("bench_transfer.py")
    assert status == 0, output
    for title in ("## (a) Fine-tuning", "## (b) Domain randomization", "## (c) Contextual", "## (d) Distillation"):
        assert title in output
    # Table (a): one pretrained and one Q = 0 row per temperature of the quick config (0.01, 1).
    starts = re.findall(r"^\| (0\.01|1) \| (pretrained|Q = 0) \|", output, flags=re.MULTILINE)
    assert len(starts) == 4, output
    # Table (d): L-BFGS reaches the closed-form student.
    difference = re.search(r"closed form\) on states with .* \| ([0-9.e+-]+) \|", output)
    assert difference and float(difference.group(1)) < 1e-5, output


@pytest.mark.slow  # a fresh interpreter and three tiny agents: about 10 s on a loaded 2-core machine
def test_bench_pearl_quick():
    status, output = quick("bench_pearl.py")
    assert status == 0, output
    agents = re.findall(r"^\| (goal-seeking controller|posterior|none|oracle) \|", output, flags=re.MULTILINE)
    assert agents == ["goal-seeking controller", "posterior", "none", "oracle"], output
