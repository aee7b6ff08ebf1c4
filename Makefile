# PicoStim developer entry points. `make test` needs nothing installed by hand:
# it builds .venv and typings/ from the pinned requirements on first use and
# reuses them while the requirement files are unchanged.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BOARD ?= boards/stim4.json
PORT ?=
PROGRAM ?= lower_back
OUT ?= build/plot.png

.PHONY: help setup test silicon lint typecheck sim bench deploy plot safety-report clean

help:
	@echo "make test    - set up (first time) and run every test tier"
	@echo "make sim     - run firmware/main.py on the simulated board (BOARD=$(BOARD))"
	@echo "make silicon - the silicon tier alone: the firmware on MicroPython v1.28.0 in an emulated RP2040"
	@echo "make bench   - measure, write build/bench.json (and build/mutants.json: every mutant at the bench budget)"
	@echo "make safety-report - docs/hazards.md with the latest bench figures and mutant results: build/safety.html"
	@echo "make plot PROGRAM=lower_back OUT=build/plot.png - envelope and pulses of a program (name or JSON file)"
	@echo "make deploy PORT=/dev/ttyACM0 BOARD=boards/stim4.json - flash a real board"

NODE_DIR := host_tools/picostim/silicon/node

setup: $(VENV)/.installed typings/.installed $(NODE_DIR)/node_modules/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@echo "== setup: creating $(VENV) with pinned packages =="
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

typings/.installed: requirements-stubs.txt $(VENV)/.installed
	@echo "== setup: installing MicroPython rp2 stubs into typings/ =="
	rm -rf typings
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --target typings -r requirements-stubs.txt
	@touch $@

# The silicon tier (rp2040js) and the 32-bit VM tier (MicroPython webassembly)
# run under Node; their npm packages are pinned by package-lock.json.
$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "setup: Node.js 18+ and npm are needed for the silicon and mvm32 tiers (Debian: apt-get install nodejs npm)"; exit 1; }
	@echo "== setup: installing the pinned npm packages into $(NODE_DIR) =="
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test: setup
	$(PY) -m picostim.devtools.tiers

silicon: setup
	$(PY) -m picostim.devtools.tiers silicon

lint: setup
	$(PY) -m picostim.devtools.tiers ruff mypy-firmware mypy-host

sim: setup
	$(PY) -m picostim sim --board $(BOARD)

bench: setup
	$(PY) -m picostim bench

safety-report: setup
	$(PY) -m picostim safety-report -o build/safety.html

plot: setup
	$(PY) -m picostim plot $(PROGRAM) -o $(OUT) --board $(BOARD)

deploy: setup
	$(PY) -m picostim deploy --port "$(PORT)" --board $(BOARD)

clean:
	rm -rf build .mypy_cache .ruff_cache .hypothesis
