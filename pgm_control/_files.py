"""Reading files as data: every loader of the library goes through here (core layer).

Nothing is unpickled: torch files are read with ``torch.load(weights_only=True)`` (tensors, numbers,
strings, bytes, lists, dicts) and NumPy files with ``allow_pickle=False``. A file that is missing raises
``FileNotFoundError``; one that is empty, truncated, foreign or altered, one ``ValueError`` naming the
file and the problem.
"""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path

import numpy as np
import torch


def existing_file(path) -> Path:
    """`path` as a Path to a non-empty file; FileNotFoundError / ValueError naming it otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}" + (" (it is a directory)" if path.is_dir() else ""))
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty")
    return path


def read_torch_file(path, what: str):
    """The contents of a file written by ``torch.save``, read as plain data (``weights_only=True``)."""
    path = existing_file(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zips, foreign pickles, random bytes: every way a file can be bad
        raise ValueError(f"{path} is not a readable {what}: {_describe_torch_error(error)}") from None


def read_npz_file(path, what: str) -> dict[str, np.ndarray]:
    """The arrays of a file written by ``np.savez``, read with ``allow_pickle=False``."""
    path = existing_file(path)
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("it is a single .npy array, not an .npz archive")
        with data:
            return {name: data[name] for name in data.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a readable {what} (.npz): {' '.join(str(error).split())}") from None


def check_format(path, contents, expected: str, what: str) -> None:
    """`contents` must be a dict whose "format" is `expected` (a name and a version number)."""
    if not isinstance(contents, dict):
        raise ValueError(f"{path} holds a {type(contents).__name__}, not a {what}")
    found = contents.get("format")
    name = expected.rsplit(" ", 1)[0]
    if found != expected:
        if isinstance(found, str) and found.startswith(name):
            raise ValueError(f"{path} is a {found!r} file; this version of pgm_control reads {expected!r} only: load "
                             "it with the version that wrote it and save it again")
        raise ValueError(f"{path} is not a {what} (format {found!r})")


@contextlib.contextmanager
def invalid_part(path, what: str):
    """Turn any error raised while checking or restoring `what` from the file at `path` into one
    ValueError naming both (the checks themselves raise plain ValueError/TypeError)."""
    try:
        yield
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError, OverflowError,
            RecursionError) as error:
        detail = f"missing key {error}" if isinstance(error, KeyError) else " ".join(str(error).split())
        raise ValueError(f"{path}: invalid {what}: {detail}") from None


def _describe_torch_error(error: Exception) -> str:
    text = str(error)
    if "WeightsUnpickler error" in text:
        reason = next(line for line in text.splitlines() if "WeightsUnpickler error" in line)
        return (f"it holds objects that are not plain data ({reason.strip()}); pgm_control never writes those, so "
                "the file was written by something else or altered. It was not unpickled")
    first_line = text.strip().splitlines()[0] if text.strip() else "no further detail"
    return f"it is truncated or not a torch file ({type(error).__name__}: {first_line})"
