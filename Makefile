# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install lock image-check run demo test lint format bench bench-wrk clean browser

# Installs come from the lock files, pinned with hashes: requirements.lock (what the app needs,
# used by the container image) and requirements-dev.lock (that plus the dev tools, used here).
# `make lock` refreshes both from pyproject.toml.
LOCK_TOOL := $(BIN)/uv
LOCK := $(LOCK_TOOL) pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --no-header

$(BIN)/.installed: pyproject.toml requirements-dev.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ai-signal needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

install: $(BIN)/.installed

$(LOCK_TOOL):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check 'uv>=0.5,<1'

lock: $(LOCK_TOOL)  ## re-resolve requirements.lock and requirements-dev.lock from pyproject.toml
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev -o requirements-dev.lock

image-check: install  ## build the container image on a local Debian base, run it, call /healthz
	PYTHON=$(abspath $(BIN)/python) scripts/image-check.sh

run: install  ## run the app with the settings in .env
	$(BIN)/ai-signal run

demo: install  ## the whole product against a local Slack stand-in, no Slack account needed
	$(BIN)/ai-signal demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# A test mostly waits (Slack's pace, deadlines, processes starting): six workers overlap the
# waits on two cores until the CPU is the limit (2026-12-03: 91-99 s against 107 s with four,
# 96 s with eight). worksteal: a worker that runs out takes half of another's queue, so the run
# does not end on one worker still holding the long tests it was given at the start.
TEST_WORKERS ?= 6

# The report's browser tests open it in Debian's headless Chromium (skipped if it is absent).
CHROMIUM ?= /usr/bin/chromium
browser:  ## install Debian's chromium for the browser tests, unless it is there already
	@if [ -x $(CHROMIUM) ]; then echo "chromium: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "chromium is not installed and cannot be (needs root and apt-get): browser tests skip"; fi

# Bytecode is written and kept even where PYTHONDONTWRITEBYTECODE is set: the app's code is
# compiled once up front (each `ai-signal` process a test starts then skips about 0.25 s of CPU
# compiling it), and pytest keeps its rewritten test modules for the next run.
test: lint browser  ## lint, then the full test suite (SQLite; PostgreSQL too when one is reachable)
	$(BIN)/python -m compileall -q bot handlers models
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal

# wrk (a Debian package) is the load generator of bench/wrk_load.py; installed here if absent.
bench-wrk: install  ## throughput, latency and CPU per request under wrk: ai-signal, bare Bolt, bare HTTP
	@command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python bench/wrk_load.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
