# vodflow: every target works on a fresh machine with Python 3, make and git.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-full lint typecheck demo dev bench bench-quick package deploy plan destroy clean help

help:
	@echo "make install      create .venv and install everything (idempotent)"
	@echo "make test         ruff, mypy and the test suite"
	@echo "make test-full    the test suite including slow tests (full fault matrix)"
	@echo "make demo         the whole flow, locally, against the emulator"
	@echo "make dev          the local stack left running (emulator + API on a local port)"
	@echo "make bench        benchmarks (writes bench/results.json, results.md, throughput.png)"
	@echo "make package      SCF deployment zips under build/"
	@echo "make deploy       preflight, package, plan, then create or update the functions through the SCF API"
	@echo "make plan         what make deploy would create, update or leave alone; changes nothing"
	@echo "make destroy      remove the deployed functions and triggers (asks first; YES=1 does not ask)"
	@echo "make clean        remove .venv, build outputs and caches"

install: $(STAMP)

# The stamp is newer than every dependency file once installed: a second `make install` does nothing.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
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

demo: $(STAMP)
	$(BIN)/python -m vodflow_ops.demo

dev: $(STAMP)
	$(BIN)/python -m vodflow_ops.dev

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick

package: $(STAMP)
	$(BIN)/python -m vodflow_ops.packaging

# The credentials check runs on the system Python before anything is installed: without keys,
# `make deploy` fails in well under a second naming the variables, on a fresh clone too.
deploy plan:
	@$(PY) shared/vodflow_ops/preflight.py --credentials-only
	@$(MAKE) --no-print-directory $(STAMP)
	@$(BIN)/python -m vodflow_ops.deploy $@

destroy:
	@$(PY) shared/vodflow_ops/preflight.py --credentials-only
	@$(MAKE) --no-print-directory $(STAMP)
	@$(BIN)/python -m vodflow_ops.deploy destroy $(if $(YES),--yes)

clean:
	rm -rf $(VENV) build dist deploy/node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
