# Two entry points do all their own setup: `make app` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml setup.py | cksum | cut -d' ' -f1)

.PHONY: app test setup system-deps bench clean package

app: setup
	$(BIN)/moshi-app

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: system-deps $(STAMP)

system-deps:
	@bash scripts/install_system_deps.sh

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,packaging]"
	# Kyutai's PyTorch `moshi` (the test oracle) declares pins that conflict with current packages:
	# install it without dependencies. Kyutai's MLX port (benchmark baseline) has the import name
	# `moshi_mlx`, like ours: it goes to its own folder, used only with PYTHONPATH by the benchmarks.
	$(BIN)/python -m pip install -q --no-deps "moshi==0.2.13"
	$(BIN)/python -m pip install -q --no-deps --upgrade --target $(VENV)/kyutai-moshi-mlx "moshi-mlx==0.3.0"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

bench: setup
	$(BIN)/python -m moshi_mlx bench

package: setup
	bash packaging/build.sh

clean:
	rm -rf $(VENV) build dist *.egg-info
