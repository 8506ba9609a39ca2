"""Settings that differ per machine or per run, read in one place.

| environment variable | meaning | default |
| --- | --- | --- |
| ``MNIST_DATA_DIR``   | folder with local IDX copies of the datasets | none: Keras cache, then download |
| ``MNIST_RETRAIN``    | ``1``: train every run again and rewrite the committed runs, figures and results; ``missing``: the same, but a committed run that matches its recipe is loaded | off |
| ``MNIST_SMOKE``      | ``1``: cut data and epochs so everything runs in seconds (tests, CI) | off |
| ``MNIST_OUTPUT_DIR`` | the series' folder, holding the committed ``checkpoints/``, ``images/``, ``results/`` | found from the working directory |
| ``MNIST_MY_RUNS_DIR`` | where the reader's mode writes | ``my_runs/`` of the series' folder |

Three modes, one switch each:

- **reader** (the default): a training run whose committed run exists and matches the recipe is
  loaded instead of trained; everything this run writes (figures, tables, runs of changed
  recipes) goes to the git-ignored ``my_runs/`` of the series' folder, so the committed files
  are only read;
- **retrain** (``MNIST_RETRAIN=1``): every run is trained and written over the committed one;
  ``MNIST_RETRAIN=missing`` trains only the runs with no matching committed run (a long retraining
  split over several sittings: what the first one finished is loaded by the next);
- **smoke** (``MNIST_SMOKE=1``): cut data and epochs, always training, everything under ``.smoke/``.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "MNIST_DATA_DIR"
RETRAIN_ENV = "MNIST_RETRAIN"
SMOKE_ENV = "MNIST_SMOKE"
OUTPUT_DIR_ENV = "MNIST_OUTPUT_DIR"
MY_RUNS_DIR_ENV = "MNIST_MY_RUNS_DIR"

READER, RETRAIN, SMOKE = "reader", "retrain", "smoke"
# Where each mode writes, inside the series' folder (retrain writes the committed files themselves).
WRITE_FOLDERS = {READER: "my_runs", RETRAIN: "", SMOKE: ".smoke"}

# What smoke mode keeps: enough to walk every code path, small enough for seconds.
SMOKE_MAX_EXAMPLES = 2048
SMOKE_MAX_EPOCHS = 2

_PACKAGE_DIR = Path(__file__).resolve().parent


def _flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in {"", "0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    extra = f", or {RETRAIN_MISSING} (train only the runs not committed yet)" if name == RETRAIN_ENV else ""
    raise ValueError(f"{name}={value!r} is not understood: set it to 1 (on) or 0 (off){extra}.")


RETRAIN_MISSING = "missing"


def _retrain_value() -> str:
    return os.environ.get(RETRAIN_ENV, "").strip().lower()


def mode() -> str:
    """The run's mode: ``"reader"`` (default), ``"retrain"`` or ``"smoke"``."""
    smoke = _flag(SMOKE_ENV)
    retrain = _retrain_value() == RETRAIN_MISSING or _flag(RETRAIN_ENV)
    if smoke and retrain:
        raise ValueError(f"{SMOKE_ENV} and {RETRAIN_ENV} are both on, but a smoke run never rewrites the "
                         "committed runs: set only one of them.")
    return SMOKE if smoke else RETRAIN if retrain else READER


def retrains_matching_runs() -> bool:
    """False when ``MNIST_RETRAIN=missing`` asks to keep the committed runs that match their recipe."""
    return _retrain_value() != RETRAIN_MISSING


def is_smoke() -> bool:
    """True when ``MNIST_SMOKE`` asks for the quick, cut-down mode."""
    return mode() == SMOKE


def data_dir_from_env() -> Path | None:
    """The local data folder named by ``MNIST_DATA_DIR``, or None."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def is_series_folder(path: Path) -> bool:
    """True for a folder laid out as the series: its ``notebooks/`` beside its ``checkpoints/``."""
    return (path / "notebooks").is_dir() and (path / "checkpoints").is_dir()


def search_places() -> list[Path]:
    """Where ``project_dir`` looks for the series' folder, in order (for error messages too)."""
    cwd = Path.cwd().resolve()
    return [cwd, *cwd.parents, _PACKAGE_DIR.parent]


def project_dir() -> Path:
    """The series' folder, which holds the committed checkpoints, figures and results.

    ``MNIST_OUTPUT_DIR`` when set; else the nearest series folder at or above the working
    directory (a notebook runs in ``notebooks/``, so that is the checkout it came from); else the
    checkout of an editable install; else the working directory.
    """
    value = os.environ.get(OUTPUT_DIR_ENV, "").strip()
    if value:
        return Path(value).expanduser().resolve()
    for place in search_places():
        if is_series_folder(place):
            return place
    return Path.cwd().resolve()


def output_dir() -> Path:
    """Root that this run writes to: the series' folder in retrain mode, its ``my_runs/`` for a
    reader, its ``.smoke/`` in smoke mode."""
    current = mode()
    value = os.environ.get(MY_RUNS_DIR_ENV, "").strip()
    if current == READER and value:
        return Path(value).expanduser().resolve()
    folder = WRITE_FOLDERS[current]
    return project_dir() / folder if folder else project_dir()


def read_dirs() -> list[Path]:
    """Roots that this run reads earlier outputs from, first match wins: what it wrote itself,
    then the committed files."""
    return list(dict.fromkeys([output_dir(), project_dir()]))


def smoke_cut(count: int) -> int:
    """How many of ``count`` examples a pipeline keeps in the current mode."""
    return min(count, SMOKE_MAX_EXAMPLES) if is_smoke() else count


def smoke_epochs(epochs: int) -> int:
    """How many of ``epochs`` a training run does in the current mode."""
    return min(epochs, SMOKE_MAX_EPOCHS) if is_smoke() else epochs
