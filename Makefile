# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/proctor run examples/00_etl.py:flow
	$(BIN)/proctor run examples/01_parallel.py:flow --executor threads:4
	$(BIN)/proctor run examples/02_parameters.py:etl --param n=7
	@# step 3 ends Failed on purpose (exit code 1): the '-' lets `make run` go on
	-$(BIN)/proctor run examples/03_errors_and_triggers.py:flow
	-$(BIN)/proctor run examples/04_hooks.py:flow

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check proctor tests bench examples

bench: $(STAMP)
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) build *.egg-info
