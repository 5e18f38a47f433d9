# A thin layer over uv. `make run` starts the system, `make test` proves it.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_LINK_MODE ?= copy

.PHONY: help setup run test test-fast lint fmt asyncapi bench bench-smoke check-deps clean

help:
	@echo "make run       start the whole system (demo upstreams + every service)"
	@echo "make test      lint, then every test (unit, integration, reliability)"
	@echo "make lint      ruff + mypy"
	@echo "make asyncapi  regenerate docs/asyncapi.json from the event models"
	@echo "make bench     every benchmark of issue 8 -> docs/benchmarks.md (15-30 min)"
	@echo "make bench-smoke  the benchmark harness with tiny sizes (a test)"

$(UV):
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet --user uv

setup: $(UV)
	@$(UV) sync --all-packages --frozen --quiet

check-deps:
	@$(UV) run --frozen --no-sync python deploy/dev/preflight.py

run: setup check-deps
	@command -v nginx >/dev/null 2>&1 || { echo "make run: nginx (the gateway) is missing; install it: apt-get install -y nginx"; exit 1; }
	@$(UV) run --frozen --no-sync fuelhub-store migrate
	@$(UV) run --frozen --no-sync fuelhub-auth migrate
	@$(UV) run --frozen --no-sync fuelhub-auth dev-bootstrap
	@$(UV) run --frozen --no-sync honcho -f deploy/Procfile -d . start

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy libs/common/src services/*/src deploy/demo-sources/src

fmt: setup
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

test: lint
	$(UV) run --frozen pytest

test-fast: setup
	$(UV) run --frozen pytest -m "not slow"

asyncapi: setup
	$(UV) run --frozen --no-sync python deploy/dev/asyncapi.py > docs/asyncapi.json

# Issue 8's benchmarks: apply, ingest, read (wrk vs a static-nginx ceiling), freshness, memory,
# at 10,000 and 100,000 stations, 3 runs each -> docs/benchmarks.md (+ .json). ~15-30 min.
# BENCH_ARGS passes options to bench/run.py, e.g. BENCH_ARGS="--sizes 10000 --runs 1".
BENCH_ARGS ?=
bench: setup check-deps
	@command -v nginx >/dev/null 2>&1 || { echo "make bench: nginx is missing; install it: apt-get install -y nginx"; exit 1; }
	@command -v wrk >/dev/null 2>&1 || { echo "make bench: wrk is missing; install it: apt-get install -y wrk"; exit 1; }
	$(UV) run --frozen --no-sync python bench/run.py $(BENCH_ARGS)

# The same harness with tiny sizes, checked by a test (also part of `make test`).
bench-smoke: setup
	$(UV) run --frozen pytest tests/bench -q

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache var
