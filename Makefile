# The two commands of the README:
#   make demo   -- set up .venv if needed, run `pgm-control demo`
#   make test   -- set up .venv if needed, run the whole test suite (tutorials included)
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed
OUT    ?= pgm_control_output

.PHONY: demo test lint bench clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[dev,course]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pgm-control demo --out $(OUT)

test: $(STAMP)
	PGM_CONTROL_QUICK=1 MPLBACKEND=Agg $(VENV)/bin/python -m pytest --doctest-modules pgm_control tests

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_exact.py

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info
