# Two entry points do all their own setup: `make app` (what the app needs) and `make test` (that
# plus the test tools and the PyTorch reference). Stamps are keyed on the dependency files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEPS_SUM := $(shell cat pyproject.toml setup.py Makefile | cksum | cut -d' ' -f1)
APP_STAMP := $(VENV)/.app-$(DEPS_SUM)
DEV_STAMP := $(VENV)/.dev-$(DEPS_SUM)

# `make test-fast`: the daily lane (no `slow`, no `audio` markers); `make test`: the whole suite.
.PHONY: app test test-fast setup-app setup-dev bench clean package

app: setup-app
	$(BIN)/moshi-app

# The suite's phases and how they share the CPU: scripts/run_tests.sh. `PYTEST_ARGS=-n0`: the first
# phase in one process.
test: setup-dev
	bash scripts/run_tests.sh $(BIN)/python $(PYTEST_ARGS)

test-fast: setup-dev
	bash scripts/run_tests.sh $(BIN)/python --fast $(PYTEST_ARGS)

setup-app:
	@bash scripts/install_system_deps.sh app
	@$(MAKE) --no-print-directory $(APP_STAMP)

setup-dev:
	@bash scripts/install_system_deps.sh test
	@$(MAKE) --no-print-directory $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(APP_STAMP): | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(DEV_STAMP): | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev,packaging]"
	# Kyutai's PyTorch `moshi` (the test oracle) declares pins that conflict with current packages:
	# install it without dependencies. Kyutai's MLX port (benchmark baseline) has the import name
	# `moshi_mlx`, like ours: it goes to its own folder, used only with PYTHONPATH by the benchmarks.
	$(BIN)/python -m pip install -q --no-deps "moshi==0.2.13"
	$(BIN)/python -m pip install -q --no-deps --upgrade --target $(VENV)/kyutai-moshi-mlx "moshi-mlx==0.3.0"
	@touch $@ $(APP_STAMP)

bench: setup-app
	$(BIN)/python -m moshi_mlx bench

package: setup-dev
	bash packaging/build.sh

clean:
	rm -rf $(VENV) build dist *.egg-info
