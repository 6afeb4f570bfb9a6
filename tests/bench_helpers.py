"""Run a benchmark script as the README runs it: a fresh interpreter, its output read back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(script, *args: str, timeout: float = 300) -> tuple[int, str]:
    """(exit status, stdout + stderr) of ``python script args...``; ``script`` is a path or a name in
    benchmarks/."""
    path = Path(script) if Path(script).is_absolute() else BENCHMARKS / script
    completed = subprocess.run([sys.executable, str(path), *map(str, args)], capture_output=True, text=True,
                               timeout=timeout, check=False)
    return completed.returncode, completed.stdout + completed.stderr
