"""Write the API reference pages (``docs/api/*.rst``) from the package itself.

One page per public package; each documents the names in the package's ``__all__`` (where users import
them from), then every public submodule with the public functions and classes it defines that the
package does not re-export. A function added anywhere in the library therefore appears without editing
the docs. Called by ``docs/conf.py`` before Sphinx reads its sources.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

PACKAGES = (
    "pgm_control",
    "pgm_control.envs",
    "pgm_control.models",
    "pgm_control.inference",
    "pgm_control.rl",
    "pgm_control.exploration",
    "pgm_control.meta",
    "pgm_control.viz",
    "pgm_control.course",
)


def _documented_kind(name: str, obj) -> bool:
    """Functions, classes and UPPER_CASE constants."""
    return inspect.isclass(obj) or inspect.isfunction(obj) or (name.isupper() and not inspect.ismodule(obj))


def exported(package) -> list[str]:
    """The package's ``__all__`` (functions, classes and constants), as listed."""
    return [name for name in getattr(package, "__all__", ()) if _documented_kind(name, getattr(package, name))]


def defined_here(module) -> list[str]:
    """Public functions, classes and constants whose home is ``module``, in source order."""
    source = inspect.getsource(module)
    lines = {name: _definition_line(source, name) for name, obj in vars(module).items()
             if not name.startswith("_") and _documented_kind(name, obj)}
    return sorted((name for name, line in lines.items() if line is not None), key=lines.get)


def _definition_line(source: str, name: str) -> int | None:
    """Where ``module`` defines ``name`` (``def``, ``class`` or an assignment), else None (imported)."""
    match = re.search(rf"^(?:def |class |async def )?{re.escape(name)}\b\s*[(:=]", source, flags=re.M)
    return source.count("\n", 0, match.start()) if match else None


def public_submodules(package) -> list[str]:
    """Public, non-package submodules of ``package``, sorted by name."""
    return sorted(info.name for info in pkgutil.iter_modules(package.__path__, package.__name__ + ".")
                  if not info.name.rsplit(".", 1)[1].startswith("_") and not info.ispkg)


def _automodule(name: str, members: list[str]) -> list[str]:
    """``automodule`` for the functions and classes, then one ``autodata`` per constant (autodoc leaves
    undocumented module data out of ``:members:``)."""
    constants = [member for member in members if member.isupper()]
    code = [member for member in members if member not in constants]
    lines = [f".. automodule:: {name}"]
    if code:
        lines += [f"   :members: {', '.join(code)}", "   :undoc-members:"]
    lines.append("")
    for constant in constants:
        lines += [f".. autodata:: {name}.{constant}", ""]
    return lines


def _members_only(module, members: list[str]) -> list[str]:
    """For a module named like an object its package exports (``inference.bayesian_irl``, the module,
    and ``bayesian_irl``, the function): document its members without declaring the module twice."""
    lines = [f".. py:currentmodule:: {module.__name__}", ""]
    for name in members:
        obj = getattr(module, name)
        kind = "autoclass" if inspect.isclass(obj) else "autofunction" if inspect.isfunction(obj) else "autodata"
        lines += [f".. {kind}:: {module.__name__}.{name}", ""]
    return lines


def package_page(package_name: str) -> str:
    """The reST text of one package's API page."""
    package = importlib.import_module(package_name)
    reexported = set(exported(package))
    title = f"``{package_name}``"
    lines = [title, "=" * len(title), ""]
    lines += _automodule(package_name, exported(package))
    for module_name in public_submodules(package):
        module = importlib.import_module(module_name)
        rest = [name for name in defined_here(module) if name not in reexported]
        heading = f"``{module_name}``"
        lines += [heading, "-" * len(heading), ""]
        shadowed = module_name.rsplit(".", 1)[1] in exported(package)
        lines += _members_only(module, rest) if shadowed else _automodule(module_name, rest)
    return "\n".join(lines)


def index_page() -> str:
    lines = ["API reference", "=============", "",
             "Generated from the docstrings: every public function and class of the library, listed where",
             "users import it from (the package), then each submodule's remaining public names.", "",
             ".. toctree::", "   :maxdepth: 2", ""]
    lines += [f"   {name}" for name in PACKAGES]
    return "\n".join(lines) + "\n"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_pages(out_dir: Path) -> list[Path]:
    """Write ``index.rst`` and one ``PACKAGE.rst`` per package into ``out_dir``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = {out_dir / "index.rst": index_page()}
    pages.update({out_dir / f"{name}.rst": package_page(name) for name in PACKAGES})
    for path, text in pages.items():
        _write_if_changed(path, text)
    return list(pages)
