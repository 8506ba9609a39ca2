"""The results table (the post's global ``models`` dict, now a file) and evaluation helpers."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import use_mode
from mnist_utils import (
    ResultsTable, Run, accuracy, evaluate_show, format_columns, make_datasets, predict_all, predict_probs,
    predict_probs_mirrored,
)


def row(name, test_accuracy, **extra):
    return {"model": name, "test_accuracy": test_accuracy, "val_accuracy": test_accuracy - 0.01, **extra}


def test_table_roundtrip_replaces_rows_and_sorts(isolated_outputs):
    table = ResultsTable("mnist")
    table.add(row("mlp", 0.97))
    table.add(row("lenet", 0.99))
    table.add(row("mlp", 0.98))  # a retrained model replaces its old row
    assert len(table) == 2
    path = table.save()
    assert path == isolated_outputs / "my_runs" / "results" / "mnist.csv"  # the reader's mode: own folder
    loaded = ResultsTable.load("mnist").show(formatted=False)
    assert list(loaded.index) == ["lenet", "mlp"]
    assert loaded.loc["mlp", "test_accuracy"] == pytest.approx(0.98)


def test_show_can_keep_to_the_models_met_so_far(isolated_outputs):
    table = ResultsTable("mnist")
    for name, acc in (("mlp", 0.97), ("lenet", 0.99), ("custom_cnn", 0.995)):
        table.add(row(name, acc))
    assert list(table.show(["mlp", "lenet", "not trained yet"]).index) == ["lenet", "mlp"]
    assert len(table.show()) == 3 and len(table) == 3  # the table keeps every row
    table.save()
    assert len(ResultsTable.load("mnist")) == 3


def test_a_notebooks_table_shows_the_notebooks_met_so_far_and_rewrites_its_own_rows(isolated_outputs):
    for notebook, name in (("02_mlp", "mlp"), ("03_lenet", "lenet"), ("06_all_training_data", "custom_cnn_all_data")):
        table = ResultsTable.load("mnist", notebook=notebook)
        table.add(row(name, 0.98))
        table.add(row(f"{name}_old", 0.97))
        table.save()
    again = ResultsTable.load("mnist", notebook="03_lenet")  # notebook 03 run again: its rows are written anew
    assert sorted(again.frame["model"]) == ["custom_cnn_all_data", "custom_cnn_all_data_old", "mlp", "mlp_old"]
    again.add(row("lenet", 0.99))
    assert sorted(again.show().index) == ["lenet", "mlp", "mlp_old"]  # nothing of notebook 06 yet
    assert again.frame.set_index("model").loc["lenet", "notebook"] == "03_lenet"


def test_counts_stay_whole_numbers_next_to_a_row_without_them(isolated_outputs):
    table = ResultsTable("mnist")
    table.add(row("lenet", 0.99, epochs=20, best_epoch=19, weight_number=61706))
    table.add(row("ensemble", 0.995))  # no epochs: the column must not turn into 20.0
    lines = table.save().read_text().splitlines()
    lenet = dict(zip(lines[0].split(","), lines[1].split(",")))
    assert (lenet["epochs"], lenet["best_epoch"], lenet["weight_number"]) == ("20", "19", "61706")
    assert ResultsTable.load("mnist").frame["epochs"].isna().tolist() == [False, True]


def test_unknown_column_is_refused():
    with pytest.raises(ValueError, match="Unknown columns"):
        ResultsTable("mnist").add({"model": "x", "tset_accuracy": 1.0})


def test_missing_table_is_empty_and_a_broken_one_says_so(isolated_outputs):
    assert len(ResultsTable.load("fashion_mnist")) == 0
    path = ResultsTable.path_for("mnist")
    path.parent.mkdir(parents=True)
    path.write_text("just some text\nwithout a model column\n")
    with pytest.raises(ValueError, match="no 'model' column"):
        ResultsTable.load("mnist")


def test_smoke_mode_reads_the_real_table_but_writes_apart(isolated_outputs):
    use_mode(isolated_outputs, "retrain")  # the committed table
    real = ResultsTable("mnist")
    real.add(row("mlp", 0.98))
    real_path = real.save()
    before = real_path.read_bytes()
    use_mode(isolated_outputs, "smoke")
    table = ResultsTable.load("mnist")
    assert list(table.show().index) == ["mlp"]
    table.add(row("lenet", 0.5))
    smoke_path = table.save()
    assert ".smoke" in smoke_path.parts and real_path.read_bytes() == before


def test_evaluate_show_and_predictions(isolated_outputs):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(64, 28, 28), dtype=np.uint8)
    y = (x[:, 0, 0] > 127).astype(np.int64)  # a label the model can read off one pixel
    datasets = make_datasets((x, y), (x, y), (x, y), batch_size=16)
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)),
                        name="tiny")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(datasets["train"], epochs=1, verbose=0, shuffle=False)
    table = ResultsTable("mnist")
    with pytest.raises(TypeError, match="takes the Run that train\\(\\) returned for 'tiny', got History"):
        evaluate_show(model, history, datasets, table)
    history = Run("tiny", "mnist", history.history, train_time=1.5, best_epoch=1, record={})
    shown = evaluate_show(model, history, datasets, table)
    assert isinstance(shown, pd.DataFrame) and shown.loc["tiny", "weights"] == "7,850"  # 28 * 28 * 10 + 10
    assert shown.loc["tiny", "training time"] == "2 s" and shown.loc["tiny", "epochs"] == "1"
    assert shown.loc["tiny", "test accuracy"].endswith("%") and shown.loc["tiny", "trained on"].startswith(("CPU", "GPU"))
    numbers = table.show(formatted=False)
    assert numbers.loc["tiny", "weight_number"] == 7850 and numbers.loc["tiny", "train_time"] == 1.5
    assert ResultsTable.path_for("mnist").is_file()
    table.add(row("a later model", 0.999))
    assert list(evaluate_show(model, history, datasets, table, show=[]).index) == ["tiny"]
    probs = predict_all([model], x)["tiny"]
    assert probs.shape == (64, 10)
    assert accuracy(probs, y) == pytest.approx(numbers.loc["tiny", "test_accuracy"], abs=1e-4)


def test_evaluate_show_without_validation_data(isolated_outputs):
    x = np.random.default_rng(1).integers(0, 255, size=(32, 28, 28), dtype=np.uint8)
    y = (x[:, 0, 0] > 127).astype(np.int64)
    datasets = make_datasets((x, y), None, (x, y), batch_size=16)
    assert sorted(datasets) == ["test", "train", "train_eval"]
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)),
                        name="all_data")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(datasets["train"], epochs=1, verbose=0, shuffle=False)
    run = Run("all_data", "mnist", history.history, train_time=1.0, best_epoch=1, record={})
    shown = evaluate_show(model, run, datasets, ResultsTable("mnist"))
    assert shown.loc["all_data", "validation accuracy"] == "–"  # no validation: left empty, not made up
    numbers = ResultsTable.load("mnist").show(formatted=False)
    assert 0 <= numbers.loc["all_data", "test_accuracy"] <= 1 and 0 <= numbers.loc["all_data", "train_accuracy"] <= 1


def test_mirrored_predictions_average_both_sides():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)))
    x = np.random.default_rng(0).integers(0, 255, size=(5, 28, 28), dtype=np.uint8)
    mirrored = predict_probs_mirrored(model, x)
    assert mirrored.shape == (5, 10) and np.allclose(mirrored.sum(axis=1), 1.0, atol=1e-5)
    # Both sides count equally: asking about the mirror images gives the same answer...
    assert np.allclose(mirrored, predict_probs_mirrored(model, x[:, :, ::-1]), atol=1e-6)
    # ...which is not the plain answer for images that are not symmetric...
    assert not np.allclose(mirrored, predict_probs(model, x), atol=1e-3)
    # ...but is for symmetric ones.
    symmetric = np.concatenate([x[:, :, :14], x[:, :, :14][:, :, ::-1]], axis=2)
    assert np.allclose(predict_probs_mirrored(model, symmetric), predict_probs(model, symmetric), atol=1e-6)


def test_accuracy():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert accuracy(probs, [0, 1, 1]) == pytest.approx(2 / 3)


def test_mismatched_inputs_get_a_message_that_says_what_to_pass():
    probs = np.full((10, 10), 0.1)
    with pytest.raises(ValueError, match="10 rows of probabilities but 9 labels"):
        accuracy(probs, np.zeros(9, int))
    with pytest.raises(ValueError, match=r"shape \(images, classes\), got shape \(10,\)"):
        accuracy(np.zeros(10), np.zeros(10, int))
    with pytest.raises(ValueError, match=r"a dict of models \['mlp', 'lenet'\]: pass one of them, e.g. probs\['mlp'\]"):
        accuracy({"mlp": probs, "lenet": probs}, np.zeros(10, int))  # predict_all's dict
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)),
                        name="small")
    with pytest.raises(ValueError, match=r"'small' takes images of shape \(28, 28, 1\); these have shape \(32, 32, 1\)"):
        predict_probs(model, np.zeros((2, 32, 32), np.uint8))
    assert predict_probs(model, np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)  # the channel axis is optional


def test_format_columns_writes_the_numbers_as_a_reader_wants_them():
    frame = pd.DataFrame({"val_accuracy": [0.99523, np.nan], "seconds": [619.7, 12.0], "note": ["a", "b"]},
                         index=["custom_cnn", "ensemble"])
    shown = format_columns(frame, {"val_accuracy": "{:.2%}", "seconds": "{:,.0f} s"})
    assert shown["val_accuracy"].tolist() == ["99.52%", "–"] and shown["seconds"].tolist() == ["620 s", "12 s"]
    assert frame["val_accuracy"].iloc[0] == 0.99523  # the table itself is left as it was
    assert "Styler" not in repr(shown) and "99.52%" in shown.to_html()
    with pytest.raises(ValueError, match=r"No columns \['test_accuracy'\]"):
        format_columns(frame, {"test_accuracy": "{:.2%}"})


@pytest.mark.parametrize("images, words", [
    (np.full((2, 28, 28), 200.0, np.float32), r"Float images must lie in 0-1, these lie in 200\.\.200 \(0-255 images: "
                                              r"divide them by 255"),
    (np.full((2, 28, 28), np.nan, np.float32), "NaN or infinite values"),
    (np.full((2, 28, 28), -0.5, np.float32), r"Float images must lie in 0-1, these lie in -0\.5\.\.-0\.5\. Pass"),
    (np.full((2, 28, 28), "7"), "Images must be numbers, got an array of <U1"),
    (np.full((2, 28, 28), 300, np.int64), r"Whole-number images must lie in 0-255, these lie in 300\.\.300"),
])
def test_bad_images_get_an_error_that_says_what_to_pass(images, words):
    from mnist_utils import get_mlp

    model = get_mlp()
    for predict in (predict_probs, lambda m, x: mu_ensemble_predict(m, x)):
        with pytest.raises(ValueError, match=words) as error:
            predict(model, images)
        assert "Pass uint8 images (0-255) or float images (0-1), finite, of shape (N, 28, 28)" in str(error.value)


def mu_ensemble_predict(model, images):
    from mnist_utils import Ensemble

    return Ensemble("one", "mnist", [model.name], [model.name]).predict([model], images)


def test_good_images_of_either_kind_give_the_same_answer():
    from mnist_utils import get_mlp

    model = get_mlp()
    digits = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    np.testing.assert_allclose(predict_probs(model, digits), predict_probs(model, digits / 255.0), atol=1e-6)
    np.testing.assert_allclose(predict_probs(model, digits.astype(np.int64)), predict_probs(model, digits), atol=1e-6)
