"""Shared fixtures: the real data folder, and outputs kept away from the project's own files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_outputs(tmp_path, monkeypatch):
    """Every test writes checkpoints, figures and results under its own temporary folder."""
    monkeypatch.setenv("MNIST_OUTPUT_DIR", str(tmp_path / "project"))
    monkeypatch.delenv("MNIST_SMOKE", raising=False)
    monkeypatch.delenv("MNIST_RETRAIN", raising=False)
    return tmp_path / "project"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The local copy of the datasets: MNIST_DATA_DIR, else ../shared/data beside the project."""
    value = os.environ.get("MNIST_DATA_DIR") or str(PROJECT.parent / "shared" / "data")
    path = Path(value)
    if not (path / "mnist").is_dir():
        pytest.skip(f"no local dataset copy at {path}: set MNIST_DATA_DIR to run the real-data tests")
    return path


@pytest.fixture(scope="session")
def mnist(data_dir):
    from mnist_utils import load_data

    return load_data("mnist", data_dir)
