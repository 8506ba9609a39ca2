"""A training run saved whole: best weights, per-epoch history, and a record of how it was trained.

A run lives in ``checkpoints/<dataset>/<name>/``::

    best.weights.h5   the weights of the best validation epoch (the last one without validation)
    history.csv       one row per epoch: every metric, the learning rate, the epoch's seconds
    run.json          the recipe (model, optimizer, data, epochs, callbacks, seed), the outcome,
                      and what it was trained on (hardware, library versions, date)

The store's one lookup rule: this session's own outputs first (``my_runs/`` for a reader, the
smoke folder), then the committed runs; a run stands in for a training when its recipe
(``recipe.py``) is the one asked for.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from . import config
from .data import DATASETS, dataset_key
from .recipe import differences

WEIGHTS_FILE, HISTORY_FILE, RECORD_FILE = "best.weights.h5", "history.csv", "run.json"
# history.csv columns that are not metrics (kept for the epoch log and the schedule's plot).
SECONDS, LEARNING_RATE = "seconds", "learning_rate"


@dataclass
class Run:
    """What ``train`` returns: a run's history, timing and record, and where its files are.

    ``history`` maps each metric (``loss``, ``accuracy``, ``val_loss``, ...) to its value per
    epoch, as ``keras.callbacks.History.history`` does. ``loaded`` is True when the run was read
    from its saved files instead of trained in this session.
    """

    name: str
    dataset: str
    history: dict[str, list[float]]
    train_time: float
    best_epoch: int
    record: dict[str, Any] = field(repr=False)
    folder: Path | None = None
    loaded: bool = False

    @property
    def checkpoint_path(self) -> Path | None:
        """The run's best weights, or None for a run that saved nothing."""
        return None if self.folder is None else self.folder / WEIGHTS_FILE

    @property
    def epochs(self) -> int:
        """How many epochs were run (fewer than asked when early stopping ended the run)."""
        return len(self.history.get("loss", []))

    def best(self, metric: str = "val_accuracy") -> float:
        """The best value of ``metric`` over the epochs (the lowest for a loss)."""
        values = self.history[metric]
        return min(values) if "loss" in metric else max(values)


    @property
    def trained(self) -> dict[str, Any]:
        """Where, when and with which libraries the run was trained."""
        return self.record.get("trained", {})

    def outcome(self) -> str:
        """The run's best epoch and its validation accuracy, in words."""
        if "val_accuracy" in self.history:
            return f"best val_accuracy {self.best():.2%} at epoch {self.best_epoch} of {self.epochs}"
        return f"no validation data: the last of {self.epochs} epochs kept"


def display_path(path: Path) -> str:
    """``path`` relative to the series' folder when it lies inside it (no machine paths in outputs)."""
    try:
        return str(Path(path).resolve().relative_to(config.current().series_dir))
    except ValueError:
        return str(path)


def run_folder(name: str, dataset: str, root: Path | None = None) -> Path:
    """``checkpoints/<dataset>/<name>/`` under ``root`` (where this session writes, by default)."""
    root = config.current().write_dir if root is None else Path(root)
    return root / "checkpoints" / dataset_key(dataset) / name


def hardware() -> str:
    """A short description of what trained the model, e.g. ``CPU x2`` or ``GPU: NVIDIA H200``."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    return f"CPU x{os.cpu_count()}"


# --- Saving and reading runs ------------------------------------------------------------------

def trained_on() -> dict[str, object]:
    """Where and when: hardware, library versions, the date (UTC, to the minute)."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "hardware": hardware(),
        "system": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def same_libraries(record: dict) -> bool:
    """Whether a run was trained with this environment's TensorFlow, Keras and numpy."""
    here, there = trained_on(), record.get("trained", {})
    return all(there.get(key) == here[key] for key in ("tensorflow", "keras", "numpy"))


def write_record(folder: Path, record: dict) -> None:
    """Write ``run.json``: indented, one layer per line, so a change reads well in a diff."""
    (folder / RECORD_FILE).write_text(json.dumps(record, indent=1) + "\n")


def read_history(path: Path) -> dict[str, list[float]]:
    """``history.csv`` (Keras' CSVLogger) as ``{metric: [value per epoch]}``. A run without validation
    data has ``val_*`` columns of "NA" only: they are left out, as they are from the trained run's history."""
    frame = pd.read_csv(path).dropna(axis="columns", how="all")
    return {column: frame[column].astype(float).tolist() for column in frame.columns if column != "epoch"}


def read_run(folder: Path) -> Run:
    """The run saved in ``folder``; a ValueError that says what to do when its files are damaged."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
        history = read_history(folder / HISTORY_FILE)
        result, _ = record["result"], record["recipe"]["model"]
        if not (folder / WEIGHTS_FILE).is_file():
            raise OSError(f"{WEIGHTS_FILE} is missing")
        return Run(name=record["name"], dataset=record["dataset"], history=history,
                   train_time=float(result["train_time_s"]), best_epoch=int(result["best_epoch"]),
                   record=record, folder=folder, loaded=True)
    except (OSError, ValueError, KeyError, TypeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"The saved run in {display_path(folder)} is damaged ({exc!r}). Delete that folder "
                         "to train the run again, or restore it with `git checkout -- <folder>`.") from exc


def saved_runs(name: str, dataset: str) -> list[Run]:
    """The runs saved under this name that this session may reuse, in the store's order: its own
    (the newest first, then those set aside), then the committed one."""
    found = []
    for root in config.current().read_dirs:
        folder = run_folder(name, dataset, root)
        for place in [folder, *sorted(folder.parent.glob(f"{glob_escape(name)}@*"), reverse=True)]:
            if (place / RECORD_FILE).is_file():
                found.append(read_run(place))
    return found


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def find_run(name: str, dataset: str, recipe: dict[str, Any]) -> Run | None:
    """The first saved run (``saved_runs``' order) whose recipe is ``recipe``, or None."""
    return next((run for run in saved_runs(name, dataset) if not differences(run.record["recipe"], recipe)), None)


def is_committed(run: Run) -> bool:
    """Whether a run is one of the series' committed runs (not the session's own)."""
    committed = config.current().series_dir / "checkpoints"
    return run.folder is not None and run.folder.resolve().is_relative_to(committed)


def set_aside(folder: Path) -> Path:
    """Rename a reader's own earlier run so that a new one can take its place (nothing is deleted)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    target = folder.with_name(f"{folder.name}@{stamp}")
    folder.rename(target)
    return target


def replace_folder(partial: Path, folder: Path) -> None:
    """Move a finished run from ``partial`` to ``folder``, replacing what was there. The old run is
    renamed before the new one takes its place, so a crash leaves one of them whole."""
    old = folder.with_name(f"{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    partial.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def dataset_hint(dataset: str) -> str:
    """For error messages: the series' datasets, when ``dataset`` is none of them."""
    return "" if dataset_key(dataset) in DATASETS else f" (the series' datasets: {', '.join(DATASETS)})"
