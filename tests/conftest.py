"""Shared fixtures: the real data folder, and settings that keep outputs away from the project's own files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mnist_utils import config

PROJECT = Path(__file__).resolve().parents[1]
MODE_VARIABLES = (config.RETRAIN_ENV, config.SMOKE_ENV, config.SERIES_DIR_ENV, config.MY_RUNS_DIR_ENV,
                  config.SMOKE_DIR_ENV)


@pytest.fixture(autouse=True)
def isolated_outputs(tmp_path, monkeypatch):
    """Every test runs in the reader's mode on its own temporary series folder (``project/``), so it
    writes checkpoints, figures and results there; the settings it found are restored after it."""
    for name in MODE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    project = tmp_path / "project"
    before = config.use(config.setup(mode=config.READER, series_dir=project, show=False))
    yield project
    config.use(before)


def use_mode(series: Path, mode: str, **options) -> config.Settings:
    """Switch the session to ``mode`` on the series folder ``series`` (what a Setup cell's ``mu.setup`` does)."""
    return config.setup(mode=mode, series_dir=series, show=False, **options)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The local copy of the datasets: MNIST_DATA_DIR, else ../shared/data beside the project. Missing,
    it skips the real-data tests, except under CI=true, where it fails them: CI must run them."""
    value = os.environ.get("MNIST_DATA_DIR") or str(PROJECT.parent / "shared" / "data")
    path = Path(value)
    if not (path / "mnist").is_dir():
        message = (f"no local dataset copy at {path} (no mnist/ folder in it): set MNIST_DATA_DIR to the folder "
                   "that holds mnist/ and fashion-mnist/ to run the real-data tests")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def mnist(data_dir):
    from mnist_utils import load_data

    return load_data("mnist", data_dir)
