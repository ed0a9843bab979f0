# Touchstone — `make run` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export CARGO_TARGET_DIR ?= $(HOME)/.cache/touchstone-target
VENV          := $(CARGO_TARGET_DIR)/venv
PYTHON        := $(VENV)/bin/python
RAW           ?= data/raw
WAREHOUSE     ?= warehouse
# The sample exports cover 2026-08-01 .. 2026-10-29 (90 days); the run is for their last day.
RUN_DATE      ?= 2026-10-29
PY_PACKAGES   := pyarrow==26.0.1 deltalake==1.6.6 duckdb==2.0.0 pandas 'psycopg[binary]' 'moto[server]' \
                 azure-storage-blob==12.31.1 mpmath==1.3.0 scipy==1.17.1
NODE_DIR      := $(CARGO_TARGET_DIR)/node
AZURITE       := $(NODE_DIR)/node_modules/.bin/azurite-blob
BIN           := $(CARGO_TARGET_DIR)/release/touchstone

.PHONY: help run build release generate test test-deps fmt clippy deny machete doc nextest doctest bench bench-pipeline bench-value clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-10s %s\n", $$1, $$2}'

run: release ## Build (release), generate sample exports if absent, run the default pipeline
	@if [ ! -d "$(RAW)/salesforce" ]; then \
		echo "Generating sample exports into $(RAW) ..."; \
		$(BIN) generate --out $(RAW); \
	fi
	TOUCHSTONE_RAW=$(RAW) TOUCHSTONE_WAREHOUSE=$(WAREHOUSE) $(BIN) run pipelines/customer_success.yaml --date $(RUN_DATE)
	@echo
	@echo "Outputs are Delta tables under $(WAREHOUSE)/ (staging/, marts/, rejects/). Try:"
	@echo "  $(BIN) query \"select metric, period_start, dimensions, round(value, 1) as value from metric_values where metric = 'csat_pct' and dimensions = '' order by period_start desc limit 7\""

release: ## Build the touchstone binary in release mode
	cargo build --release -p touchstone-cli

build: ## Build everything in debug mode
	cargo build --workspace --all-targets

generate: release ## Write sample exports into $(RAW) (overwrites)
	$(BIN) generate --out $(RAW)

test: test-deps fmt clippy deny machete doc nextest doctest ## Everything CI runs: format, lints, licenses, unused deps, docs, all tests

test-deps: $(VENV)/.installed $(AZURITE) ## Install what the tests need (Python venv: pyarrow, deltalake, duckdb, moto, psycopg; Azurite; psql; cargo-deny, cargo-machete)
	@command -v psql >/dev/null || { apt-get update && apt-get install -y postgresql-client; }
	@command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked
	@command -v cargo-deny >/dev/null || cargo install cargo-deny --locked --version 0.20.2
	@command -v cargo-machete >/dev/null || cargo install cargo-machete --locked --version 0.9.2

# Azurite, Microsoft's Azure Storage emulator, for the az:// test; needs Node.js and npm.
$(AZURITE):
	@command -v npm >/dev/null || { apt-get update && apt-get install -y nodejs npm; }
	npm install --prefix $(NODE_DIR) --no-audit --no-fund --loglevel=error azurite@3.35.0

$(VENV)/.installed: Makefile
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PY_PACKAGES)
	touch $@

fmt: ## Check formatting
	cargo fmt --all -- --check

clippy: ## Lints, warnings are errors
	cargo clippy --workspace --all-targets -- -D warnings

# Licenses, bans and sources always; the advisory database lives on GitHub, so advisories are
# checked when it can be fetched and reported as skipped (with the reason) when it cannot.
deny: ## Dependency licenses, duplicate/banned crates, sources (and advisories when reachable)
	cargo deny --log-level error check licenses bans sources
	@if cargo deny --log-level error fetch db >/dev/null 2>&1; then cargo deny --log-level error check advisories; \
	 else echo "cargo deny: the advisory database (github.com/rustsec/advisory-db) is unreachable from here; advisories not checked"; fi

machete: ## Declared dependencies that no code uses
	cargo machete

doc: ## API docs build without warnings (broken links, bad examples)
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace

nextest: test-deps ## Unit and integration tests
	TOUCHSTONE_PYTHON=$(PYTHON) cargo nextest run --workspace --no-fail-fast

doctest: ## Documentation examples
	cargo test --workspace --doc

# make bench: the default pipeline next to DuckDB doing the same work on the same exports
# (bench/pipeline.py, per stage, peak RSS, staging per source, one big CSV staged alone), and
# our BG/NBD and Gamma-Gamma fits (release) next to Python lifetimes on the same summary files.
# The lifetimes venv is separate from the test venv; these pins work together.
BENCH_VENV        := $(CARGO_TARGET_DIR)/bench-venv
BENCH_DATA        := $(CARGO_TARGET_DIR)/bench
BENCH_SIZES       ?= cdnow 100k 1M
BENCH_PY_PACKAGES := lifetimes==0.11.3 numpy==1.26.4 pandas==2.0.3 scipy==1.11.4 autograd==1.9.1 dill==0.4.1
# Pipeline sizes (customers x 90 days): 30k, 100k and 300k by default (about 1M, 3.3M and 10M
# touchpoints); BENCH_1M=1 adds 1M customers, BENCH_10M=1 10M.
BENCH_CUSTOMERS   ?= 30k 100k 300k $(if $(BENCH_1M),1M) $(if $(BENCH_10M),10M)
BENCH_MEMORY_MB   ?= 2048
# One CSV of this many GB staged alone (peak RSS); 0 skips it.
BENCH_BIG_CSV_GB  ?= 2

bench: bench-pipeline bench-value ## Pipeline vs DuckDB per stage (BENCH_1M=1, BENCH_10M=1 for more), value fits vs lifetimes, metric compile time

bench-pipeline: $(VENV)/.installed ## The default pipeline vs DuckDB on the same exports: per stage, peak RSS, staging per source
	cargo build --release -p touchstone-cli
	$(PYTHON) bench/pipeline.py --touchstone $(BIN) --python $(PYTHON) --data $(BENCH_DATA)/pipeline \
		--sizes "$(BENCH_CUSTOMERS)" --memory-mb $(BENCH_MEMORY_MB) --big-csv-gb $(BENCH_BIG_CSV_GB) \
		--out $(BENCH_DATA)/pipeline.json

bench-value: $(BENCH_VENV)/.installed ## Fit time vs Python lifetimes at 2,357 / 100k / 1M customers (BENCH_SIZES); metric library compile + plan time
	cargo build -p touchstone-cli
	cargo build -p touchstone-value --example bench_data
	cargo build --release -p touchstone-value --example bench_fit
	$(BENCH_VENV)/bin/python bench/run.py --touchstone $(CARGO_TARGET_DIR)/debug/touchstone \
		--bench-data $(CARGO_TARGET_DIR)/debug/examples/bench_data \
		--ours $(CARGO_TARGET_DIR)/release/examples/bench_fit --data $(BENCH_DATA) --sizes "$(BENCH_SIZES)"
	cargo run --release -p touchstone-metrics --example bench_compile

$(BENCH_VENV)/.installed:
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check $(BENCH_PY_PACKAGES)
	touch $@

clean: ## Remove generated data and the local warehouse
	rm -rf data warehouse
