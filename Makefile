# The README's commands. Everything installs into .venv from the package registries; nothing downloads
# a model or a data set at run time (WordLlama's weights ship inside its wheel).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KURA_HOME ?= $(CURDIR)/.kura
export DAGSTER_HOME ?= $(KURA_HOME)/dagster

.PHONY: setup browser kura-venv demo lint test test-postgres dev bench bench-ingest quality sample validate clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

setup: $(STAMP) browser

# The explorer's browser test drives Debian's Chromium through Playwright (never `playwright install`).
# Installed when missing and apt-get can (as root); otherwise a note, and that test says what is missing.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium for the explorer's browser test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: the browser test will not run"; \
	  else echo "no /usr/bin/chromium and no apt-get as root: the browser test will not run"; fi; \
	fi

# The real kura==0.5.4, which the tests load our Kura files and checkpoints with (kura_dagster_tests/kura/),
# in an environment of its own: its requirements would move ours (instructor pins rich<15 and the resolver
# downgrades openai), so it is not in the test extra.
KURA_VENV := .venv-kura
$(KURA_VENV)/.installed:
	$(PYTHON) -m venv $(KURA_VENV)
	$(KURA_VENV)/bin/python -m pip install --quiet kura==0.5.4
	@touch $@

kura-venv: $(KURA_VENV)/.installed

demo: $(STAMP)
	$(BIN)/kura-dagster demo

# The linter first (a few seconds): lint and formatting, as configured in pyproject.toml ([tool.ruff]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two workers (pytest-xdist): 6.5 minutes instead of 15-17 on the 2-core CI machine, as most tests wait on Dagster
# runs in subprocesses. `pytest -q` alone runs the suite in one process.
test: $(STAMP) $(KURA_VENV)/.installed browser lint
	$(BIN)/python -m pytest -q -n 2

# The README's Postgres instance, against a throwaway server (needs PostgreSQL's programs: apt-get install postgresql).
test-postgres: $(STAMP)
	$(BIN)/python -m pytest -q -m postgres

# The UI, the daemon (sensor, schedule, backfills, run queue) and the code server, on the instance that
# `kura-dagster run` uses. The instance config (run queue, one DuckDB writer step at a time in pool
# kura_duckdb) is written to $(DAGSTER_HOME)/dagster.yaml when that file is missing or empty.
dev: $(STAMP)
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/python -m kura_dagster.launch.instance
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $${KURA_DEV_PORT:-3000}

validate: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster definitions validate -w workspace.yaml

quality: $(STAMP)
	$(BIN)/python bench/quality.py

# Scale benchmark (bench/scale.py): 10k, 100k (3 runs each) and 1M conversations (1 run) in one partition,
# through Dagster; results in bench/results/scale.json and scale.md. BENCH_ARGS="--sizes 10000 100000" for less.
# Then the taxonomy's (bench/taxonomy_scale.py): a rebuild over a 1M-conversation window and a 100k day assigned
# to it; results in bench/results/taxonomy_scale.json and .md. TAXONOMY_BENCH_ARGS="--window 100000" for less.
bench: $(STAMP)
	$(BIN)/python bench/scale.py $(BENCH_ARGS)
	$(BIN)/python bench/taxonomy_scale.py $(TAXONOMY_BENCH_ARGS)

# Peak memory and speed of `kura-dagster ingest` on a generated 1 GB JSONL export (INGEST_MB to change).
bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest_memory.py --size-mb $${INGEST_MB:-1024}

sample: $(STAMP)
	$(BIN)/python scripts/generate_sample.py --out data

clean:
	rm -rf $(KURA_HOME) $(VENV) $(KURA_VENV) *.egg-info
