"""What both benchmark scripts print: markdown tables, agreement checks and machine facts."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Table:
    """A markdown table, printed row by row as results arrive."""

    def __init__(self, columns: list[str], align: str):
        print("| " + " | ".join(columns) + " |")
        print("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|", flush=True)

    def row(self, *cells):
        print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


class Agreement:
    """Collects the |difference| of each comparison and prints one agreement line for each."""

    def __init__(self, tol: float | None = None):
        self.tol = tol
        self.lines: list[str] = []
        self.failures = 0

    def check(self, label: str, difference: float, tol: float | None = None) -> str:
        tol = self.tol if tol is None else tol
        ok = bool(difference <= tol)  # NaN fails
        self.failures += not ok
        self.lines.append(f"agreement: {label}: max |diff| = {difference:.2e} "
                          f"{'<=' if ok else 'EXCEEDS'} {tol:.0e} {'ok' if ok else 'FAIL'}")
        return f"{difference:.1e} {'ok' if ok else 'FAIL'}"

    def report(self) -> None:
        for line in self.lines:
            print(line)
        total = len(self.lines)
        print(f"\nagreement: {total - self.failures}/{total} comparisons within tolerance")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def load_average() -> str:
    """The 1-minute load average: other processes on the shared cores skew the timings."""
    try:
        return f"load average {os.getloadavg()[0]:.2f}"
    except OSError:
        return "load average unknown"


def library_version() -> str:
    """The commit of the working tree, flagged when pgm_control/ has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "pgm_control"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {commit}" + (" + uncommitted changes in pgm_control/" if dirty else "")
