# Two entry points a person needs: `make demo` and `make test`; `make check` is the
# quick one to run while working (lint, types and the unit tests, under a minute).
# All create the virtual environment and install what they need themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo static check test lint format bench peers clean install uninstall deb

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/outpost demo

peers:
	scripts/install-peers

static: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: static
	$(BIN)/pytest tests/unit

# Unit and integration tests (one real peer each, mostly waiting on it) share two
# workers; the system tests, which load the machine as a whole station does, run one
# at a time, so their timing is a station's and not a neighbour's.
test: static peers
	$(BIN)/pytest -n 2 tests/unit tests/integration
	$(BIN)/pytest tests/system

lint: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Every benchmark in bench/ with its defaults: about 9 minutes on the 2-core development machine.
# A station runs from bytecode compiled when the package is installed; so do the
# benchmarks (an editable install with PYTHONDONTWRITEBYTECODE would recompile at every start).
bench: $(BIN)/.installed peers
	$(BIN)/python -m compileall -q gateway drivers simulators bench
	$(BIN)/python -m bench.peer
	$(BIN)/python -m bench.alarm_latency
	$(BIN)/python -m bench.response
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.durability
	$(BIN)/python -m bench.serial_bus
	$(BIN)/python -m bench.rtu_hostile
	$(BIN)/python -m bench.fleet

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache dist

# dist/outpost_<version>_<arch>.deb for this machine's architecture (README, "Install on a Raspberry Pi").
deb: $(BIN)/.installed peers
	scripts/build-deb

# On the Pi: sudo make install (DESTDIR=... stages into another root).
install:
	scripts/install

uninstall:
	scripts/install --uninstall
