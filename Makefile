# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run demo test lint format bench clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ai-signal needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(BIN)/.installed

run: install  ## run the app with the settings in .env
	$(BIN)/ai-signal run

demo: install  ## the whole product against a local Slack stand-in, no Slack account needed
	$(BIN)/ai-signal demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint  ## lint, then the full test suite (SQLite; PostgreSQL too when one is reachable)
	$(BIN)/pytest -q

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
