"""Evaluation, predictions computed once, and the model comparison table kept in a file."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from . import config
from .data import dataset_key, to_float
from .models import get_weight_num
from .runs import Run, display_path, hardware

COLUMNS = [
    "model", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
    "test_accuracy", "weight_number", "train_time", "epochs", "best_epoch", "hardware", "notebook",
]
# Counts stay whole numbers even where a row leaves them empty (an ensemble has no epochs).
COUNT_COLUMNS = {"weight_number": "Int64", "epochs": "Int64", "best_epoch": "Int64"}
# What a reader sees of the table: column -> (heading, format).
DISPLAY_COLUMNS = {
    "test_accuracy": ("test accuracy", "{:.2%}"),
    "val_accuracy": ("validation accuracy", "{:.2%}"),
    "train_accuracy": ("training accuracy", "{:.2%}"),
    "test_loss": ("test loss", "{:.4f}"),
    "weight_number": ("weights", "{:,}"),
    "train_time": ("training time", "{:,.0f} s"),
    "epochs": ("epochs", "{}"),
    "best_epoch": ("best epoch", "{}"),
    "hardware": ("trained on", "{}"),
}


class ResultsTable:
    """One row per model: losses and accuracies on train/val/test, weights, training time, and the
    notebook that wrote the row.

    Replaces the post's global ``models`` dict. It lives in ``results/<dataset>.csv`` so a later
    notebook can show every model trained so far without retraining. A table opened for a
    ``notebook`` drops that notebook's earlier rows (it writes them again), tags the rows it adds
    with it, and shows only the rows of the notebooks up to it (what a reader has met so far).
    """

    def __init__(self, dataset: str, frame: pd.DataFrame | None = None, notebook: str | None = None) -> None:
        self.dataset = dataset_key(dataset)
        self.notebook = notebook
        frame = pd.DataFrame(columns=COLUMNS) if frame is None else frame.reindex(columns=COLUMNS)
        if notebook is not None:
            frame = frame[frame["notebook"] != notebook].reset_index(drop=True)
        self.frame = frame.astype(COUNT_COLUMNS)

    @staticmethod
    def path_for(dataset: str, root: Path | None = None) -> Path:
        """The file of ``dataset``'s table under ``root`` (this run's output folder by default)."""
        root = config.current().write_dir if root is None else Path(root)
        return root / "results" / f"{dataset_key(dataset)}.csv"

    @classmethod
    def load(cls, dataset: str, notebook: str | None = None) -> "ResultsTable":
        """The saved table of ``dataset`` (this mode's own first, then the committed one), or an
        empty one if none was saved yet; see the class for ``notebook``."""
        for root in config.current().read_dirs:
            path = cls.path_for(dataset, root)
            if path.is_file():
                try:
                    frame = pd.read_csv(path)
                except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                    raise ValueError(f"{display_path(path)} is not a results table ({exc}); "
                                     "delete it to start a new one.") from exc
                if "model" not in frame.columns:
                    raise ValueError(f"{display_path(path)} has no 'model' column; delete it to start a new one.")
                return cls(dataset, frame, notebook)
        return cls(dataset, notebook=notebook)

    def save(self) -> Path:
        """Write the table to ``results/<dataset>.csv`` of this mode's output folder."""
        path = self.path_for(self.dataset)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.frame.to_csv(path, index=False)
        return path

    def add(self, row: Mapping[str, object]) -> None:
        """Add a model's row, replacing an earlier row of the same model name."""
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"Unknown columns {sorted(unknown)}; expected some of {COLUMNS}.")
        row = {"notebook": self.notebook, **row}
        kept = self.frame[self.frame["model"] != row["model"]]
        new = pd.DataFrame([row]).reindex(columns=COLUMNS).astype(COUNT_COLUMNS)
        self.frame = new if kept.empty else pd.concat([kept, new], ignore_index=True)

    def show(self, models: Iterable[str] | None = None, formatted: bool = True) -> pd.DataFrame:
        """The table indexed by model, best test accuracy first (for display, not for selection):
        the rows of ``models`` if given, else those of the notebooks up to this table's notebook.

        ``formatted``: the columns a reader needs, as percentages, seconds and counts (text);
        ``formatted=False`` gives every column as numbers.
        """
        frame = self.frame
        if models is not None:
            frame = frame[frame["model"].isin(list(models))]
        elif self.notebook is not None:
            frame = frame[frame["notebook"].fillna("") <= self.notebook]
        frame = frame.sort_values("test_accuracy", ascending=False).set_index("model")
        if not formatted:
            return frame
        shown = format_columns(frame[list(DISPLAY_COLUMNS)], {column: text for column, (_, text) in DISPLAY_COLUMNS.items()})
        return shown.rename(columns={column: heading for column, (heading, _) in DISPLAY_COLUMNS.items()})

    def __len__(self) -> int:
        return len(self.frame)


def format_columns(frame: pd.DataFrame, formats: Mapping[object, str], na_rep: str = "–") -> pd.DataFrame:
    """A copy of ``frame`` with the given columns written as text by format strings, e.g.
    ``{"val_accuracy": "{:.2%}"}``: what ``frame.style.format`` shows, as a plain table whose text and
    HTML read the same in a notebook and on a web page."""
    unknown = [column for column in formats if column not in frame.columns]
    if unknown:
        raise ValueError(f"No columns {unknown} in the table; its columns are {list(frame.columns)}.")
    shown = frame.copy()
    for column, text in formats.items():
        shown[column] = [na_rep if pd.isna(value) else text.format(value) for value in frame[column]]
    return shown


def evaluate_model(model: keras.Model, datasets: Mapping[str, object]) -> dict[str, float]:
    """Loss and accuracy of ``model`` on those of the ``train_eval``, ``val`` and ``test``
    pipelines that ``datasets`` has."""
    scores: dict[str, float] = {}
    for split, key in (("train", "train_eval"), ("val", "val"), ("test", "test")):
        if key not in datasets:
            continue
        loss, accuracy = model.evaluate(datasets[key], verbose=0)
        scores[f"{split}_loss"] = round(float(loss), 6)
        scores[f"{split}_accuracy"] = round(float(accuracy), 4)
    return scores


def evaluate_show(
    model: keras.Model,
    run: Run,
    datasets: Mapping[str, object],
    results: ResultsTable,
    save: bool = True,
    show: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Evaluate ``model`` (with its best weights), record it in ``results`` with what ``train``
    returned for it (``run``), save the table, and return it formatted for display, best test
    accuracy first (only the rows of the models in ``show``, and ``model``'s own, if given)."""
    if not isinstance(run, Run):
        raise TypeError(f"evaluate_show takes the Run that train() returned for {model.name!r}, got "
                        f"{type(run).__name__}.")
    row = {"model": model.name, **evaluate_model(model, datasets),
           "weight_number": get_weight_num(model),
           "train_time": round(run.train_time, 1),
           "epochs": run.epochs,
           "best_epoch": run.best_epoch,
           "hardware": run.record.get("trained", {}).get("hardware", hardware())}
    results.add(row)
    if save:
        results.save()
    return results.show(None if show is None else [*show, model.name])


def predict_probs(model: keras.Model, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Class probabilities of ``model`` for uint8 or float images.

    One compiled forward pass per chunk of ``batch_size`` images: several times faster than a
    default ``model.predict`` (batches of 32, each through Keras' per-batch machinery).
    """
    images = to_float(images)
    expected = tuple(model.input_shape[1:])
    if len(expected) != images.ndim - 1 or any(e not in (None, got) for e, got in zip(expected, images.shape[1:])):
        raise ValueError(f"Model {model.name!r} takes images of shape {expected}; these have shape "
                         f"{images.shape[1:]}. Pass the same kind of images it was trained on.")
    if len(images) == 0:
        return np.zeros((0,) + tuple(model.output_shape[1:]), np.float32)
    size = min(batch_size, len(images))
    forward = tf.function(lambda batch: model(batch, training=False))
    outputs = []
    for start in range(0, len(images), size):
        chunk = images[start:start + size]
        # Pad the last chunk to the same shape so that the function is traced only once.
        padded = np.concatenate([chunk, np.zeros((size - len(chunk),) + chunk.shape[1:], chunk.dtype)])
        outputs.append(np.asarray(forward(tf.constant(padded)))[: len(chunk)])
    return np.concatenate(outputs)


def predict_probs_mirrored(model: keras.Model, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Test-time augmentation with mirror images: the average of ``model``'s probabilities for
    the images and for their left-right mirror images."""
    images = np.asarray(images)
    return (predict_probs(model, images, batch_size) + predict_probs(model, images[:, :, ::-1], batch_size)) / 2


def predict_all(models: Iterable[keras.Model], images: np.ndarray) -> dict[str, np.ndarray]:
    """Probabilities of each model, keyed by model name: compute once, reuse in every plot."""
    return {model.name: predict_probs(model, images) for model in models}


def check_probabilities(probs: np.ndarray, labels: np.ndarray, model_name: str = "") -> None:
    """Raise a ValueError that says what to pass unless ``probs`` is one row of class
    probabilities per label."""
    if isinstance(probs, Mapping):  # what predict_all returns: one entry per model
        example = f", e.g. probs[{next(iter(probs))!r}]" if probs else ""
        raise ValueError(f"Expected one model's class probabilities, got a dict of models {list(probs)}: "
                         f"pass one of them{example}.")
    probs, labels = np.asarray(probs), np.asarray(labels)
    whose = f" of {model_name!r}" if model_name else ""
    if probs.ndim != 2:
        raise ValueError(f"Expected class probabilities{whose} of shape (images, classes), got shape {probs.shape}: "
                         "pass what predict_probs returns for one model.")
    if len(probs) != len(labels):
        raise ValueError(f"{len(probs)} rows of probabilities{whose} but {len(labels)} labels: pass the labels of "
                         "the images they were predicted for (e.g. y_test with predict_probs(model, x_test)).")


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``labels`` that the most probable class gets right."""
    check_probabilities(probs, labels)
    return float(np.mean(np.argmax(probs, axis=-1) == np.asarray(labels)))
