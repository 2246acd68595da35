# One entry point. `make demo` and `make test` set everything up themselves.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
TIER ?= S
PY_DIRS := $(wildcard src tests bench)
DEMO_DB ?= demo.db
export UV_LINK_MODE := copy

.PHONY: setup demo test check fmt lint typecheck contracts bench clean

setup:  ## Install uv if missing, then create .venv from the lock file.
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user --break-system-packages uv
	@$(UV) sync --frozen --quiet --compile-bytecode  # compiled once: a process starts in 0.5 s, not 1.5

demo: setup  ## Build the demo data set in a fresh SQLite file and print the summary.
	@rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	@$(UV) run --frozen leadpact --db sqlite:///$(DEMO_DB) demo

test: setup check  ## Lint, type-check, contracts, then the whole suite.
	@$(UV) run --frozen pytest

check: setup lint typecheck contracts  ## Everything static.

lint:
	@$(UV) run --frozen ruff check $(PY_DIRS)
	@$(UV) run --frozen ruff format --check $(PY_DIRS)

fmt: setup
	@$(UV) run --frozen ruff check --fix $(PY_DIRS)
	@$(UV) run --frozen ruff format $(PY_DIRS)

typecheck:
	@$(UV) run --frozen mypy src

contracts:
	@$(UV) run --frozen lint-imports

bench: setup  ## Benchmarks W1–W8, W4-leads and W10 beside their baselines: make bench TIER=S|M|L
	@$(UV) run --frozen python -m bench --tier $(TIER) --out bench-results-$(TIER).json

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
