r"""``pgm-control homework``: list, fetch, grade and build the course's assignments.

    pgm-control homework list
    pgm-control homework fetch NAME [--out DIR] [--solution]
    pgm-control homework grade NOTEBOOK [--json] [--timeout SECONDS]
    pgm-control homework build NAME --out DIR

``grade`` runs the notebook in a separate Jupyter kernel, in a temporary directory, with a time limit
per cell, and prints each question's score and the total; it exits 0 whenever a score was produced.
Every error is one line naming the option, with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

USAGE_ERROR = 2


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``prog: error: ...``) and exit with status 2."""

    def error(self, message: str):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def add_homework_parser(commands) -> None:
    """Add the ``homework`` subcommand group to ``pgm-control``'s subparsers."""
    homework = commands.add_parser("homework", help="course assignments: list, fetch, grade, build",
                                   description=__doc__.split("\n\n")[0])
    actions = homework.add_subparsers(dest="homework_command", required=True, parser_class=OneLineParser)
    listing = actions.add_parser("list", help="the assignments and their points")
    listing.set_defaults(handler=run_list)
    fetch = actions.add_parser("fetch", help="write an assignment's student notebook (or its solution)")
    fetch.add_argument("name", metavar="NAME", help="an assignment name from `pgm-control homework list`")
    fetch.add_argument("--out", default=".", help="output folder (default: the current folder)")
    fetch.add_argument("--solution", action="store_true", help="the solution notebook (for instructors)")
    fetch.set_defaults(handler=run_fetch)
    grade = actions.add_parser("grade", help="grade a notebook in a separate kernel")
    grade.add_argument("notebook", metavar="NOTEBOOK", help="the student's .ipynb")
    grade.add_argument("--json", action="store_true", help="print the scores as JSON")
    grade.add_argument("--timeout", type=float, default=60.0,
                       help="time limit per cell in seconds (default 60)")
    grade.set_defaults(handler=run_grade)
    build = actions.add_parser("build", help="build the Gradescope autograder zip with Otter Assign")
    build.add_argument("name", metavar="NAME", help="an assignment name from `pgm-control homework list`")
    build.add_argument("--out", required=True, help="output folder (student/ and autograder/ go there)")
    build.set_defaults(handler=run_build)


def _fail(args, message: str) -> int:
    """Print ``message`` as one error line of this subcommand; return the usage-error status."""
    print(f"pgm-control homework {args.homework_command}: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def run_list(args) -> int:
    """Print each assignment's name."""
    from pgm_control.course.grading import assignments

    for name in assignments():
        print(name)
    return 0


def run_fetch(args) -> int:
    """Write the student (or solution) notebook of ``args.name`` into ``args.out``."""
    from pgm_control.course.grading import fetch

    problem = _check_name_and_out(args)
    if problem:
        return _fail(args, problem)
    print(f"wrote {fetch(args.name, Path(args.out), solution=args.solution)}")
    return 0


def _check_name_and_out(args) -> str | None:
    """What is wrong with ``args.name`` (an assignment) and ``args.out`` (a folder), or None."""
    from pgm_control.course.grading import master_notebook

    try:
        master_notebook(args.name)
    except ValueError as error:
        return str(error)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        return f"--out: {args.out} exists and is not a folder"
    return None


def run_grade(args) -> int:
    """Grade ``args.notebook``; print the scores (text or JSON)."""
    from pgm_control.course.grading import grade

    if not args.timeout > 0:
        return _fail(args, f"--timeout: must be a positive number of seconds, got {args.timeout:g}")
    path = Path(args.notebook)
    if not path.is_file():
        return _fail(args, f"NOTEBOOK: no such file {path}")
    try:
        report = grade(path, timeout=args.timeout)
    except ValueError as error:  # not a homework notebook, or not a notebook at all
        return _fail(args, str(error).splitlines()[0])
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())
    return 0


def run_build(args) -> int:
    """Build ``args.name`` into ``args.out``; print where the autograder zip is."""
    from pgm_control.course.grading import build

    problem = _check_name_and_out(args)
    if problem:
        return _fail(args, problem)
    zip_path = build(args.name, Path(args.out))
    print(f"wrote {Path(args.out) / 'student' / (args.name + '.ipynb')} (hand this out)")
    print(f"wrote {zip_path} (upload to Gradescope as the autograder)")
    return 0
