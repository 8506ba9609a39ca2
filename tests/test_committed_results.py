"""The committed weights reproduce the committed results tables (what the README and notebooks state).

For the notebook whose runs were saved before runs kept their history and record (06), this
test rebuilds each run's model from the list below. The notebooks whose runs are committed whole are
proven by running them in the reader's mode instead (test_reader_mode.py), and their rows are left
out here; the list goes once every notebook is retrained.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mnist_utils as mu
from test_reader_mode import READER_NOTEBOOKS

PROJECT = Path(__file__).resolve().parents[1]
# Each committed checkpoint's model, built as the notebook that trained it built it.
BUILDERS = {
    "mlp": lambda: mu.get_mlp(),
    "lenet": lambda: mu.get_lenet(),
    "fast_cnn": lambda: mu.get_fast_cnn(steps_per_epoch=1),
    "custom_cnn": lambda: mu.get_custom_cnn(),
}
# Notebook 04's full-budget runs (ensemble members): the recipe with a seed or a switch; and
# notebook 06's, the same runs trained again on all training images ("_all_data").
BUILDERS |= {name + suffix: (lambda name=name + suffix, switches=switches: mu.get_custom_cnn(name=name, **switches))
             for name, switches in {
                 "custom_cnn": {}, "custom_cnn_seed43": {}, "custom_cnn_seed44": {},
                 "custom_cnn_no_augmentation": {"augment": None}, "custom_cnn_no_dropout": {"dropout": 0.0},
                 "custom_cnn_no_dropout_seed43": {"dropout": 0.0}, "custom_cnn_no_dropout_seed44": {"dropout": 0.0},
             }.items() for suffix in ("", "_all_data")}
# Notebook 05's improved models: the recipe with one augmentation variant, named after it.
BUILDERS |= {
    f"custom_cnn_fashion_{variant}": (
        lambda variant=variant: mu.get_custom_cnn(augment=None if variant == "none" else variant,
                                                  name=f"custom_cnn_fashion_{variant}"))
    for variant in ("none", *mu.AUGMENTATIONS)
}
MIRROR = " + mirror at prediction"


def committed_table(dataset: str) -> pd.DataFrame:
    return pd.read_csv(mu.ResultsTable.path_for(dataset, root=PROJECT)).set_index("model")


def rows_to_check(dataset: str) -> pd.DataFrame:
    """The committed rows of the notebooks that the reader's mode does not run yet."""
    table = committed_table(dataset)
    return table[~table["notebook"].isin(READER_NOTEBOOKS)]


@pytest.fixture
def committed_checkpoints(monkeypatch):
    """Read the project's own checkpoints (this test only reads: nothing is trained or saved)."""
    monkeypatch.setenv("MNIST_OUTPUT_DIR", str(PROJECT))


@pytest.mark.parametrize("dataset", [dataset for dataset in ("mnist", "fashion_mnist") if len(rows_to_check(dataset))])
def test_committed_weights_reproduce_the_results_table(dataset, data_dir, committed_checkpoints):
    table = rows_to_check(dataset)
    _, (x_test, y_test) = mu.load_data(dataset, data_dir)
    needed = {part.removesuffix(MIRROR) for row in table.index
              for part in row.removeprefix("ensemble (").removesuffix(")").split("; ")}
    models = {name: mu.load_best_checkpoint(build(), dataset=dataset) for name, build in BUILDERS.items()
              if name in needed}
    probs = {name: mu.predict_probs(model, x_test) for name, model in models.items()}
    checked = [name for name in probs if name in table.index]
    assert checked, f"no committed model found for {dataset}: {sorted(probs)}"
    for name in checked:
        # One test image is 1e-4; allow one image for ties between evaluate() and argmax.
        assert mu.accuracy(probs[name], y_test) == pytest.approx(table.loc[name, "test_accuracy"], abs=1.5e-4), name

    @functools.cache
    def way_probs(way: str) -> np.ndarray:
        """A model's test probabilities as notebook 05 computes them for a row: plain, or averaged
        with those of the mirrored images."""
        if not way.endswith(MIRROR):
            return probs[way]
        base = way.removesuffix(MIRROR)
        return mu.predict_probs_mirrored(models[base], x_test)

    for row in [row for row in table.index if row.endswith(MIRROR)]:
        assert mu.accuracy(way_probs(row), y_test) == pytest.approx(table.loc[row, "test_accuracy"], abs=1.5e-4), row

    ensembles = [row for row in table.index if row.startswith("ensemble (")]  # "ensemble (a; b + mirror ...)"
    for row in ensembles:
        ensemble = np.mean([way_probs(way) for way in row.removeprefix("ensemble (").removesuffix(")").split("; ")], axis=0)
        assert mu.accuracy(ensemble, y_test) == pytest.approx(table.loc[row, "test_accuracy"], abs=1.5e-4), row
    assert ensembles, f"no ensemble in the committed {dataset} table"


def test_readme_accuracies_are_those_of_the_results_tables():
    # The notebooks' table in the README: one row per notebook, and every accuracy it states is a
    # test accuracy that a committed results table holds.
    readme = (PROJECT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if re.search(r"\| \[\d\d_\w+\]\(notebooks/", line)]
    notebooks = sorted(path.stem for path in (PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [re.search(r"\| \[(\w+)\]", row).group(1) for row in rows] == notebooks
    for row in rows:  # each notebook's figure is a committed one
        figure = re.search(r'<img src="([^"]+)"', row)
        assert figure and (PROJECT / figure.group(1)).is_file(), row[:120]
    stated = re.findall(r"\d+\.\d\d%", " ".join(row.rsplit("|", 2)[1] for row in rows))
    recorded = {f"{100 * accuracy:.2f}%" for dataset in ("mnist", "fashion_mnist")
                for accuracy in committed_table(dataset)["test_accuracy"]}
    assert len(stated) >= len(notebooks), stated
    assert not [figure for figure in stated if figure not in recorded], "stated in the README, in no results table"
