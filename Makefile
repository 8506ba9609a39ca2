# The two commands of the README:
#   make series   install everything into .venv, then run the whole series in the reader's mode:
#                 every committed run is loaded, not trained (minutes)
#   make test     install if needed, then run the unit tests, every notebook in smoke mode, and the
#                 reader's mode on the full data, with every model and training cell run a second time
# and, once installed:
#   make retrain    train every run again and rewrite the committed runs, figures, tables and notebooks (hours;
#                   RETRAIN=missing: only the runs not committed yet, to split it over several sittings)
#   make refresh    regenerate the committed figures, tables and notebooks from the committed runs (minutes;
#                   after a change to a plot or a table: it trains nothing, and refuses if a run would change)
#   make benchmark  measure training and prediction speed (benchmarks/), then update the READMEs' tables
#   make readme     the README's figures and tables from the committed results (tools/update_readme.py)
#   make site       build the series' website into site/ from the committed notebooks (seconds)
#   make demo       start the drawing demo on http://127.0.0.1:7860 (notebook 07; installs its extra)
# MNIST_DATA_DIR=/path/to/data points all of them at a local copy of the datasets (no download).

PYTHON ?= python3
# make retrain RETRAIN=missing: train only the runs not committed yet (a long retraining in several sittings).
RETRAIN ?= 1
VENV := .venv
BIN := $(VENV)/bin

# Notebooks run from notebooks/, so a relative data folder is made absolute here.
ifdef MNIST_DATA_DIR
export MNIST_DATA_DIR := $(abspath $(MNIST_DATA_DIR))
endif

.PHONY: install series retrain refresh test benchmark readme site demo

install: .editable-installed

# The checkout's own package, installed in the environment (editable): per checkout, since a cached
# environment (.ci/run) can serve several.
.editable-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# The website's optional extra.
$(VENV)/.site-installed: .editable-installed requirements-site.txt
	$(BIN)/python -m pip install --quiet -r requirements-site.txt -c requirements.txt
	touch $@

# The drawing demo's optional extra.
$(VENV)/.demo-installed: .editable-installed requirements-demo.txt
	$(BIN)/python -m pip install --quiet -r requirements-demo.txt -c requirements.txt
	touch $@

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv "$$($(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.argv[1]))' $(VENV))"  # .venv may be a link (.ci/run)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

series: install
	$(BIN)/python run_series.py

# Trains and rewrites the committed runs, then runs the series once more in the reader's mode, so
# that the committed notebooks show what a reader's run shows.
retrain: install
	MNIST_RETRAIN=$(RETRAIN) $(BIN)/python run_series.py $(NOTEBOOKS)
	$(BIN)/python run_series.py $(NOTEBOOKS)

refresh: install
	$(BIN)/python run_series.py --refresh $(NOTEBOOKS)

benchmark: install
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python tools/update_readme.py

# The README's figures from results/*.csv and its benchmark table from benchmarks/results.json.
readme: install
	$(BIN)/python tools/update_readme.py

site: $(VENV)/.site-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --quiet
	@echo "The website is in site/: open site/index.html (for search: $(BIN)/python -m http.server -d site)"

demo: $(VENV)/.demo-installed
	GRADIO_ANALYTICS_ENABLED=False $(BIN)/python demo/app.py

test: install $(VENV)/.site-installed $(VENV)/.demo-installed
	$(BIN)/python -m pytest -n 2 --dist load tests
