# Two commands do all set-up: `make run` and `make test`. Only Python 3.11+ and make needed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# axe-core for the browser tests (tests/browser), from the npm registry; reinstalled when the
# lock file changes. Chromium itself is Debian's (/usr/bin/chromium): .ci/run installs it.
BROWSER_DEPS := tests/browser/node_modules/.installed-stamp

.PHONY: help setup browser-deps run test test-fast lint typecheck bench clean distclean

help:
	@echo "make run        start NATS, PostgreSQL, the four services and demo data"
	@echo "make test       run the whole test suite against real NATS and PostgreSQL"
	@echo "make test-fast  unit tests only (no servers)"
	@echo "make lint       ruff and mypy --strict on shared/"
	@echo "make bench      the benchmarks in bench/ (several minutes; results in bench/README.md)"
	@echo "make clean      delete make run's local state (.state/)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,test,dev]'
	@touch $(STAMP)

$(BROWSER_DEPS): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/browser --no-audit --no-fund && touch $@; \
	elif [ -n "$$CI" ]; then \
	  echo "npm is needed for the browser tests (axe-core); install Node.js and npm" >&2; exit 1; \
	else \
	  echo "npm not found: the browser tests will be skipped (install Node.js and npm to run them)"; \
	fi

browser-deps: $(BROWSER_DEPS)

setup: $(STAMP) browser-deps

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

bench: setup
	$(PY) -m bench.backbone
	$(PY) -m bench.matching
	$(PY) -m bench.feedback
	$(PY) -m bench.scheduling
	$(PY) -m bench.auth

clean:
	rm -rf .state

distclean: clean
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/browser/node_modules
