"""The main job's runner: executes a notebook with progress, never touching the committed one in smoke mode."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat

PROJECT = Path(__file__).resolve().parents[1]


def test_smoke_run_writes_outputs_apart(tmp_path, data_dir, monkeypatch, capsys, isolated_outputs):
    monkeypatch.setenv("MNIST_SMOKE", "1")
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
    assert "[00_tiny]   smoke True" in printed and "[00_tiny] cell 2/2 done" in printed
    assert notebook.read_bytes() == before  # the source notebook is left as it was
    executed = nbformat.read(isolated_outputs / ".smoke" / "notebooks" / "00_tiny.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "(60000, 28, 28)\n"
