# teller: two commands on a fresh Debian machine with Python 3.11
#   make run    create .venv, install, start teller in dummy mode (http://127.0.0.1:7071)
#   make test   the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA ?= data
CONFIG ?= src/teller/examples/config.toml

.PHONY: run test test-deps lint bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/teller -c $(CONFIG) -d $(DATA)

# System programs some tests run as real peers (litecoind, chromium, anvil); see the script.
test-deps:
	@sh scripts/install-test-deps.sh

test: $(STAMP) test-deps
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
