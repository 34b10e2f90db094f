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

# One pytest-xdist worker per core, tests handed out one at a time in collection order (the `slow`
# ones first, see tests/conftest.py); tests that share one costly fixture carry an `xdist_group`.
# Then the `audio` tests, in one process on an otherwise idle machine: they play and record through
# the virtual sound card in real time, as a user's Mac would run them (a busy second worker made the
# echo canceller's loopback test miss its deadlines). Exit status 5 (no test selected, e.g. with a
# PYTEST_ARGS path that holds no audio test) is not a failure. `PYTEST_ARGS=-n0`: one process.
XDIST := -n auto --dist loadgroup --no-loadscope-reorder
PYTEST_OK := || [ $$? -eq 5 ]

test: setup-dev
	$(BIN)/python -m pytest $(XDIST) -m "not audio" $(PYTEST_ARGS) $(PYTEST_OK)
	$(BIN)/python -m pytest -m audio $(PYTEST_ARGS) $(PYTEST_OK)

test-fast: setup-dev
	$(BIN)/python -m pytest $(XDIST) -m "not slow and not audio" $(PYTEST_ARGS)

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
