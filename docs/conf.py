"""Sphinx configuration: myst-nb pages, furo, autodoc with napoleon (Google-style ``Args:``).

Before reading sources it (1) writes the API reference pages from the package (``api_pages.py``) and
(2) copies the executed tutorials into ``tutorials/`` (``tutorial_cache.py``: each notebook runs once
per change in quick mode, shared with ``tests/test_tutorials.py``); myst-nb renders those copies with
execution off. Both generated folders are git-ignored.
"""

from __future__ import annotations

import inspect
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))
sys.path.insert(0, str(DOCS.parent))

import api_pages  # noqa: E402
import tutorial_cache  # noqa: E402

import pgm_control  # noqa: E402

project = "pgm_control"
author = "pgm_control contributors"
release = version = pgm_control.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
html_theme = "furo"
html_title = f"pgm_control {release}"

myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # the notebooks arrive executed (see the module docstring)
nb_merge_streams = True

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_inherit_docstrings = False  # gymnasium's docstrings are not written for this site
autodoc_default_options = {"show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # "Attributes:" as fields: autodoc already documents dataclass fields as members

# Broken internal references fail the build (`make docs` runs sphinx-build -W --keep-going).
nitpicky = True
# Types of other libraries: their inventories (intersphinx) cannot be fetched offline, so references to
# them cannot resolve; everything of pgm_control must.
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|pyro|numpy|np|gymnasium|gym|matplotlib|networkx|nx|tqdm)(\..*)?"),
    (r"py:.*", r"(pathlib|argparse|abc|collections|typing|os|io|csv|dataclasses)\..*"),
    (r"py:class", r"(Tensor|Path|Axes|Figure|DiGraph|Distribution|ExpandedDistribution|ELBO|Env|Space|"
                  r"Generator|Module|ObsType|ActType)"),
]


def _prepare_sources() -> None:
    api_pages.write_pages(DOCS / "api")
    target = DOCS / "tutorials"
    target.mkdir(exist_ok=True)
    names = set()
    for notebook in tutorial_cache.tutorials():
        executed = tutorial_cache.executed(notebook)
        names.add(notebook.name)
        destination = target / notebook.name
        if not destination.exists() or destination.read_bytes() != executed.read_bytes():
            shutil.copyfile(executed, destination)
    for stale in target.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()


_prepare_sources()


# -- The docstrings write math as plain text, the house style: equations in indented blocks after a
# paragraph, and inline ``p(s'|s,a)``, ``|A|``. reST would read the blocks as block quotes (losing the
# alignment) and ``|...|`` as substitutions: make each such block a literal block and escape ``|``
# elsewhere (outside inline literals, roles, literal blocks and doctests).
_PROTECTED = re.compile(r"(``.+?``|:[\w:]+:`[^`]*`|`[^`]*`_?)")
_NOT_PROSE = re.compile(r"^\s*(\.\. |:\w[^:]*:|[-*+] |\d+\. |>>>|\.\.\.)")


def _escape_bars(line: str) -> str:
    parts = _PROTECTED.split(line)
    return "".join(part if i % 2 else part.replace("|", r"\|") for i, part in enumerate(parts))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _open_literal_blocks(lines: list[str]) -> None:
    """End a prose paragraph with ``::`` where an indented block follows it after a blank line."""
    for i in range(1, len(lines) - 1):
        paragraph, blank, block = lines[i - 1], lines[i], lines[i + 1]
        if blank.strip() or not paragraph.strip() or not block.strip():
            continue
        start = i - 1
        while start > 0 and lines[start - 1].strip():
            start -= 1
        if _indent(block) <= _indent(lines[start]) or _NOT_PROSE.match(lines[start]):
            continue
        if _NOT_PROSE.match(block) or paragraph.rstrip().endswith("::"):
            continue
        text = paragraph.rstrip()
        lines[i - 1] = text + ":" if text.endswith(":") else text + " ::"


def _first_line(lines: list[str]) -> str:
    return next((line.strip() for line in lines if line.strip()), "")


def _process_docstring(app, what, name, obj, options, lines) -> None:
    inherited = {_first_line((doc or "").splitlines()) for doc in (getattr(obj, "__doc__", None),
                                                                   inspect.getdoc(type(obj)))}
    if what == "data" and _first_line(lines) in inherited:
        lines.clear()  # an undocumented constant: not its type's docstring (dict's, ndarray's)
    _open_literal_blocks(lines)
    literal_indent = None  # indentation of the paragraph that opened a literal block (`::`)
    in_doctest = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if literal_indent is not None and stripped and _indent(line) <= literal_indent:
            literal_indent = None
        if stripped.startswith(">>>"):
            in_doctest = True
        elif not stripped:
            in_doctest = False
        if literal_indent is None and not in_doctest:
            lines[i] = _escape_bars(line)
        if stripped.endswith("::") and literal_indent is None:
            literal_indent = _indent(line)


# -- Type hints name library classes without their module (``mdp: TabularMDP``, from string annotations),
# and docstrings write ``OffPolicyAgent.save`` or a function's defining module: resolve such a name to
# the one documented pgm_control object it can mean (several: left unresolved, so the build fails).
def _resolve_short_names(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    if target.startswith("pgm_control."):  # a submodule path of an object documented where it is exported
        target = target.rsplit(".", 1)[1]
    domain = env.get_domain("py")
    matches = [full for full in domain.objects
               if full.startswith("pgm_control.") and full.endswith("." + target)
               and not domain.objects[full].aliased]
    if len(matches) != 1:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], matches[0], node, contnode)


def setup(app):
    app.connect("autodoc-process-docstring", _process_docstring)
    app.connect("missing-reference", _resolve_short_names)
