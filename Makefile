# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The browser tests (tests/e2e) drive Debian's Chromium through Playwright; nothing downloads a
# browser of its own, so pip must not try either.
CHROMIUM := /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: run test lint bench install clean chromium loaded-faults

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

# `make run PORT=4300` when 4200 is taken; `proctor dev` says which process holds a port in use.
PORT ?= 4200

run: $(STAMP)
	$(BIN)/proctor dev --port $(PORT)

# Debian's Chromium for the browser tests, installed only when it is missing (so a second run
# costs nothing), with sudo only when not root and sudo exists. Without apt-get it says so and
# goes on: the browser tests then skip with how to install it (and fail under CI=true).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "make: $(CHROMIUM) is missing and apt-get is not here; install Chromium by hand"; \
	  else \
	    SUDO=; \
	    if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi; \
	    echo "make: installing Chromium (apt-get install chromium) for the browser tests"; \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  fi; \
	fi

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check proctor tests bench examples

# The exactly-once and lifecycle fault tests, 20 rounds on a loaded machine (docs/guarantees.md).
loaded-faults: $(STAMP)
	bench/loaded_faults.sh $(or $(ROUNDS),20)

bench: $(STAMP)
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) build *.egg-info
