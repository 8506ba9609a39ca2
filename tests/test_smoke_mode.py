"""Every notebook that trains runs top to bottom in smoke mode (data and epochs cut, so it takes seconds to
minutes) under nbval: the cells tagged ``nbval-check-output`` (shapes, split sizes, weight counts) must
reproduce their committed output. Each runs in its own process with its own scratch folder for what it
writes (it reads the committed runs), so the notebooks spread over both of ``make test``'s workers and
the checkout stays clean. A notebook that trains nothing is run whole by the reader's-mode test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TRAINS = ("mu.train(", ".fit(")


def trains(notebook: Path) -> bool:
    return any(word in notebook.read_text() for word in TRAINS)


@pytest.mark.parametrize("notebook", [path for path in NOTEBOOKS if trains(path)], ids=lambda path: path.stem)
def test_the_notebook_runs_in_smoke_mode(notebook, data_dir, tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("MNIST_SERIES_DIR", "MNIST_RETRAIN", "MNIST_MY_RUNS_DIR")}
    env |= {"MNIST_SMOKE": "1", "MNIST_DATA_DIR": str(data_dir), "MNIST_SMOKE_DIR": str(tmp_path / "smoke")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(PROJECT), str(notebook)],
        env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-6000:]
    assert " passed" in done.stdout.splitlines()[-1], done.stdout[-2000:]
    assert (tmp_path / "smoke" / "checkpoints").is_dir() or "mu.train(" not in notebook.read_text()
