# The two commands of the README:
#   make series   install everything into .venv, then run the whole series in order (full mode)
#   make test     install if needed, then run the unit tests and every notebook in smoke mode
# and, once installed, `make benchmark` measures training and prediction speed (benchmarks/).
# MNIST_DATA_DIR=/path/to/data points both at a local copy of the datasets (no download).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Notebooks run from notebooks/, so a relative data folder is made absolute here.
ifdef MNIST_DATA_DIR
export MNIST_DATA_DIR := $(abspath $(MNIST_DATA_DIR))
endif

.PHONY: install series test benchmark

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

series: install
	$(BIN)/python run_series.py

benchmark: install
	$(BIN)/python benchmarks/speed.py

test: install
	MNIST_SMOKE=1 $(BIN)/python -m pytest --nbval-lax --nbval-current-env tests notebooks
