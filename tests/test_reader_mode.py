"""The reader's mode proves the committed outputs: the notebooks, run on the full data from a copy of
the series outside the checkout, with the package installed as a plain (not editable) copy, load
every run instead of training it and reproduce the committed outputs of the cells that state
results, the committed results tables and figures; nothing committed is written. Then, in the same
kernel, every model and training cell is run again without the Setup cell, as a Jupyter user does:
it loads the same runs again, in seconds, and trains nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from notebook_session import text_of

PROJECT = Path(__file__).resolve().parents[1]
# Every notebook: their runs are all committed whole (weights, history, record); notebook 07 trains nothing.
READER_NOTEBOOKS = ["01_data", "02_mlp", "03_lenet", "04_custom_cnn", "05_fashion_mnist", "06_all_training_data",
                    "07_use_the_model"]
RESULT_TAG = "committed-results"  # cells whose outputs state results: compared here, not in smoke mode
# What a training prints before it starts: none of it may appear when a reader runs cells again.
TRAINING_WORDS = ("You changed", "No saved run", "Trained '", "training it", "Smoke mode", "Retrain mode")


def digests(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def series_copy(tmp_path_factory) -> Path:
    """The committed runs, tables, figures and notebooks, in a folder outside the checkout."""
    series = tmp_path_factory.mktemp("reader") / "series"
    for folder in ("checkpoints", "results", "images", "notebooks"):
        shutil.copytree(PROJECT / folder, series / folder)
    return series


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory) -> Path:
    """The package installed from the checkout as a plain copy (what `pip install <path>` makes)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(PROJECT)], check=True, capture_output=True)
    return target


@pytest.fixture(scope="module")
def committed(series_copy) -> dict[str, dict[str, str]]:
    """The digests of the copy's committed runs, tables and figures, before any notebook ran."""
    return {folder: digests(series_copy / folder) for folder in ("checkpoints", "results", "images")}


@pytest.mark.parametrize("notebook", READER_NOTEBOOKS)
def test_the_readers_mode_reproduces_the_committed_outputs(notebook, series_copy, committed, plain_install, data_dir,
                                                          tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("MNIST_SERIES_DIR", "MNIST_MY_RUNS_DIR", "MNIST_SMOKE", "MNIST_RETRAIN")}
    env |= {"MNIST_DATA_DIR": str(data_dir), "PYTHONPATH": str(plain_install)}
    where = subprocess.run([sys.executable, "-c", "import mnist_utils; print(mnist_utils.__file__)"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(plain_install)), where  # the plain copy, not the checkout's editable one

    # Each notebook's table starts from the committed one, so that it checks this notebook's own rows
    # (another notebook's second pass, on the same copy, may have left its table shorter).
    shutil.rmtree(series_copy / "my_runs" / "results", ignore_errors=True)
    report_path = tmp_path / "session.json"
    session = subprocess.run(
        [sys.executable, str(PROJECT / "tests" / "notebook_session.py"),
         str(series_copy / "notebooks" / f"{notebook}.ipynb"), str(report_path),
         str(series_copy / "my_runs"), str(tmp_path / "first_pass")],
        env=env, cwd=tmp_path, capture_output=True, text=True)
    assert session.returncode == 0, (session.stdout + session.stderr)[-6000:]
    report = json.loads(report_path.read_text())

    committed_cells = nbformat.read(PROJECT / "notebooks" / f"{notebook}.ipynb", as_version=4).cells
    checked = [i for i, cell in enumerate(committed_cells) if RESULT_TAG in cell.metadata.get("tags", [])]
    for i in checked:  # the cells that state results print what the committed notebook shows
        assert report["first"][str(i)] == text_of(committed_cells[i].outputs), f"cell {i} of {notebook}"

    # The second pass: the model and training cells again, in place, without the Setup cell.
    again = report["again"]
    printed = "".join(again.values())
    assert not any(words in printed for words in TRAINING_WORDS), printed[-3000:]
    assert "Loaded the committed run" in printed or notebook in ("01_data", "07_use_the_model"), printed[-2000:]
    assert report["again_seconds"] < 120, f"the second pass took {report['again_seconds']:.0f} s"
    print(f"{notebook}: {len(again)} cells run again in {report['again_seconds']:.1f} s")

    assert not (series_copy / "my_runs" / "checkpoints").exists(), "a committed run was trained instead of loaded"
    mine = tmp_path / "first_pass"  # the reader's tables and figures as the first pass left them
    for folder, before in committed.items():
        assert digests(series_copy / folder) == before, f"the reader's mode wrote into {folder}/"
    # The tables and figures it made (with those of the notebooks run before it here) are the committed ones.
    for table in sorted((mine / "results").glob("*.csv")):
        ours = pd.read_csv(table).sort_values("model").reset_index(drop=True)
        theirs = pd.read_csv(series_copy / "results" / table.name).sort_values("model").reset_index(drop=True)
        pd.testing.assert_frame_equal(ours, theirs, obj=table.name)
    figures = digests(mine / "images" / notebook)
    assert figures and all(committed["images"][f"{notebook}/{name}"] == digest for name, digest in figures.items()), \
        [name for name, digest in figures.items() if committed["images"].get(f"{notebook}/{name}") != digest]


def test_every_notebook_is_checked_in_the_readers_mode():
    assert READER_NOTEBOOKS == sorted(path.stem for path in (PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_without_the_package_the_first_cell_says_what_to_install(tmp_path):
    for path in sorted((PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        setup = next(cell.source for cell in nbformat.read(path, as_version=4).cells
                     if cell.cell_type == "code" and "import mnist_utils" in cell.source)
        first_lines = setup.split("\n\n")[0]  # the guarded import, before anything else is imported
        # -S: no site-packages, so neither the package nor anything else is installed.
        done = subprocess.run([sys.executable, "-S", "-c", first_lines], cwd=tmp_path, capture_output=True,
                              text=True)
        assert done.returncode != 0 and done.stderr.strip().splitlines()[-1] == (
            "ModuleNotFoundError: This notebook needs the series' helpers: run `pip install -e .` in the "
            "series' folder (see its README), then restart the kernel."), (path.name, done.stderr[-500:])
