# A thin layer over uv. `make run` starts the system, `make test` proves it.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_LINK_MODE ?= copy

.PHONY: help setup run test test-fast lint fmt asyncapi bench check-deps clean

help:
	@echo "make run       start the whole system (demo upstreams + every service)"
	@echo "make test      lint, then every test (unit, integration, reliability)"
	@echo "make lint      ruff + mypy"
	@echo "make asyncapi  regenerate docs/asyncapi.json from the event models"
	@echo "make bench     run the benchmark scripts (BENCH_STATIONS=10000)"

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

# The benchmark scripts that exist so far (issue 8 will gather them into docs/benchmarks.md).
BENCH_STATIONS ?= 10000
bench: setup check-deps
	$(UV) run --frozen --no-sync python bench/store_apply.py --stations $(BENCH_STATIONS) --runs 3
	$(UV) run --frozen --no-sync python bench/ingest.py --stations $(BENCH_STATIONS) --runs 3

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache var
