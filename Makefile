# vidwatch — every target creates .venv and installs the project when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The suite mostly waits (Pilot, loopback servers, child processes): 4 workers suit 2 cores.
WORKERS ?= 4

.DEFAULT_GOAL := help
.PHONY: help run demo test test-fast pytest lint format typecheck bench soak clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# setuptools tells every editable install of a package mapped from two folders (vidwatch
# from app/, vidwatch.styles from styles/) to "be careful with folders named like the
# package": information, in a block of asterisks a newcomer reads as an error. That one
# notice is filtered, by its words; every other warning and every error still shows.
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Editable installation:UserWarning"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing vidwatch and its tools into $(VENV) (once, and when pyproject.toml changes)"
	@$(BIN)/python -m pip install --quiet --upgrade pip 2>/dev/null || true
	@$(QUIET_EDITABLE) $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP) ## Start the dashboard (the demo when no API key is set)
	@if $(BIN)/vidwatch check --offline >/dev/null 2>&1; then \
		$(BIN)/vidwatch; \
	else \
		echo "No API key (QUICKROUTER_API_KEY or the config file): starting the demo on the built-in simulator."; \
		sleep 1; $(BIN)/vidwatch --demo; \
	fi

demo: $(STAMP) ## Start the dashboard on the built-in simulator
	$(BIN)/vidwatch --demo

test: lint typecheck pytest ## Lint, type-check and run the tests

# pytest caches its assertion rewriting as bytecode: with PYTHONDONTWRITEBYTECODE set (some
# shells and CI images set it) every worker would rewrite every test module again (~2 s CPU).
pytest: $(STAMP) ## Run the whole test suite only (WORKERS=4 in parallel)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n $(WORKERS) --dist worksteal

test-fast: $(STAMP) ## Unit tests only, no ui/e2e/slow marks (< 30 s): the edit-run loop
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -m "not ui and not e2e and not slow"

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench

format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix app tests bench
	$(BIN)/ruff format app tests bench

typecheck: $(STAMP) ## mypy --strict
	$(BIN)/mypy

soak: $(STAMP) ## The full soak: 1,000 jobs at 30 % chaos (a few minutes)
	VIDWATCH_SOAK_JOBS=1000 VIDWATCH_SOAK_SPEED=30 $(BIN)/python -m pytest tests/test_soak.py -q -s --timeout 1800

bench: $(STAMP) ## Benchmarks (CPU per poll and more)
	$(BIN)/python -m bench

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
