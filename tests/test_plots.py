"""The figures: right number of panels, labels from the data, files where they belong."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from conftest import use_mode  # noqa: E402
from mnist_utils import (  # noqa: E402
    CLASS_NAMES, plot_confusion_matrix, plot_history, plot_predicted_sample, save_fig, show_images,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def one_hot_probs(predicted, classes=10):
    probs = np.full((len(predicted), classes), 0.01)
    probs[np.arange(len(predicted)), predicted] = 0.91
    return probs


def test_show_images_titles_are_labels():
    images = np.zeros((8, 28, 28), np.uint8)
    fig = show_images(images, [3, 1, 4, 1, 5, 9, 2, 6], x_num=2, y_num=4, class_names=CLASS_NAMES["fashion_mnist"])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["Dress", "Trouser", "Coat"] and len(fig.axes) == 8


def test_plot_history_panels_and_best_epoch():
    class History:
        history = {"accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.6, 0.75, 0.7],
                   "loss": [1.0, 0.6, 0.4], "val_loss": [0.9, 0.7, 0.8]}
        best_epoch = 2

    fig = plot_history(History())
    assert len(fig.axes) == 2
    assert [len(line.get_xdata()) for line in fig.axes[0].lines[:2]] == [3, 3]
    assert "best epoch (2)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_plot_history_without_validation_marks_the_kept_last_epoch():
    class History:  # what mu.train returns with val_dataset=None
        history = {"accuracy": [0.5, 0.7, 0.8], "loss": [1.0, 0.6, 0.4]}
        best_epoch = 3

    fig = plot_history(History())
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["training", "kept: last epoch (3)"]


def test_plot_history_draws_into_given_axes_one_per_metric():
    history = {"accuracy": [0.5, 0.7], "val_accuracy": [0.6, 0.65]}
    fig, axes = plt.subplots(1, 2)
    assert plot_history(history, metrics=["accuracy"], axes=[axes[1]], title="lenet") is fig
    assert axes[1].get_title() == "lenet" and len(axes[1].lines) == 2 and not axes[0].lines
    with pytest.raises(ValueError, match="one axes per metric"):
        plot_history(history, metrics=["accuracy", "loss"], axes=[axes[0]])


def test_confusion_matrices_side_by_side_count_mistakes():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1])
    first = one_hot_probs(labels)
    wrong = labels.copy()
    wrong[:3] = 9
    fig = plot_confusion_matrix({"a": first, "b": one_hot_probs(wrong)}, labels)
    assert [ax.get_title() for ax in fig.axes] == ["a: 0 mistakes out of 12", "b: 3 mistakes out of 12"]


def test_predicted_sample_shows_the_first_models_mistakes():
    labels = np.arange(20) % 10
    predicted = labels.copy()
    predicted[[2, 5, 11]] = 0
    probs = {"base": one_hot_probs(predicted), "other": one_hot_probs(labels)}
    fig = plot_predicted_sample(probs, np.zeros((20, 28, 28)), labels, sample_count=5)
    image_titles = [ax.get_title() for ax in fig.axes[::3]]
    assert len(image_titles) == 3  # only three mistakes exist
    assert {t.split()[0] for t in image_titles} == {"#2", "#5", "#11"}
    assert all(ax.get_title().startswith("other: ") for ax in fig.axes[2::3])
    with pytest.raises(ValueError, match="no mistakes"):
        plot_predicted_sample({"other": probs["other"]}, np.zeros((20, 28, 28)), labels)


def test_save_fig_writes_under_images(isolated_outputs, monkeypatch):
    fig = show_images(np.zeros((1, 28, 28)), [0], x_num=1, y_num=1)
    path = save_fig("grid", "01_data", fig)
    assert path == isolated_outputs / "my_runs" / "images" / "01_data" / "grid.png" and path.stat().st_size > 0
    use_mode(isolated_outputs, "retrain")
    assert save_fig("grid", "01_data", fig) == isolated_outputs / "images" / "01_data" / "grid.png"
    use_mode(isolated_outputs, "smoke")
    assert ".smoke" in save_fig("grid", "01_data", fig).parts
    with pytest.raises(ValueError, match="figure and notebook names"):
        save_fig("../escape", "01_data", fig)


def test_predicted_sample_names_classes_once_per_row():
    names = CLASS_NAMES["fashion_mnist"]
    labels = np.array([0, 1, 2, 3])
    probs = {"a": one_hot_probs([1, 1, 2, 3]), "b": one_hot_probs([0, 1, 2, 3])}
    fig = plot_predicted_sample(probs, np.zeros((4, 28, 28)), labels, class_names=names)
    image_ax, first, second = fig.axes
    assert image_ax.get_title() == "#0 actual: T-shirt/top" and first.get_title() == "a: Trouser"
    assert [t.get_text() for t in first.get_yticklabels()] == list(names)
    assert not any(t.get_text() for t in second.get_yticklabels())


def test_plots_refuse_predictions_that_do_not_match_the_labels():
    labels = np.arange(12) % 10
    good, short = one_hot_probs(labels), one_hot_probs(labels[:9])
    with pytest.raises(ValueError, match="9 rows of probabilities of 'b' but 12 labels"):
        plot_confusion_matrix({"a": good, "b": short}, labels)
    with pytest.raises(ValueError, match="No predictions"):
        plot_confusion_matrix({}, labels)
    with pytest.raises(ValueError, match="9 rows of probabilities of 'b'"):
        plot_predicted_sample({"b": short}, np.zeros((12, 28, 28)), labels)
    with pytest.raises(ValueError, match="10 images but 12 labels"):
        plot_predicted_sample({"a": good}, np.zeros((10, 28, 28)), labels)
    with pytest.raises(ValueError, match="10 images but 12 labels"):
        show_images(np.zeros((10, 28, 28)), labels)
