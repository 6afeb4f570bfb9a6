r"""Build, hand out and grade the homework: Otter Assign for the files, a Jupyter kernel for the grading.

Each assignment is one Otter Assign master notebook, ``assignments/NAME/NAME.ipynb`` (questions,
solutions, visible and hidden tests). ``otter assign`` builds from it the student notebook, the
solution notebook and the Gradescope autograder zip.

Local grading (:func:`grade`) never runs the student's code in this process: the notebook is copied
into a fresh temporary directory and executed there by a separate Jupyter kernel, each cell with a
time limit (a cell past it is interrupted and the grading goes on). The autograder's tests, hidden ones
included, then run in that kernel, one question per cell, and the kernel writes the scores as JSON,
which is all this process reads back.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

ASSIGNMENTS_DIR = Path(__file__).parent / "assignments"
# What the Gradescope image installs (the autograder zip's requirements.txt); see the instructors' page.
REQUIREMENTS = "pgm_control[course]\n"
DEFAULT_TIMEOUT = 60.0


def assignments() -> list[str]:
    """Names of the shipped assignments, in course order."""
    return sorted(path.parent.name for path in ASSIGNMENTS_DIR.glob("*/*.ipynb")
                  if path.stem == path.parent.name)


def master_notebook(name: str) -> Path:
    """The master notebook of assignment ``name``; ``ValueError`` naming the choices if unknown."""
    if name not in assignments():
        raise ValueError(f"NAME: unknown assignment {name!r}; choose from {', '.join(assignments())}")
    return ASSIGNMENTS_DIR / name / f"{name}.ipynb"


def otter_assign(name: str, out_dir: Path, run_tests: bool = False) -> Path:
    """Run ``otter assign`` on the master of ``name`` into ``out_dir`` (``student/``, ``autograder/``).

    With ``run_tests`` Otter also grades the solution notebook with every test (slower; a failing
    solution is an error). Returns ``out_dir``.
    """
    master = master_notebook(name)
    with tempfile.TemporaryDirectory(prefix="pgm_control_assign_") as work:
        shutil.copy(master, work)
        (Path(work) / "requirements.txt").write_text(REQUIREMENTS)
        command = [sys.executable, "-m", "otter", "assign", master.name, str(Path(out_dir).resolve()),
                   "--no-pdfs", *([] if run_tests else ["--no-run-tests"])]
        done = subprocess.run(command, cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"otter assign failed for {name}:\n{done.stdout}\n{done.stderr}")
    return Path(out_dir)


def fetch(name: str, out_dir: Path, solution: bool = False) -> Path:
    """Write the student notebook (or, with ``solution``, the solution notebook) of ``name`` into
    ``out_dir``; returns its path."""
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="pgm_control_fetch_") as work:
        built = otter_assign(name, Path(work) / "dist")
        source = built / ("autograder" if solution else "student") / f"{name}.ipynb"
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / (f"{name}_solution.ipynb" if solution else f"{name}.ipynb")
        shutil.copy(source, target)
    return target


def build(name: str, out_dir: Path) -> Path:
    """Build ``name`` with Otter Assign into ``out_dir``, checking that the solution passes every test;
    returns the Gradescope autograder zip."""
    otter_assign(name, Path(out_dir), run_tests=True)
    return next((Path(out_dir) / "autograder").glob("*.zip"))


# ---- grading ---------------------------------------------------------------------------------

@dataclass
class QuestionScore:
    """One question's score and the messages of its failed test cases."""

    name: str
    score: float
    possible: float
    messages: list[str] = field(default_factory=list)


@dataclass
class GradeReport:
    """The scores of one notebook, question by question, and notes on how the run went."""

    assignment: str
    questions: list[QuestionScore]
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(question.score for question in self.questions)

    @property
    def possible(self) -> float:
        return sum(question.possible for question in self.questions)

    def to_dict(self) -> dict:
        return {"assignment": self.assignment, "total": self.total, "possible": self.possible,
                "questions": [asdict(question) for question in self.questions], "notes": self.notes}

    def to_text(self) -> str:
        lines = [f"{self.assignment}"]
        for question in self.questions:
            lines.append(f"  {question.name}: {question.score:g} / {question.possible:g}")
            lines.extend(f"      {message}" for message in question.messages)
        lines.append(f"total: {self.total:g} / {self.possible:g}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


# Runs in the student's kernel after the notebook: one cell per question, then the JSON export.
_CHECK_CELL = """\
from otter.execute import Checker as _pgm_checker
_pgm_checker.check_if_not_already_checked({test!r})"""
_EXPORT_CELL = """\
import json as _pgm_json
from otter.execute import Checker as _pgm_checker
_pgm_results = {{
    _pgm_file.name: {{
        "score": _pgm_file.score,
        "cases": [
            {{"passed": _pgm_case.passed, "hidden": _pgm_case.test_case.hidden, "message": _pgm_case.message}}
            for _pgm_case in _pgm_file.test_case_results
        ],
    }}
    for _pgm_file in _pgm_checker.get_results()
}}
with open({path!r}, "w") as _pgm_out:
    _pgm_json.dump(_pgm_results, _pgm_out)"""


def notebook_assignment(notebook) -> str:
    """The assignment a student notebook belongs to (Otter's metadata); ``ValueError`` if none."""
    name = notebook.metadata.get("otter", {}).get("assignment_name")
    if name not in assignments():
        raise ValueError("NOTEBOOK: not a homework notebook (no known assignment name in its Otter "
                         "metadata); start from `pgm-control homework fetch NAME`")
    return name


@functools.lru_cache(maxsize=None)
def autograder_tests(name: str) -> dict[str, str]:
    """The source of the autograder's test files of ``name`` (hidden tests included), by question;
    built once per process with Otter Assign."""
    with tempfile.TemporaryDirectory(prefix="pgm_control_tests_") as work:
        built = otter_assign(name, Path(work) / "dist")
        with zipfile.ZipFile(next((built / "autograder").glob("*.zip"))) as archive:
            return {Path(member).stem: archive.read(member).decode()
                    for member in sorted(archive.namelist())
                    if member.startswith("tests/") and member.endswith(".py")}


def write_tests(name: str, tests_dir: Path) -> dict[str, float]:
    """Write the autograder's test files of ``name`` into ``tests_dir``; returns each question's points."""
    points = {}
    for question, source in autograder_tests(name).items():
        (tests_dir / f"{question}.py").write_text(source)
        scope: dict = {}
        exec(compile(source, f"{question}.py", "exec"), scope)  # Otter's generated test file, not student code
        points[question] = float(scope["test"]["points"])
    return points


def grade(notebook_path: Path, timeout: float = DEFAULT_TIMEOUT) -> GradeReport:
    """Grade a student notebook in a separate kernel (``timeout`` seconds per cell); see the module."""
    from nbclient.exceptions import DeadKernelError
    from nbconvert.preprocessors import ExecutePreprocessor
    from otter.execute.logging import start_server
    from otter.execute.preprocessor import GradingPreprocessor

    try:
        notebook = nbformat.read(notebook_path, as_version=4)
    except (OSError, ValueError) as error:
        raise ValueError(f"NOTEBOOK: {notebook_path} is not a readable Jupyter notebook") from error
    name = notebook_assignment(notebook)
    with tempfile.TemporaryDirectory(prefix="pgm_control_grade_") as scratch:
        scratch = Path(scratch)
        tests_dir, work_dir, results_path = scratch / "tests", scratch / "work", scratch / "results.json"
        tests_dir.mkdir()
        work_dir.mkdir()
        points = write_tests(name, tests_dir)
        (host, port), stop_server = start_server()
        try:
            grading = GradingPreprocessor(
                cwd=str(work_dir), test_dir=str(tests_dir), tests_glob=[], results_path=str(results_path),
                logging_server_host=host, logging_server_port=port, force_python3_kernel=True,
                seed=None, seed_variable=None)
            notebook, _ = grading.preprocess(notebook)
            notebook.cells[-1:] = [  # Otter's pickle export becomes one cell per question and JSON
                *(nbformat.v4.new_code_cell(_CHECK_CELL.format(test=str(tests_dir / f"{question}.py")))
                  for question in points),
                nbformat.v4.new_code_cell(_EXPORT_CELL.format(path=str(results_path)))]
            executor = ExecutePreprocessor(timeout=timeout, interrupt_on_timeout=True, allow_errors=True,
                                           kernel_name="python3")
            notes = []
            try:
                executed, _ = executor.preprocess(notebook, {"metadata": {"path": str(work_dir)}})
                notes += _interrupted_cells(executed, timeout)
            except DeadKernelError:
                notes.append("the notebook's kernel died (did the notebook exit or crash Python?)")
        finally:
            stop_server()
        results = _read_results(results_path, notes)
    return GradeReport(name, [_question_score(question, possible, results.get(question))
                              for question, possible in points.items()], notes)


def _interrupted_cells(executed, timeout: float) -> list[str]:
    """Notes for the cells that ran past the time limit and were interrupted."""
    return [f"cell {index} was stopped after the {timeout:g} s time limit (an endless loop?)"
            for index, cell in enumerate(executed.cells)
            if any(output.get("ename") == "KeyboardInterrupt" for output in cell.get("outputs", []))]


def _read_results(path: Path, notes: list[str]) -> dict:
    """The kernel's JSON scores; empty (all questions 0) with a note if it wrote none."""
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        notes.append("the kernel wrote no scores (the notebook stopped the grading); every question 0")
        return {}
    return results if isinstance(results, dict) else {}


def _question_score(question: str, possible: float, result: dict | None) -> QuestionScore:
    """A question's score from the kernel's result; 0 with a reason when it has none."""
    if not isinstance(result, dict):
        return QuestionScore(question, 0.0, possible, ["not graded: its tests did not finish "
                                                      "(interrupted at the time limit, or an error)"])
    score = min(max(float(result.get("score", 0.0)), 0.0), possible)
    messages = [_failure_line(case.get("message") or "", case.get("hidden", False))
                for case in result.get("cases", []) if not case.get("passed")]
    return QuestionScore(question, score, possible, messages)


def _failure_line(message: str, hidden: bool) -> str:
    """The last meaningful line of a failed doctest (the check's message), tagged hidden/visible."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line.split(":")[0]]
    reason = errors[-1] if errors else (lines[-1] if lines else "failed")
    return f"{'hidden' if hidden else 'visible'} test: {reason}"
