# make demo: set up .venv and run the main job on the built-in synthetic corpus.
# make test: set up .venv and run the test suite (tests/ and the doctests of bench/).
# Python 3.11 to 3.13 work (PYTHON=python3.13 make setup); 3.11, the default, is what CI
# runs. constraints.txt pins the torch pair that setup installs (pyproject.toml: a range).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(VENV)/bin/python -c "import speechbrain, transformers, torchaudio, opensmile, ray"
	touch $(STAMP)

setup: $(STAMP)

# Nested tuning: each variant trains on fold k with the configuration its search chose on fold
# k's own training part (no test session informs it). The choices are committed
# (tuning/synthetic/); `bench tune --grid ablations --budget 16 --search ramp` reproduces them
# (about 66 minutes on 2 cores), so the demo trains only.
demo: $(STAMP)
	$(VENV)/bin/bench run --grid ablations --tuned nested
	$(VENV)/bin/bench report --grid ablations --tuned nested

# Two pytest-xdist workers (a test file stays in one worker, so its module fixtures, such as
# a Ray cluster, start once); files with a test marked slow go first (tests/conftest.py).
# `pytest` alone runs the same tests serially. The 15 slowest tests are listed at the end,
# so every CI log shows where the time goes.
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
