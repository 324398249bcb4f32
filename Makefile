# Every target builds .venv itself on a fresh machine (only python3 and make needed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster

.PHONY: demo test dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(INSTALLED)  ## build the whole graph on the embedded demo library
	$(BIN)/playlist-assets materialize --source demo

test: $(INSTALLED)  ## run the test suite
	$(BIN)/python -m pytest

dev: $(INSTALLED)  ## the Dagster UI on the same instance folder as `make demo`
	$(BIN)/playlist-assets init-instance
	$(BIN)/dagster dev -w workspace.yaml

bench: $(INSTALLED)  ## print performance figures and write benchmarks/results.json
	$(BIN)/python benchmarks/run.py

clean:  ## remove generated warehouse, reports and run history (keeps .venv)
	rm -rf reports .dagster warehouse/*.duckdb warehouse/*.wal
