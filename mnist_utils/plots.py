"""The series' figures: sample grids, training curves, confusion matrices, mistake galleries."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping, Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from sklearn.metrics import confusion_matrix

from . import config
from .evaluation import check_probabilities


def save_fig(name: str, notebook: str, fig: plt.Figure | None = None, dpi: int = 100) -> Path:
    """Save ``fig`` (the current figure by default) as ``images/<notebook>/<name>.png``."""
    if not re.fullmatch(r"[\w.-]+", name) or not re.fullmatch(r"[\w.-]+", notebook):
        raise ValueError(f"Use letters, digits, '_', '-' and '.' in figure and notebook names: {notebook}/{name}.")
    path = config.current().write_dir / "images" / notebook / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    (fig or plt.gcf()).savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def _label(value: int, class_names: Sequence[str] | None) -> str:
    return class_names[int(value)] if class_names is not None else str(int(value))


def _check_predictions(predictions: Mapping[str, np.ndarray], labels: np.ndarray) -> None:
    if not predictions:
        raise ValueError("No predictions to plot: pass {model name: probabilities}, e.g. predict_all([model], x_test).")
    for model_name, probs in predictions.items():
        check_probabilities(probs, labels, model_name)


def show_images(
    images: np.ndarray,
    labels: Sequence[int],
    x_num: int = 4,
    y_num: int = 8,
    figsize: tuple[float, float] = (12, 6.5),
    class_names: Sequence[str] | None = None,
) -> plt.Figure:
    """A grid of ``x_num`` rows by ``y_num`` columns of images titled with their labels."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels: pass one label per image.")
    count = min(x_num * y_num, len(images))
    fig, axes = plt.subplots(x_num, y_num, figsize=figsize, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < count:
            ax.imshow(np.squeeze(images[i]), cmap="gray_r")
            ax.set_title(_label(labels[i], class_names), fontsize=10)
    fig.tight_layout()
    return fig


def plot_history(
    history: keras.callbacks.History,
    metrics: Sequence[str] = ("accuracy", "loss"),
    axes: Sequence[plt.Axes] | None = None,
    title: str | None = None,
) -> plt.Figure:
    """Training vs validation curves per epoch, one panel per metric (takes what ``train``
    returned, or a Keras History).

    Pass ``axes`` (one per metric) to draw into a figure of your own, e.g. several models side by
    side; ``title`` replaces the panels' default titles (which name the run when it has a name).
    """
    logs = history.history if hasattr(history, "history") else dict(history)
    epochs = np.arange(1, len(logs[metrics[0]]) + 1)
    own_figure = axes is None
    if own_figure:
        fig, grid = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4.5), squeeze=False)
        axes = list(grid.flat)
    elif len(axes) != len(metrics):
        raise ValueError(f"Give one axes per metric: {len(axes)} axes for metrics {list(metrics)}.")
    for ax, metric in zip(axes, metrics):
        ax.plot(epochs, logs[metric], "o-", label="training")
        if f"val_{metric}" in logs:
            ax.plot(epochs, logs[f"val_{metric}"], "o-", label="validation")
        best = getattr(history, "best_epoch", None)
        if best is not None:
            # Without validation, mu.train keeps the last epoch: nothing was chosen as "best".
            label = f"best epoch ({best})" if f"val_{metric}" in logs else f"kept: last epoch ({best})"
            ax.axvline(best, color="gray", linestyle=":", label=label)
        name = getattr(history, "name", None)
        default = f"{name}: {metric} per epoch" if name else f"{metric.capitalize()} per epoch"
        ax.set(title=title or default, xlabel="Epoch", ylabel=metric.capitalize())
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    if own_figure:
        fig.tight_layout()
    return axes[0].figure


def plot_confusion_matrix(
    predictions: Mapping[str, np.ndarray],
    labels: np.ndarray,
    class_names: Sequence[str] | None = None,
) -> plt.Figure:
    """Confusion matrices (scikit-learn) as seaborn heatmaps, side by side, one per model.

    ``predictions`` maps model name to class probabilities (see ``predict_all``).
    """
    _check_predictions(predictions, labels)
    names = class_names if class_names is not None else [str(i) for i in range(10)]
    count = len(predictions)
    fig, axes = plt.subplots(1, count, figsize=(7.5 * count, 6), squeeze=False)
    for ax, (model_name, probs) in zip(axes.flat, predictions.items()):
        matrix = confusion_matrix(labels, np.argmax(probs, axis=-1), labels=range(len(names)))
        frame = pd.DataFrame(matrix, index=names, columns=names)
        # Hide the diagonal's colour so the off-diagonal mistakes stand out.
        sns.heatmap(frame, annot=True, fmt="d", cmap="YlGnBu", ax=ax, cbar=False,
                    mask=np.eye(len(names), dtype=bool), annot_kws={"fontsize": 9})
        for i in range(len(names)):
            ax.text(i + 0.5, i + 0.5, str(matrix[i, i]), ha="center", va="center", fontsize=8, color="gray")
        errors = int(matrix.sum() - np.trace(matrix))
        ax.set(title=f"{model_name}: {errors} mistakes out of {int(matrix.sum())}",
               xlabel="Predicted", ylabel="Actual")
    fig.tight_layout()
    return fig


def plot_predicted_sample(
    predictions: Mapping[str, np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    sample_count: int = 5,
    show_error: bool = True,
    class_names: Sequence[str] | None = None,
    seed: int = 0,
) -> plt.Figure:
    """Sample images (those the FIRST model got wrong if ``show_error``), each with every
    model's predicted probabilities as bars. ``predictions``: model name -> probabilities."""
    labels = np.asarray(labels)
    _check_predictions(predictions, labels)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels: pass the images the probabilities "
                         "were predicted for, with their labels.")
    first = next(iter(predictions.values()))
    pool = np.flatnonzero(np.argmax(first, axis=-1) != labels) if show_error else np.arange(len(labels))
    if len(pool) == 0:
        raise ValueError("The first model made no mistakes on these images: nothing to show.")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(pool, size=min(sample_count, len(pool)), replace=False)
    names = class_names if class_names is not None else [str(i) for i in range(10)]
    columns = len(predictions) + 1
    fig, axes = plt.subplots(len(chosen), columns, figsize=(2.6 * columns + 1, 2.1 * len(chosen)), squeeze=False)
    for row, index in zip(axes, chosen):
        row[0].imshow(np.squeeze(images[index]), cmap="gray_r", interpolation="none")
        row[0].set_title(f"#{index} actual: {_label(labels[index], class_names)}", fontsize=10)
        row[0].axis("off")
        for ax, (model_name, probs) in zip(row[1:], predictions.items()):
            guess = int(np.argmax(probs[index]))
            colors = ["tab:green" if k == labels[index] else "tab:red" if k == guess else "steelblue"
                      for k in range(len(names))]
            if class_names is None:
                ax.bar(range(len(names)), probs[index], color=colors)
                ax.set(ylim=(0, 1), xticks=range(len(names)))
                ax.set_xticklabels(names, fontsize=8)
            else:
                # Class names are long: horizontal bars, names read once at the left of each row.
                ax.barh(range(len(names)), probs[index], color=colors)
                ax.set(xlim=(0, 1), yticks=range(len(names)))
                ax.set_yticklabels(names if ax is row[1] else [], fontsize=8)
                ax.invert_yaxis()
            ax.set_title(f"{model_name}: {_label(guess, class_names)}", fontsize=10)
    fig.tight_layout()
    return fig
