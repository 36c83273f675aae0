# Two commands do all set-up: `make run` and `make test`. Only Python 3.11+ and make needed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: help setup run test test-fast lint typecheck bench clean distclean

help:
	@echo "make run        start NATS, PostgreSQL, the four services and demo data"
	@echo "make test       run the whole test suite against real NATS and PostgreSQL"
	@echo "make test-fast  unit tests only (no servers)"
	@echo "make lint       ruff and mypy --strict on shared/"
	@echo "make clean      delete make run's local state (.state/)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,test,dev]'
	@touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m shared.launcher

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf .state

distclean: clean
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
