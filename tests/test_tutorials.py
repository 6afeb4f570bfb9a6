"""Every tutorial notebook runs from top to bottom (its `assert` cells are the checks).

Notebooks are collected from ``tutorials/*.ipynb`` (sorted, so in learning order) when pytest collects this
module: a new ``03_*.ipynb`` is picked up without touching this file. Each runs in a fresh ``python3`` kernel
(the ipykernel of this venv) with ``PGM_CONTROL_QUICK=1``, which shrinks sample counts and nothing else,
through ``docs/tutorial_cache.py``: the executed notebook is kept in ``docs/_build/executed/`` for the
documentation build, which renders it instead of running it again, and a notebook whose source and whose
library code have not changed since its last successful run is not run again.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))


def _tutorial_cache():
    spec = importlib.util.spec_from_file_location("tutorial_cache", ROOT / "docs" / "tutorial_cache.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tutorials_are_found():
    assert NOTEBOOKS, f"no notebooks found in {TUTORIALS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_tutorial_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (
        f"{path.name}: code cells {dirty} hold outputs; clear them before committing, e.g. "
        f"`jupyter nbconvert --clear-output --inplace {path.relative_to(TUTORIALS.parent)}`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_tutorial_runs(path):
    executed = nbformat.read(_tutorial_cache().executed(path), as_version=4)
    errors = [output for cell in executed.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"
    assert not tqdm_warnings(executed), f"{path.name} printed {tqdm_warnings(executed)}"


def tqdm_warnings(notebook) -> list[str]:
    """The outputs of an executed notebook that carry a ``TqdmWarning``."""
    texts = [output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])]
    return [text for text in texts if "TqdmWarning" in text]


@pytest.mark.slow
def test_a_notebook_kernel_importing_the_library_prints_no_tqdm_warning():
    # Pyro imports tqdm.auto, which in a notebook kernel without ipywidgets warns "IProgress not found"
    # (the dev extra installs ipywidgets); the library's own bars are plain tqdm.
    notebook = new_notebook(cells=[new_code_cell("import pgm_control.inference\nimport pgm_control.rl")])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    assert tqdm_warnings(notebook) == []
