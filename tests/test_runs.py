"""Runs saved whole, and the three modes: the reader's reuses a matching committed run and writes
only to my_runs/, retraining rewrites the committed run, smoke keeps to .smoke/."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

import mnist_utils as mu
from mnist_utils import config, runs


def tiny_model(width: int = 16, name: str = "tiny") -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Dense(width, activation="relu")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x), name=name)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def small(mnist):
    (x_train, y_train), _ = mnist
    return (x_train[:1200], y_train[:1200]), (x_train[1200:1600], y_train[1200:1600])


def pipelines(small, seed: int = 0, train_count: int = 1200):
    (x, y), val = small
    return mu.make_datasets((x[:train_count], y[:train_count]), val, val, batch_size=64, seed=seed)


def fit(small, monkeypatch, mode: str, width: int = 16, epochs: int = 2, seed: int = 0, train_count: int = 1200):
    """Build the tiny model with ``seed`` and train it in ``mode``."""
    monkeypatch.setenv("MNIST_RETRAIN", {"retrain": "1", "missing": "missing"}.get(mode, "0"))
    monkeypatch.setenv("MNIST_SMOKE", "1" if mode == "smoke" else "0")
    keras.utils.set_random_seed(seed)
    model = tiny_model(width)
    datasets = pipelines(small, seed, train_count)
    return model, mu.train(model, datasets["train"], datasets["val"], epochs=epochs, reduce_lr=False,
                           early_stopping=False)


def snapshot(root: Path) -> dict[str, str]:
    """SHA-256 of every file under the committed folders of ``root``."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in ("checkpoints", "results", "images") for path in sorted((root / folder).rglob("*"))
            if path.is_file()}


def test_a_run_is_saved_whole(small, monkeypatch, isolated_outputs):
    model, run = fit(small, monkeypatch, "retrain", epochs=3)
    folder = isolated_outputs / "checkpoints" / "mnist" / "tiny"
    assert run.folder == folder and run.checkpoint_path == folder / "best.weights.h5" and not run.loaded
    history = pd.read_csv(folder / "history.csv")  # Keras' CSVLogger: one row per epoch
    assert len(history) == 3 and {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
                                  "seconds"} <= set(history.columns)
    assert history["val_accuracy"].tolist() == run.history["val_accuracy"]
    record = json.loads((folder / "run.json").read_text())
    assert record["name"] == "tiny" and record["dataset"] == "mnist"
    assert record["recipe"]["seed"] == 0 and record["recipe"]["epochs"] == 3
    assert record["recipe"]["train_data"]["examples"] == 1200 and record["recipe"]["train_data"]["batch_size"] == 64
    assert record["recipe"]["model"][2].startswith("Dense(units=16, activation='relu'")
    assert record["result"]["best_epoch"] == run.best_epoch == int(np.argmax(run.history["val_accuracy"])) + 1
    assert set(record["trained"]) >= {"date", "hardware", "tensorflow", "keras", "python"}
    assert not list(folder.parent.glob("*.partial"))
    # The model ends with the best epoch's weights, the ones saved.
    saved = mu.load_best_checkpoint(tiny_model(), "mnist")
    assert all(np.array_equal(a, b) for a, b in zip(saved.get_weights(), model.get_weights()))


def test_the_reader_loads_a_matching_committed_run_and_writes_nothing_there(small, monkeypatch, isolated_outputs,
                                                                           capsys):
    trained_model, trained = fit(small, monkeypatch, "retrain")
    before = snapshot(isolated_outputs)
    capsys.readouterr()
    model, run = fit(small, monkeypatch, "reader")
    printed = capsys.readouterr().out
    assert run.loaded and run.folder == isolated_outputs / "checkpoints" / "mnist" / "tiny"
    assert printed.startswith("Loaded the committed run checkpoints/mnist/tiny/ instead of training it: trained ")
    assert f"in {trained.train_time:.1f} s." in printed and "epoch 2/2" in printed and "start training" not in printed
    assert run.history == trained.history and run.best_epoch == trained.best_epoch
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), trained_model.get_weights()))
    mu.ResultsTable("mnist").save()
    mu.save_fig("history", "02_mlp", mu.plot_history(run))
    assert snapshot(isolated_outputs) == before  # figures and tables went to my_runs/
    assert (isolated_outputs / "my_runs" / "images" / "02_mlp" / "history.png").is_file()
    assert not (isolated_outputs / "my_runs" / "checkpoints").exists()


@pytest.mark.parametrize("change, reason", [
    ({"epochs": 3}, "epochs (2 -> 3)"),
    ({"width": 24}, "model (from layer 2"),
    ({"seed": 1}, "seed (0 -> 1)"),
    ({"train_count": 1000}, "train_data"),
])
def test_a_changed_recipe_is_trained_into_my_runs(change, reason, small, monkeypatch, isolated_outputs, capsys):
    fit(small, monkeypatch, "retrain")
    before = snapshot(isolated_outputs)
    capsys.readouterr()
    _, run = fit(small, monkeypatch, "reader", **change)
    printed = capsys.readouterr().out
    assert not run.loaded and "start training tiny" in printed
    assert "Training, as the saved run of 'tiny' has another recipe (" in printed and reason in printed
    assert run.folder == isolated_outputs / "my_runs" / "checkpoints" / "mnist" / "tiny"
    assert snapshot(isolated_outputs) == before  # the committed run is as it was
    # Asked again, the reader's own run is reused; the committed recipe again loads the committed run,
    # and the reader's own run is moved aside, so that no later notebook picks it up by its name.
    assert fit(small, monkeypatch, "reader", **change)[1].folder == run.folder
    capsys.readouterr()
    assert fit(small, monkeypatch, "reader")[1].folder == isolated_outputs / "checkpoints" / "mnist" / "tiny"
    assert "Your earlier run of 'tiny' (another recipe) moved to my_runs/checkpoints/mnist/tiny@" in \
        capsys.readouterr().out
    assert not run.folder.exists() and snapshot(isolated_outputs) == before


def test_a_readers_earlier_run_is_set_aside_not_overwritten(small, monkeypatch, isolated_outputs, capsys):
    _, first = fit(small, monkeypatch, "reader", epochs=1)
    assert "Training, as no run of 'tiny' is saved: the run goes to my_runs/checkpoints/mnist/tiny/." in \
        capsys.readouterr().out
    _, second = fit(small, monkeypatch, "reader", epochs=2)
    assert "Your earlier run of 'tiny' moved to my_runs/checkpoints/mnist/tiny@" in capsys.readouterr().out
    kept = [path for path in first.folder.parent.iterdir() if path.name.startswith("tiny@")]
    assert len(kept) == 1 and (kept[0] / "run.json").is_file() and second.folder == first.folder


def test_the_reader_uses_its_own_run_of_the_same_model_only(small, monkeypatch, isolated_outputs, capsys):
    fit(small, monkeypatch, "retrain")
    fit(small, monkeypatch, "reader", width=24)  # the reader's own, wider model under the same name
    capsys.readouterr()
    mu.load_best_checkpoint(tiny_model(16), "mnist")  # the committed run's model: no message, no mismatch
    assert capsys.readouterr().out == ""
    mu.load_best_checkpoint(tiny_model(24), "mnist")
    assert "Using your own run my_runs/checkpoints/mnist/tiny/" in capsys.readouterr().out


def test_retraining_rewrites_and_smoke_keeps_apart(small, monkeypatch, isolated_outputs):
    _, first = fit(small, monkeypatch, "retrain")
    _, again = fit(small, monkeypatch, "retrain")
    assert not again.loaded and again.folder == first.folder
    assert not list(first.folder.parent.glob("tiny@*"))  # the committed run is replaced, not set aside
    _, smoke = fit(small, monkeypatch, "smoke")
    assert not smoke.loaded and smoke.folder == isolated_outputs / ".smoke" / "checkpoints" / "mnist" / "tiny"


def test_retraining_only_the_missing_runs_keeps_those_that_match(small, monkeypatch, isolated_outputs, capsys):
    _, first = fit(small, monkeypatch, "retrain")
    weights = first.checkpoint_path.read_bytes()
    _, kept = fit(small, monkeypatch, "missing")  # a long retraining's second sitting: this one was done
    assert kept.loaded and kept.folder == first.folder and first.checkpoint_path.read_bytes() == weights
    assert "Loaded the committed run" in capsys.readouterr().out
    _, changed = fit(small, monkeypatch, "missing", epochs=3)  # not done yet: trained over the committed run
    assert not changed.loaded and changed.folder == first.folder and changed.epochs == 3
    assert not list(first.folder.parent.glob("tiny@*")) and not (isolated_outputs / "my_runs").exists()
    _, full = fit(small, monkeypatch, "retrain", epochs=3)  # what a full retraining trains: the same batches
    assert full.history["loss"] == changed.history["loss"]
    stale = json.loads((first.folder / "run.json").read_text())
    stale["trained"]["tensorflow"] = "0.0"  # a run of other libraries does not count as done
    (first.folder / "run.json").write_text(json.dumps(stale))
    _, redone = fit(small, monkeypatch, "missing", epochs=3)
    assert not redone.loaded


@pytest.mark.parametrize("damage", ["record", "weights"])
def test_a_damaged_run_says_what_to_do(damage, small, monkeypatch, isolated_outputs):
    _, run = fit(small, monkeypatch, "retrain")
    if damage == "record":
        (run.folder / "run.json").write_text("{not json")
    else:
        run.checkpoint_path.unlink()
    with pytest.raises(ValueError, match="checkpoints/mnist/tiny is damaged .*Delete that folder"):
        fit(small, monkeypatch, "reader")


def test_the_mode_is_one_switch(monkeypatch):
    assert config.mode() == "reader"
    monkeypatch.setenv("MNIST_RETRAIN", "1")
    assert config.mode() == "retrain" and config.output_dir() == config.project_dir()
    monkeypatch.setenv("MNIST_SMOKE", "1")
    with pytest.raises(ValueError, match="both on"):
        config.mode()
    monkeypatch.setenv("MNIST_RETRAIN", "maybe")
    with pytest.raises(ValueError, match="MNIST_RETRAIN='maybe' is not understood: .* or missing"):
        config.mode()
    monkeypatch.setenv("MNIST_SMOKE", "0")
    monkeypatch.setenv("MNIST_RETRAIN", "missing")
    assert config.mode() == "retrain" and not config.retrains_matching_runs()


def test_the_series_folder_is_found_from_a_notebooks_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_OUTPUT_DIR")
    series = tmp_path / "copy of the series"
    (series / "notebooks").mkdir(parents=True)
    (series / "checkpoints").mkdir()
    monkeypatch.chdir(series / "notebooks")
    assert config.project_dir() == series.resolve()
    assert config.output_dir() == series.resolve() / "my_runs"
    monkeypatch.chdir(tmp_path)  # not in a series: the editable install's checkout, else here
    assert config.project_dir() in (Path(mu.__file__).resolve().parents[1], tmp_path.resolve())


def test_recipes_tell_apart_what_changes_a_run():
    def branchy(skip: bool) -> keras.Model:
        inputs = keras.Input((4,))
        a = keras.layers.Dense(4)(inputs)
        b = keras.layers.Dense(4)(a)
        return keras.Model(inputs, keras.layers.Add()([b, a if skip else b]))

    assert runs.describe_model(branchy(True)) != runs.describe_model(branchy(False))
    assert runs.describe_model(branchy(True))[-1].endswith("<- [2, 1]")
    frozen = tiny_model()
    frozen.layers[2].trainable = False
    assert runs.describe_model(frozen)[2].endswith("trainable=False)") and "trainable" not in runs.describe_model(
        tiny_model())[2]
    keras.utils.set_random_seed(3)
    first = runs.weights_fingerprint(tiny_model())
    keras.utils.set_random_seed(3)
    assert runs.weights_fingerprint(tiny_model()) == first
    assert runs.differences({"epochs": 2, "model": ["A", "B"]}, {"epochs": 2, "model": ["A", "C"]}) == \
        ["model (from layer 1: 2 layers recorded, 2 now)"]


def test_data_fingerprints_ignore_order_but_not_content(small):
    (x, y), _ = small
    fingerprint = lambda images, labels, **kw: runs.data_fingerprint(mu.make_dataset(images, labels, **kw))  # noqa: E731
    plain = fingerprint(x, y, batch_size=64)
    assert fingerprint(x, y, batch_size=64, shuffle=True, seed=5) == plain
    assert fingerprint(x, y, batch_size=32)["sha256"] == plain["sha256"]
    assert fingerprint(x, (y + 1) % 10, batch_size=64) != plain
    assert fingerprint(x[:-1], y[:-1], batch_size=64)["examples"] == len(x) - 1


def test_ensembles_are_lists_of_runs(small, monkeypatch, isolated_outputs):
    _, first = fit(small, monkeypatch, "retrain", seed=0)
    probs = {"tiny": np.full((3, 10), 0.1), "other": np.eye(10)[:3]}
    ensemble = mu.save_ensemble("pair", [first], "mnist")
    assert json.loads((isolated_outputs / "checkpoints" / "mnist" / "pair" / "ensemble.json").read_text()) == \
        {"members": ["tiny"]}
    assert mu.load_ensemble("pair", "mnist") == ensemble
    monkeypatch.setenv("MNIST_RETRAIN", "0")  # the reader's mode: the same ensemble is the committed one
    assert mu.save_ensemble("pair", [first], "mnist") == ensemble
    assert not (isolated_outputs / "my_runs").exists()
    np.testing.assert_allclose(mu.Ensemble("two", "mnist", ["tiny", "other"]).probs(probs),
                               (probs["tiny"] + probs["other"]) / 2)
    with pytest.raises(ValueError, match=r"No probabilities for the members \['missing'\]"):
        mu.Ensemble("x", "mnist", ["missing"]).probs(probs)
    with pytest.raises(ValueError, match="takes one or more runs that train\\(\\) returned"):
        mu.save_ensemble("bad", ["tiny"], "mnist")
    with pytest.raises(FileNotFoundError, match="No ensemble 'nothing' on mnist: looked for"):
        mu.load_ensemble("nothing", "mnist")


def test_an_ensemble_can_ask_members_about_mirror_images(small, monkeypatch, isolated_outputs):
    model, run = fit(small, monkeypatch, "retrain", seed=0)
    ensemble = mu.save_ensemble("mirrored", [run], "mnist", mirrored=[run])
    assert json.loads((isolated_outputs / "checkpoints" / "mnist" / "mirrored" / "ensemble.json").read_text()) == \
        {"members": ["tiny"], "mirrored": ["tiny"]}
    assert mu.load_ensemble("mirrored", "mnist") == ensemble and ensemble.mirrored == ["tiny"]
    images = small[1][0][:5]
    np.testing.assert_allclose(ensemble.predict([model], images), mu.predict_probs_mirrored(model, images), atol=1e-6)
    plain = mu.save_ensemble("plain", [run], "mnist")
    np.testing.assert_allclose(plain.predict([model], images), mu.predict_probs(model, images), atol=1e-6)
    assert not np.allclose(plain.predict([model], images), ensemble.predict([model], images))
    with pytest.raises(ValueError, match=r"No models for the members \['tiny'\]"):
        ensemble.predict([], images)
    with pytest.raises(ValueError, match=r"The mirrored runs \['other'\] are not members"):
        mu.save_ensemble("stray", [run], "mnist", mirrored=[dataclasses.replace(run, name="other")])


def test_a_finished_run_replaces_the_old_one_in_two_renames(tmp_path):
    folder, partial = tmp_path / "tiny", tmp_path / "tiny.partial"
    folder.mkdir()
    (folder / "run.json").write_text("old")
    partial.mkdir()
    (partial / "run.json").write_text("new")
    (tmp_path / "tiny.old").mkdir()  # left by a crash between the two renames of an earlier run
    runs.replace_folder(partial, folder)
    assert (folder / "run.json").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]


def test_history_of_a_run_without_validation_has_no_validation_metrics(tmp_path):
    from mnist_utils.runs import read_history

    # Keras' CSVLogger writes "NA" columns for the val_* keys of a run trained without validation;
    # read back, they must not look like a validation curve (plot_history would draw an empty one).
    path = tmp_path / "history.csv"
    path.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.9,0.3,NA,NA\n1,0.95,0.2,NA,NA\n")
    assert read_history(path) == {"accuracy": [0.9, 0.95], "loss": [0.3, 0.2]}
