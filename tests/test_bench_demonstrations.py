"""The demonstrations benchmark runs: a smoke run of ``benchmarks/bench_demonstrations.py --quick``."""

from pathlib import Path

import pytest
from bench_helpers import run_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_demonstrations.py"


@pytest.mark.slow
def test_quick_run_prints_both_tables():
    status, output = run_script(SCRIPT, "--quick", timeout=300)
    assert status == 0, output
    assert "| method | after BC | after 1st update | change at 1st update | after 3 updates |" in output
    assert "| variant | after BC | after 20 steps | after 40 steps |" in output
    for name in ("on_policy", "importance", "naive", "demo buffer", "demo buffer + margin", "hybrid",
                 "demo buffer, prioritized", "demo buffer, prioritized + margin"):
        assert f"| {name} | " in output
    assert "## Prioritized replay: the demonstrations' share" in output
