# Plaudit — `make run` serves on the embedded SQLite default, `make test` runs the suite.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_COMPAT := tests/compat/node

.PHONY: install run test lint typecheck unit bench bench-pg node-deps clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	PLAUDIT_WEBHOOK_ALLOW_PRIVATE=$${PLAUDIT_WEBHOOK_ALLOW_PRIVATE:-true} $(BIN)/plaudit serve

node-deps:
	@if [ -f $(NODE_COMPAT)/package-lock.json ] && [ ! -d $(NODE_COMPAT)/node_modules ]; then \
		npm ci --silent --no-audit --no-fund --prefix $(NODE_COMPAT); \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) node-deps lint typecheck
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest -m "not compat" -q

bench: $(STAMP)
	$(BIN)/python -m bench.run --database sqlite

bench-pg: $(STAMP)
	$(BIN)/python -m bench.run --database postgres

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache plaudit.db plaudit.db-*
