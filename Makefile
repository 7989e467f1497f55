# vodflow: every target works on a fresh machine with Python 3, make and git.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
# make dev ARGS="--port 9000 --bucket media-1250000000": options of the local stack (make dev ARGS=--help lists them)
ARGS ?=

.PHONY: install test test-full lint typecheck demo dev bench bench-quick package deploy plan destroy clean help

help:
	@echo "make install      create .venv and install everything, dev tools included (idempotent)"
	@echo "make test         ruff, mypy and the test suite"
	@echo "make test-full    the test suite including slow tests (full fault matrix)"
	@echo "make demo         the whole flow, locally, against the emulator"
	@echo "make dev          the local stack left running (emulator + API on a local port; ARGS=--help)"
	@echo "make bench        benchmarks (writes bench/results.json, results.md, throughput.png)"
	@echo "make package      SCF deployment zips under build/"
	@echo "make deploy       preflight, package, plan, then create or update the functions through the SCF API"
	@echo "make plan         what make deploy would create, update or leave alone; changes nothing"
	@echo "make destroy      remove the deployed functions and triggers (asks first; YES=1 does not ask)"
	@echo "make clean        remove .venv, build outputs and caches"

install: $(STAMP)

# Two stamps, so the first `make demo` is light: DEMO_STAMP is the runtime, the emulator extra, the CLI
# and PyAV (requirements-demo.txt); STAMP adds the dev tools (requirements-dev.txt) for test, lint, bench.
# Each stamp is newer than its dependency files once installed: a second run installs nothing.
$(DEMO_STAMP): requirements.txt requirements-demo.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-demo.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $(DEMO_STAMP)

$(STAMP): $(DEMO_STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check shared functions tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest -m "not slow"

test-full: lint typecheck
	$(BIN)/python -m pytest

demo: $(DEMO_STAMP)
	$(BIN)/python -m vodflow_ops.demo $(ARGS)

dev: $(DEMO_STAMP)
	$(BIN)/python -m vodflow_ops.dev $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick

package: $(DEMO_STAMP)
	$(BIN)/python -m vodflow_ops.packaging

# The credentials check runs on the system Python before anything is installed: without keys,
# `make deploy` fails in well under a second naming the variables, on a fresh clone too.
deploy plan:
	@$(PY) shared/vodflow_ops/preflight.py --credentials-only
	@$(MAKE) --no-print-directory $(DEMO_STAMP)
	@$(BIN)/python -m vodflow_ops.deploy $@

destroy:
	@$(PY) shared/vodflow_ops/preflight.py --credentials-only
	@$(MAKE) --no-print-directory $(DEMO_STAMP)
	@$(BIN)/python -m vodflow_ops.deploy destroy $(if $(YES),--yes)

clean:
	rm -rf $(VENV) build dist deploy/node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
