"""Shared steps of the homework tests: fetch notebooks through the CLI, grade one as JSON, plant an
edit in a copy."""

from __future__ import annotations

import json

import nbformat

from pgm_control.cli import main


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
