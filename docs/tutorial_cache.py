"""Execute the tutorials once per change and keep the executed copies for the documentation.

Both ``tests/test_tutorials.py`` and the Sphinx build (``docs/conf.py``) call :func:`executed`: it runs a
notebook in a fresh ``python3`` kernel with ``PGM_CONTROL_QUICK=1`` and writes the executed copy to
``docs/_build/executed/``, stamped with a key of the notebook's bytes and of every source file of
``pgm_control``. A later call with the same key reuses the copy, so ``make test`` (pytest, then the
docs) runs each tutorial once; the docs render the copies with myst-nb's execution switched off.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
EXECUTED = ROOT / "docs" / "_build" / "executed"
TIMEOUT_S = 600  # per cell
# Quick mode shrinks sample counts and nothing else; the inline backend keeps the figures as outputs
# without a display.
KERNEL_ENV = {"PGM_CONTROL_QUICK": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def tutorials() -> list[Path]:
    """Every ``tutorials/*.ipynb``, sorted (learning order)."""
    return sorted(TUTORIALS.glob("*.ipynb"))


def execution_key(path: Path) -> str:
    """sha256 of the notebook, the library's sources and the kernel environment."""
    digest = hashlib.sha256(path.read_bytes())
    for source in sorted((ROOT / "pgm_control").rglob("*.py")):
        digest.update(source.relative_to(ROOT).as_posix().encode())
        digest.update(source.read_bytes())
    digest.update(repr(sorted(KERNEL_ENV.items())).encode())
    return digest.hexdigest()


@contextmanager
def _kernel_environment():
    """Set KERNEL_ENV in os.environ (the kernel subprocess inherits it), restore afterwards."""
    saved = {name: os.environ.get(name) for name in KERNEL_ENV}
    os.environ.update(KERNEL_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def executed(path: Path, out_dir: Path = EXECUTED) -> Path:
    """The executed copy of notebook ``path`` in ``out_dir`` (run now unless an up-to-date copy exists).

    Raises nbclient's ``CellExecutionError`` when a cell fails (a tutorial's ``assert`` cells are its checks).
    """
    key = execution_key(path)
    target = out_dir / path.name
    if target.exists():
        previous = nbformat.read(target, as_version=4)
        if previous.metadata.get("pgm_control", {}).get("execution_key") == key:
            return target
    notebook = nbformat.read(path, as_version=4)
    with _kernel_environment():
        NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    notebook.metadata["pgm_control"] = {"execution_key": key}
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".ipynb.partial")
    nbformat.write(notebook, partial)
    partial.replace(target)
    return target
