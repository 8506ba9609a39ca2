"""A training run saved whole: best weights, per-epoch history, and a record of how it was trained.

A run lives in ``checkpoints/<dataset>/<name>/``::

    best.weights.h5   the weights of the best validation epoch (the last one without validation)
    history.csv       one row per epoch: every metric, the learning rate, the epoch's seconds
    run.json          the recipe (model, optimizer, data, epochs, callbacks, seed), the outcome,
                      and what it was trained on (hardware, library versions, date)

The recipe is what decides whether a saved run can stand in for a new training: the same
layers, optimizer, initial weights, data and epochs give the same run.
"""

from __future__ import annotations

import datetime
import hashlib
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


def display_path(path: Path) -> str:
    """``path`` relative to the series' folder when it lies inside it (no machine paths in outputs)."""
    try:
        return str(Path(path).resolve().relative_to(config.project_dir()))
    except ValueError:
        return str(path)


def run_folder(name: str, dataset: str = "mnist", root: Path | None = None) -> Path:
    """``checkpoints/<dataset>/<name>/`` under ``root`` (this run's output folder by default)."""
    root = config.output_dir() if root is None else Path(root)
    return root / "checkpoints" / dataset_key(dataset) / name


def hardware() -> str:
    """A short description of what trained the model, e.g. ``CPU x2`` or ``GPU: NVIDIA H200``."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)}"
    return f"CPU x{os.cpu_count()}"


def current_seed() -> int | None:
    """The seed last given to ``keras.utils.set_random_seed`` (None if it was never called, or if
    this Keras keeps it elsewhere: Keras 3 has no public getter)."""
    try:
        from keras.src.utils import rng_utils
    except ImportError:
        return None
    return rng_utils.get_random_seed()


# --- The recipe: what a run was trained from -------------------------------------------------

def _short(value: object) -> object:
    """A serialized Keras object (initializer, regularizer, ...) as its class name with the settings
    that are set; everything else as it is."""
    if isinstance(value, dict) and "class_name" in value:
        settings = {k: v for k, v in (value.get("config") or {}).items() if v is not None and k != "name"}
        return value["class_name"] + (f"({', '.join(f'{k}={_short(v)!r}' for k, v in settings.items())})"
                                      if settings else "")
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value


def _sources(node: object) -> list[str]:
    """Names of the layers whose outputs a functional layer entry's inbound nodes take."""
    if isinstance(node, dict):
        if "keras_history" in node.get("config", {}):
            return [node["config"]["keras_history"][0]]
        return [name for value in node.values() for name in _sources(value)]
    if isinstance(node, (list, tuple)):
        return [name for value in node for name in _sources(value)]
    return []


def describe_model(model: keras.Model) -> list[str]:
    """One line per layer: its class and settings (not its name), and, where a layer does not take
    the previous layer's output, the indices of the layers it takes (for branches and skips)."""
    entries = model.get_config().get("layers") if hasattr(model, "get_config") else None
    index = {layer.name: i for i, layer in enumerate(model.layers)}
    lines = []
    for i, layer in enumerate(model.layers):
        settings = {k: v for k, v in layer.get_config().items()
                    if k not in {"name", "trainable", "dtype"} and v is not None}
        if not layer.trainable:
            settings["trainable"] = False  # frozen: another recipe
        if layer.dtype_policy.name != "float32":
            settings["dtype"] = layer.dtype_policy.name  # mixed precision: another recipe
        line = f"{type(layer).__name__}({', '.join(f'{k}={_short(v)!r}' for k, v in settings.items())})"
        sources = [index[name] for name in _sources(entries[i].get("inbound_nodes", []))] if entries else []
        if sources and sources != [i - 1]:
            line += f" <- {sources}"
        lines.append(line)
    return lines


def weights_fingerprint(model: keras.Model) -> str:
    """SHA-256 of the model's weights rounded to 6 decimals: the same seed and layers give the same
    initial weights."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.round(np.asarray(weight, dtype=np.float64), 6).astype(np.float32).tobytes())
    return digest.hexdigest()[:16]


def data_fingerprint(dataset: tf.data.Dataset) -> dict[str, object]:
    """Examples, batch size and a hash of a pipeline's (image, label) pairs that does not depend on
    their order, so that a pipeline reshuffled by an earlier training still matches."""
    hashes, batch_size = [], 0
    weights = None
    for images, labels in dataset.as_numpy_iterator():
        flat = np.ascontiguousarray(images, dtype=np.float32).reshape(len(images), -1).view(np.uint32)
        if weights is None:
            weights = np.random.default_rng(0).integers(1, 2**62, size=flat.shape[1], dtype=np.uint64)
        with np.errstate(over="ignore"):  # wrapping around 2**64 is the point
            row_hash = (flat.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
            hashes.append(row_hash * np.uint64(1_000_003) + np.asarray(labels).astype(np.uint64))
        batch_size = max(batch_size, len(images))
    combined = np.sort(np.concatenate(hashes)) if hashes else np.zeros(0, np.uint64)
    return {"examples": int(len(combined)), "batch_size": batch_size,
            "sha256": hashlib.sha256(combined.tobytes()).hexdigest()[:16]}


def describe_recipe(
    model: keras.Model,
    epochs: int,
    settings: dict[str, object],
    data: dict[str, object],
) -> dict[str, object]:
    """Everything a run is trained from, as plain JSON values: ``settings`` (the callbacks' switches),
    ``data`` (``describe_data``) and the model as it is now (call it before training, for its
    initial weights)."""
    optimizer = keras.optimizers.serialize(model.optimizer) if model.optimizer is not None else None
    return {
        "seed": current_seed(),
        "epochs": epochs,
        **settings,
        **data,
        "optimizer": _short({"class": (optimizer or {}).get("class_name"),
                             **{k: v for k, v in (optimizer or {}).get("config", {}).items()
                                if k != "name" and v is not None}}),
        "loss": _short(keras.losses.serialize(model.loss)) if model.loss is not None else None,
        "jit_compile": bool(getattr(model, "jit_compile", False)),
        "initial_weights": weights_fingerprint(model),
        "model": describe_model(model),
    }


def describe_data(train_dataset: tf.data.Dataset, val_dataset: tf.data.Dataset | None) -> dict[str, object]:
    """The training and validation pipelines' fingerprints. Reading a reshuffling pipeline moves
    its next shuffle on, so ``train`` reads them after training (before only to compare a recipe)."""
    return {"train_data": data_fingerprint(train_dataset),
            "val_data": None if val_dataset is None else data_fingerprint(val_dataset)}


def differences(recorded: dict[str, Any], asked: dict[str, Any]) -> list[str]:
    """What differs between two recipes, one short phrase each (empty when they match)."""
    asked = json.loads(json.dumps(asked))  # compared as saved: tuples become lists, as in the record
    found = []
    for key in dict.fromkeys([*asked, *recorded]):
        old, new = recorded.get(key), asked.get(key)
        if old == new:
            continue
        if key == "model" and isinstance(old, list) and isinstance(new, list):
            changed = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
            found.append(f"model (from layer {changed}: {len(old)} layers recorded, {len(new)} now)")
        elif isinstance(old, (dict, list)) or isinstance(new, (dict, list)) or key == "initial_weights":
            found.append(key)
        else:
            found.append(f"{key} ({old} -> {new})")
    return found


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
    """The runs saved under this name that this mode may reuse: this mode's own, then the committed one."""
    found = []
    for root in config.read_dirs():
        folder = run_folder(name, dataset, root)
        if (folder / RECORD_FILE).is_file():
            found.append(read_run(folder))
    return found


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
