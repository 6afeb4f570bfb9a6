# The two commands of the README:
#   make demo   -- set up .venv if needed, run `pgm-control demo`
#   make test   -- set up .venv if needed, run the whole test suite (tutorials included), then build the docs
# and:
#   make docs       -- the documentation site in docs/_build/html (warnings are errors)
#   make notebooks  -- JupyterLab on tutorials/ (installs the `notebooks` extra into .venv)
#
# Each tutorial runs once per `make test`: tests/test_tutorials.py executes it (quick mode) through
# docs/tutorial_cache.py, which keeps the executed copy in docs/_build/executed/ keyed by the notebook's
# and the library's sources; the docs build then renders that copy (myst-nb execution off) and runs a
# tutorial itself only when no up-to-date copy exists (e.g. `make docs` alone).
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed
NOTEBOOKS_STAMP := $(VENV)/.installed-notebooks
OUT    ?= pgm_control_output

.PHONY: demo test docs notebooks lint bench clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[dev,course,docs]"
	touch $(STAMP)

$(NOTEBOOKS_STAMP): $(STAMP)
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[dev,course,docs,notebooks]"
	touch $(NOTEBOOKS_STAMP)

demo: $(STAMP)
	$(VENV)/bin/pgm-control demo --out $(OUT)

test: $(STAMP)
	PGM_CONTROL_QUICK=1 MPLBACKEND=Agg $(VENV)/bin/python -m pytest --doctest-modules pgm_control tests
	$(MAKE) docs

docs: $(STAMP)
	$(VENV)/bin/sphinx-build -b html -W --keep-going -q docs docs/_build/html

notebooks: $(NOTEBOOKS_STAMP)
	$(VENV)/bin/jupyter lab tutorials

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_exact.py

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info docs/_build docs/api docs/tutorials
