"""Shared steps of the homework tests: fetch notebooks through the CLI, grade one as JSON, plant an
edit in a copy, and run a master notebook's solutions in process."""

from __future__ import annotations

import json
import re

import nbformat

from pgm_control.cli import main
from pgm_control.course import grading


def fetch_notebooks(names, out):
    """Fetch the student and the solution notebook of each assignment into ``out`` through the CLI."""
    for name in names:
        assert main(["homework", "fetch", name, "--out", str(out)]) == 0
        assert main(["homework", "fetch", name, "--out", str(out), "--solution"]) == 0
    return out


def grade_json(path, capsys, *extra) -> dict:
    """``pgm-control homework grade PATH --json``: the report as a dict."""
    assert main(["homework", "grade", str(path), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def edited(source_path, target_path, old: str, new: str, extra_cells=()):
    """A copy of a notebook with ``old`` replaced by ``new`` in exactly one cell, plus extra cells."""
    notebook = nbformat.read(source_path, as_version=4)
    hits = [cell for cell in notebook.cells if old in cell.source]
    assert len(hits) == 1, f"{old!r} is in {len(hits)} cells"
    hits[0].source = hits[0].source.replace(old, new)
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in extra_cells)
    nbformat.write(notebook, target_path)
    return target_path



def assert_solution_full_and_student_zero(folder, name: str, points: int, capsys) -> None:
    """The fetched solution scores ``points`` with no messages; the student notebook scores 0 on every
    question, each message saying the stub is not implemented yet."""
    solution = grade_json(folder / f"{name}_solution.ipynb", capsys)
    assert solution["total"] == solution["possible"] == points, solution
    assert all(not question["messages"] for question in solution["questions"])
    student = grade_json(folder / f"{name}.ipynb", capsys)
    assert student["possible"] == points
    for question in student["questions"]:
        assert question["score"] == 0, question
        assert all("not implemented yet" in message for message in question["messages"]), question


def assert_bug_loses_exactly(folder, tmp_path, capsys, name: str, points: int, question: str, old: str, new: str,
                             message: str) -> None:
    """The solution with ``old`` replaced by ``new`` loses exactly ``question``'s 3 points, each of its 3
    tests failing with a message containing ``message``; every other question keeps its 3 points."""
    wrong = edited(folder / f"{name}_solution.ipynb", tmp_path / "wrong.ipynb", old, new)
    scores = {graded["name"]: graded for graded in grade_json(wrong, capsys)["questions"]}
    expected = {f"q{number}": 3 for number in range(1, points // 3 + 1)} | {question: 0}
    assert {graded: score["score"] for graded, score in scores.items()} == expected, scores
    assert len(scores[question]["messages"]) == 3
    assert all(message in text for text in scores[question]["messages"]), scores[question]

# ---- the master notebooks' solutions, in process ----------------------------------------------

def master_cells(name: str) -> list[str]:
    """The sources of the code cells of assignment ``name``'s master notebook."""
    return [cell.source for cell in nbformat.read(grading.master_notebook(name), as_version=4).cells
            if cell.cell_type == "code"]


def solution_code(source: str) -> str:
    """A master's solution cell without Otter's markers and without the student's prompt."""
    source = re.sub(r'\n    """ # BEGIN PROMPT\n.*?\n    """ # END PROMPT', "", source, flags=re.DOTALL)
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("# BEGIN SOLUTION NO PROMPT", "# END SOLUTION"))


def solution_namespace(name: str, replace: tuple[str, str] | None = None) -> dict:
    """The master's setup cell and solution functions, run here; ``replace`` edits one solution first."""
    cells = master_cells(name)
    namespace: dict = {}
    exec(cells[0], namespace)  # the setup cell (imports, the visible instance)
    solutions = [solution_code(cell) for cell in cells if "# BEGIN SOLUTION NO PROMPT" in cell]
    if replace is not None:
        hits = [index for index, code in enumerate(solutions) if replace[0] in code]
        assert len(hits) == 1, f"{replace[0]!r} is in {len(hits)} solutions"
        solutions[hits[0]] = solutions[hits[0]].replace(*replace)
    for code in solutions:
        exec(code, namespace)
    return namespace


def master_test_calls(name: str, module: str) -> list[tuple[str, str, int]]:
    """(check, function, seed) of every visible and hidden test cell of the master that calls
    ``module.check_...(function, seed=N)``."""
    pattern = re.compile(module + r"\.(check_\w+)\((\w+), seed=(\d+)\)")
    return [(check, function, int(seed)) for cell in master_cells(name)
            for check, function, seed in pattern.findall(cell)]
