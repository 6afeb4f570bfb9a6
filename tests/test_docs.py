"""The generated API reference names every public function, class and constant of the library."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from pathlib import Path

import pgm_control

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _load_api_pages():
    spec = importlib.util.spec_from_file_location("api_pages", DOCS / "api_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _public_modules():
    for info in pkgutil.walk_packages(pgm_control.__path__, "pgm_control."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            yield importlib.import_module(info.name)


def test_api_reference_covers_every_public_function_and_class(tmp_path):
    api_pages = _load_api_pages()
    text = "\n".join(path.read_text() for path in api_pages.write_pages(tmp_path))
    documented = set()
    for line in text.splitlines():
        if ":members:" in line:
            documented.update(name.strip() for name in line.split(":members:")[1].split(","))
        elif line.startswith((".. autofunction::", ".. autoclass::", ".. autodata::")):
            documented.add(line.split("::")[1].strip().rsplit(".", 1)[1])
    missing = [f"{module.__name__}.{name}" for module in [pgm_control, *_public_modules()]
               for name, obj in vars(module).items()
               if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
               and obj.__module__ == module.__name__ and name not in documented]
    assert not missing, f"public names missing from the API reference: {missing}"
