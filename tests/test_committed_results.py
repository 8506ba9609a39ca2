"""What the README states is what the committed files hold, figure by figure.

The committed weights themselves are proven by running every notebook in the reader's mode
(test_reader_mode.py): it loads each committed run and must reproduce the committed outputs and tables.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pandas as pd

import mnist_utils as mu

PROJECT = Path(__file__).resolve().parents[1]


def update_readme():
    spec = importlib.util.spec_from_file_location("update_readme", PROJECT / "tools" / "update_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed_table(dataset: str) -> pd.DataFrame:
    return pd.read_csv(mu.ResultsTable.path_for(dataset, root=PROJECT)).set_index("model")


def notebook_rows(readme: str) -> list[str]:
    return [line for line in readme.splitlines() if re.search(r"\| \[\d\d_\w+\]\(notebooks/", line)]


def test_every_readme_accuracy_is_its_own_models_result():
    # Each figure names its results row (98.01%<!-- mnist:mlp -->): the MLP's row states the MLP's result.
    readme = (PROJECT / "README.md").read_text()
    marked = update_readme().FIGURE.findall(readme)
    assert len(marked) >= 10, marked
    for figure, dataset, model in marked:
        assert f"{100 * committed_table(dataset).loc[model, 'test_accuracy']:.2f}" == figure, (dataset, model)
    # Every two-decimal percentage of the notebooks' table is marked so.
    for row in notebook_rows(readme):
        unmarked = re.findall(r"\d+\.\d\d%(?!<!--)", row)
        assert not unmarked, (row[:80], unmarked)


def test_the_readme_lists_every_notebook_with_a_committed_figure():
    rows = notebook_rows((PROJECT / "README.md").read_text())
    notebooks = sorted(path.stem for path in (PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [re.search(r"\| \[(\w+)\]", row).group(1) for row in rows] == notebooks
    for row in rows:
        figure = re.search(r'<img src="([^"]+)"', row)
        assert figure and (PROJECT / figure.group(1)).is_file(), row[:120]


def test_the_readmes_are_generated_from_the_committed_files():
    # The figures from results/*.csv, the benchmark tables from benchmarks/results.json.
    stale = [path.name for path, text in update_readme().updated().items() if path.read_text() != text]
    assert not stale, f"{stale} differ from what tools/update_readme.py makes: run it (make readme)"


def test_a_figure_naming_a_missing_row_is_refused():
    module = update_readme()
    try:
        module.fill_figures("12.34%<!-- mnist:no_such_model -->")
    except KeyError as error:
        assert "results/mnist.csv does not hold" in str(error)
    else:
        raise AssertionError("a figure of no results row was filled")
    assert module.fill_figures("1.00%<!-- mnist:mlp -->") == \
        f"{100 * committed_table('mnist').loc['mlp', 'test_accuracy']:.2f}%<!-- mnist:mlp -->"
