"""The main job's runner: executes a notebook with progress, never touching the committed one
in smoke mode or when the outputs go to another folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

PROJECT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("smoke", [True, False])
def test_runs_write_outputs_apart(smoke, tmp_path, data_dir, monkeypatch, capsys, isolated_outputs):
    # The kernel's series folder is another than the notebook's: even a full run must leave the notebook alone.
    monkeypatch.setenv("MNIST_SERIES_DIR", str(isolated_outputs))
    monkeypatch.setenv("MNIST_SMOKE", "1" if smoke else "0")
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_dir))
    notebook = tmp_path / "00_tiny.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import mnist_utils as mu\nprint('smoke', mu.is_smoke())"),
                nbformat.v4.new_code_cell("(x, y), _ = mu.load_data('mnist')\nprint(x.shape)")]
    nbformat.write(nb, notebook)
    before = notebook.read_bytes()

    spec = importlib.util.spec_from_file_location("run_series", PROJECT / "run_series.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    assert runner.main([str(notebook)]) == 0

    printed = capsys.readouterr().out
    assert f"[00_tiny]   smoke {smoke}" in printed and "[00_tiny] cell 2/2 done" in printed
    assert notebook.read_bytes() == before  # the source notebook is left as it was
    output_root = isolated_outputs / (".smoke" if smoke else "my_runs")
    executed = nbformat.read(output_root / "notebooks" / "00_tiny.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "(60000, 28, 28)\n"


def test_the_readers_run_of_a_series_notebook_keeps_its_outputs_in_place(tmp_path, monkeypatch, capsys):
    # A copy of the series, run from elsewhere: its notebook is rewritten, nothing goes to this checkout.
    series = tmp_path / "series"
    (series / "checkpoints").mkdir(parents=True)
    (series / "notebooks").mkdir()
    notebook = series / "notebooks" / "00_tiny.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from mnist_utils import config\nprint(config.current().write_dir.name)")]
    nbformat.write(nb, notebook)
    spec = importlib.util.spec_from_file_location("run_series", PROJECT / "run_series.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    assert runner.main([str(notebook)]) == 0
    executed = nbformat.read(notebook, as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "my_runs\n"  # the kernel found the copy's folder
    assert "execution" not in executed.cells[0].metadata  # no timestamps: a rerun differs only where outputs do
    assert not (series / "my_runs" / "notebooks").exists()


def test_refresh_replaces_figures_only_when_no_run_changes(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_dir))
    series = tmp_path / "series"
    (series / "checkpoints").mkdir(parents=True)
    (series / "images" / "00_tiny").mkdir(parents=True)
    (series / "images" / "00_tiny" / "figure.png").write_bytes(b"old")
    (series / "notebooks").mkdir()
    notebook = series / "notebooks" / "00_tiny.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import mnist_utils as mu, matplotlib.pyplot as plt\nmu.save_fig('figure', '00_tiny', plt.figure())")]
    nbformat.write(nb, notebook)
    spec = importlib.util.spec_from_file_location("run_series", PROJECT / "run_series.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    assert runner.main(["--refresh", str(notebook)]) == 0
    assert (series / "images" / "00_tiny" / "figure.png").read_bytes()[:4] == b"\x89PNG"  # the new figure
    assert not (series / "my_runs").exists()
    # A notebook whose run is not committed would train: nothing is refreshed.
    nb.cells.append(nbformat.v4.new_code_cell(
        "import keras\nm = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])\n"
        "m.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "(x, y), _ = mu.load_data('mnist')\nd = mu.make_dataset(x[:64], y[:64])\n"
        "mu.train(m, d, d, dataset='mnist', epochs=1, seed=0, verbose=False)"))
    nbformat.write(nb, notebook)
    (series / "images" / "00_tiny" / "figure.png").write_bytes(b"old")
    assert runner.main(["--refresh", str(notebook)]) == 1
    assert (series / "images" / "00_tiny" / "figure.png").read_bytes() == b"old"
