"""What the README states is what the committed results tables hold.

The committed weights themselves are proven by running every notebook in the reader's mode
(test_reader_mode.py): it loads each committed run and must reproduce the committed outputs and tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

import mnist_utils as mu

PROJECT = Path(__file__).resolve().parents[1]


def committed_table(dataset: str) -> pd.DataFrame:
    return pd.read_csv(mu.ResultsTable.path_for(dataset, root=PROJECT)).set_index("model")


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
