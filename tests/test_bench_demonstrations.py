"""The demonstrations benchmark runs: a smoke run of ``benchmarks/bench_demonstrations.py --quick``."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_demonstrations.py"


@pytest.mark.slow
def test_quick_run_prints_both_tables():
    completed = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True,
                               timeout=300, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "| method | after BC | after 1st update | change at 1st update | after 3 updates |" in output
    assert "| variant | after BC | after 20 steps | after 40 steps |" in output
    for name in ("on_policy", "importance", "naive", "demo buffer", "hybrid"):
        assert f"| {name} | " in output
