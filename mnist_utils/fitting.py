"""A plain ``model.fit`` with the post's callbacks, a one-line epoch log, and the run's files written whole."""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import runs


class TaskTime:
    """Context manager that times a block: ``with TaskTime("training") as t: ...; t.elapsed_time()``."""

    def __init__(self, task_name: str, show_start: bool = False, show_end: bool = True) -> None:
        self.task_name = task_name
        self.show_start = show_start
        self.show_end = show_end
        self.start_time = time.perf_counter()
        self.end_time: float | None = None

    def elapsed_time(self) -> float:
        """Seconds since the block started (or its total length once it has ended)."""
        end = self.end_time if self.end_time is not None else time.perf_counter()
        return end - self.start_time

    def __enter__(self) -> "TaskTime":
        self.start_time = time.perf_counter()
        if self.show_start:
            print(f"start {self.task_name}")
        return self

    def __exit__(self, *exc_info) -> None:
        self.end_time = time.perf_counter()
        if self.show_end:
            print(f"finish {self.task_name} [elapsed time: {self.elapsed_time():.1f} s]")


def post_callbacks(reduce_lr: bool, early_stopping: bool) -> list[keras.callbacks.Callback]:
    """The post's callbacks: ReduceLROnPlateau on ``val_loss`` and EarlyStopping on ``val_accuracy``."""
    found: list[keras.callbacks.Callback] = []
    if reduce_lr:
        found.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=4, min_lr=1e-4))
    if early_stopping:
        found.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=6))
    return found


def epoch_line(epoch: int, epochs: int, logs: dict[str, float], improved: bool) -> str:
    """One epoch of the log: its number, seconds, metrics, learning rate, and a mark when validation improved."""
    metrics = "  ".join(f"{key} {value:.4f}" for key, value in logs.items()
                        if key not in (runs.SECONDS, runs.LEARNING_RATE))
    width = len(str(epochs))
    return (f"epoch {epoch:>{width}}/{epochs}  {logs.get(runs.SECONDS, float('nan')):5.1f}s  {metrics}  "
            f"lr {logs.get(runs.LEARNING_RATE, float('nan')):.2g}" + ("  *" if improved else ""))


class EpochRecorder(keras.callbacks.Callback):
    """Adds each epoch's seconds and learning rate to its logs, so that the History and the CSV log keep them."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch_start = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs[runs.SECONDS] = round(time.perf_counter() - self.epoch_start, 2)
            logs[runs.LEARNING_RATE] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class EpochLogger(keras.callbacks.Callback):
    """One clean line per epoch (see ``epoch_line``); runs after ``EpochRecorder``."""

    def __init__(self, epochs: int, monitor: str | None = "val_accuracy") -> None:
        super().__init__()
        self.epochs = epochs
        self.monitor = monitor  # None: no validation, so no improvement marks
        self.best = -float("inf")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        value = logs.get(self.monitor, -float("inf")) if self.monitor else -float("inf")
        improved = value > self.best
        self.best = max(self.best, value)
        print(epoch_line(epoch + 1, self.epochs, logs, improved), flush=True)


def _keep_only_weights(model: keras.Model, path: Path) -> None:
    """Rewrite the checkpoint at ``path`` with the model's weights alone.

    Keras 3 saves the optimizer's state beside the weights (for Adam, two more numbers per weight:
    a file three times larger), which evaluating never reads. The same model rebuilt from its config
    has no optimizer, so what it saves is the weights. A model that cannot be rebuilt (a subclass
    without ``get_config``) keeps the file as Keras wrote it.
    """
    state = random.getstate()  # rebuilding draws seeds from Python's generator: leave it as training left it
    try:
        bare = type(model).from_config(model.get_config())
    except (NotImplementedError, TypeError, ValueError):
        return
    finally:
        random.setstate(state)
    bare.load_weights(str(path))
    partial = path.with_name(f"partial.{path.name}")  # replaced in one step: a crash keeps the old file
    bare.save_weights(str(partial))
    partial.replace(path)


def fit(
    model: keras.Model,
    train_data: tf.data.Dataset,
    val_data: tf.data.Dataset | None,
    epochs: int,
    callbacks: list[keras.callbacks.Callback],
    verbose: bool,
    save_to: Path | None,
) -> tuple[dict[str, list[float]], int, float]:
    """``model.fit`` with ``callbacks``, the epoch log (``verbose``) and, with ``save_to``, the best
    weights (the last without validation) and the history written into that folder.

    Returns the history, the best epoch (1-based) and the seconds the fit took.
    """
    validated = val_data is not None
    recording: list[keras.callbacks.Callback] = [EpochRecorder()]
    if save_to is not None:
        shutil.rmtree(save_to, ignore_errors=True)
        save_to.mkdir(parents=True)
        recording += [
            keras.callbacks.ModelCheckpoint(  # without validation: every epoch, so the last stays
                filepath=str(save_to / runs.WEIGHTS_FILE), monitor="val_accuracy",
                save_best_only=validated, save_weights_only=True),
            keras.callbacks.CSVLogger(str(save_to / runs.HISTORY_FILE)),
        ]
    logger = [EpochLogger(epochs, monitor="val_accuracy" if validated else None)] if verbose else []
    with TaskTime(f"training {model.name}", show_end=False) as timer:
        fitted = model.fit(train_data, validation_data=val_data, epochs=epochs,
                           callbacks=recording + callbacks + logger,
                           shuffle=False,  # the tf.data pipeline shuffles; Keras would only warn
                           verbose=0)
    history = {key: [float(v) for v in values] for key, values in fitted.history.items()}
    best_epoch = int(np.argmax(history["val_accuracy"])) + 1 if validated else len(history["loss"])
    if save_to is not None:
        _keep_only_weights(model, save_to / runs.WEIGHTS_FILE)
    return history, best_epoch, timer.elapsed_time()
