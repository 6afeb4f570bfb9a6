"""The deep-exploration benchmark script runs: a smoke run of ``benchmarks/bench_deep_exploration.py --quick``."""

import re
from pathlib import Path

import pytest
from bench_helpers import run_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_deep_exploration.py"
HEADER = ("| agent | seed | first treasure at step | treasures | cells (of 10) | final greedy return | solved | "
          "wall s |")


@pytest.mark.slow  # a fresh interpreter and a process pool: several seconds of imports
def test_quick_run_prints_one_run_of_each_agent():
    status, output = run_script(SCRIPT, "--quick", timeout=120)
    assert status == 0, output
    assert HEADER in output
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in output.splitlines()
            if re.match(r"^\| (no bonus|RND bonus) \| 0 \|", line)]
    assert [row[0] for row in rows] == ["no bonus", "RND bonus"]
    for row in rows:
        treasures, cells, final = int(row[3]), int(row[4]), float(row[5])
        assert 0 <= treasures <= 50 and 1 <= cells <= 10  # 200 steps are 50 episodes of N = 4
        assert -0.01 <= final <= 0.99 and row[6] == ("yes" if final > 0.5 else "no")
    assert re.search(r"^\| RND bonus \| [01]/1 \| [01]/1 \|", output, flags=re.MULTILINE)  # the summary row
