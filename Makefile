# teller: two commands on a fresh Debian machine with Python 3.11
#   make run    create .venv, install, start teller in dummy mode (http://127.0.0.1:7071)
#   make test   the whole test suite
#   make run PASSTHROUGH=1   the same, buying the SKY on a C2CX simulator (`teller-sim c2cx`)
#   make run SKYNODE=1       the same, paying real signed transactions through a Skycoin node
#                            simulator (`teller-sim skynode`) from its demo wallet
# With PASSTHROUGH or SKYNODE the simulator runs as its own process beside teller
# (`teller-sim demo`, sims/src/teller_sims/demo.py); Ctrl-C stops both.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA ?= data
CONFIG ?= src/teller/examples/config.toml
# PASSTHROUGH=1: buy_method passthrough on the project's C2CX simulator (BTC only); SKYNODE=1:
# dummy.sender off, paying through the Skycoin node simulator. Each in its own data directory
# (which also holds the simulator's files), so that the direct demo's bindings stay apart.
ifdef PASSTHROUGH
RUN_ENV := TELLER_SKY_EXCHANGER__BUY_METHOD=passthrough TELLER_ETH_SCANNER__ENABLED=false
SIMS += --c2cx
DATA := $(DATA)-passthrough
endif
ifdef SKYNODE
SIMS += --skynode
DATA := $(DATA)-skynode
endif
ifdef SIMS
WITH_SIMS := $(BIN)/teller-sim demo $(SIMS) --dir $(DATA) --
endif

.PHONY: run test test-deps lint bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml sims/pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./sims
	touch $(STAMP)

run: $(STAMP)
	$(RUN_ENV) $(WITH_SIMS) $(BIN)/teller -c $(CONFIG) -d $(DATA)

# System programs some tests run as real peers (litecoind, chromium, anvil); see the script.
test-deps:
	@sh scripts/install-test-deps.sh

# Three workers on the machine's two cores: much of the suite waits on real processes, chains
# and browsers rather than computing (measured: 399 s against 445 s with two). A test file stays
# on one worker, so the chain nodes a scanner test module starts once are started once.
# WORKERS=0 runs in this process.
WORKERS ?= 3
test: $(STAMP) test-deps
	@mkdir -p .tools
	$(BIN)/python -m tests.deploy.prepare_image >.tools/container-image.log 2>&1 & images=$$!; \
	$(BIN)/pytest -q -p no:cacheprovider -n $(WORKERS) --dist loadfile; status=$$?; \
	kill $$images 2>/dev/null; wait $$images; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check src tests bench sims
	$(BIN)/ruff format --check src tests bench sims
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info sims/build sims/src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
