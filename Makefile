# Every target builds .venv itself on a fresh machine (only python3 and make needed).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BENCH_INSTALLED := $(VENV)/.bench-installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster
# Debian packages whose fonts draw CJK and emoji in the plots (Hebrew is covered by matplotlib's own).
FONT_PACKAGES := fonts-noto-cjk fonts-symbola
# Debian's Chromium for the browser tests: playwright drives it, never a downloaded browser.
E2E_PACKAGES := chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test dev bench fonts e2e-deps postgres-deps e2e clean

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

# The benchmark baseline's seaborn and pandas (the `bench` extra): installed only to benchmark.
$(BENCH_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

bench: $(BENCH_INSTALLED)  ## print performance figures and write benchmarks/results.json
	$(BIN)/python benchmarks/run.py

fonts:  ## install the fonts that draw Chinese, Japanese, Korean and emoji names in the plots
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq --no-install-recommends $(FONT_PACKAGES)

e2e-deps:  ## install Debian's Chromium for the end-to-end browser tests
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq --no-install-recommends $(E2E_PACKAGES)

postgres-deps:  ## install Debian's PostgreSQL server for the test of deploy/dagster.yaml (test_postgres.py)
	$(SUDO) apt-get update -qq
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql

e2e: $(INSTALLED)  ## only the end-to-end tests (a real `dagster dev` and a real browser)
	$(BIN)/python -m pytest -m e2e

clean:  ## remove generated warehouse, reports and run history (keeps .venv)
	rm -rf reports .dagster warehouse/*.duckdb warehouse/*.wal
