# make demo: set up .venv and run the main job on the built-in synthetic corpus.
# make test: set up .venv and run the test suite (tests/ and the doctests of bench/).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[dev]"
	$(VENV)/bin/python -c "import speechbrain, transformers, torchaudio, opensmile, ray"
	touch $(STAMP)

setup: $(STAMP)

# The variants train with their configurations tuned on fold 1 (tuning/synthetic/, committed;
# `bench tune --grid ablations --folds 1 --budget 16 --search ramp` reproduces them).
demo: $(STAMP)
	$(VENV)/bin/bench run --grid ablations --tuned fold1
	$(VENV)/bin/bench report --grid ablations --tuned fold1

# Two pytest-xdist workers (a test file stays in one worker, so its module fixtures, such as
# a Ray cluster, start once); files with a test marked slow go first (tests/conftest.py).
# `pytest` alone runs the same tests serially. The 15 slowest tests are listed at the end,
# so every CI log shows where the time goes.
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
