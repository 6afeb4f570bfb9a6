"""benchmarks/_sweep.py: a sweep through a local Ray gives fn(**config) for each config, in order."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _sweep import run_sweep, sweep


def power(base, exponent):
    return base ** exponent


CONFIGS = [{"base": b, "exponent": e} for b, e in [(2, 10), (3, 3), (5, 0), (7, 2)]]
EXPECTED = [1024, 27, 1, 49]


def test_sweep_without_ray_runs_in_turn():
    assert sweep(power, CONFIGS) == EXPECTED


@pytest.mark.slow
def test_run_sweep_on_a_local_ray():
    """One local Ray of one CPU (starting Ray takes 10-30 s here): the tasks' results in the configs' order."""
    pytest.importorskip("ray")
    assert run_sweep(power, CONFIGS, num_cpus=1) == EXPECTED


def test_num_cpus_with_an_address_is_refused():
    with pytest.raises(ValueError, match="num_cpus"):
        run_sweep(power, CONFIGS, address="auto", num_cpus=1)
