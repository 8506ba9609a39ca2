"""Every notebook runs top to bottom in smoke mode (data and epochs cut, so it takes seconds to
minutes), in the series' order, under nbval: the cells tagged ``nbval-check-output`` (shapes, split
sizes, weight counts) must reproduce their committed output. Each in its own process; ``make test``
runs this file on one of its two workers while the other runs the rest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_notebook_runs_in_smoke_mode(notebook, data_dir, tmp_path):
    # The checkout's own folders, as a reader's smoke run sees them: outputs in .smoke/, where a
    # notebook finds what the ones before it trained (else the committed runs).
    env = {key: value for key, value in os.environ.items() if key not in ("MNIST_OUTPUT_DIR", "MNIST_RETRAIN")}
    env |= {"MNIST_SMOKE": "1", "MNIST_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(PROJECT), str(notebook)],
        env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-6000:]
    assert " passed" in done.stdout.splitlines()[-1], done.stdout[-2000:]
