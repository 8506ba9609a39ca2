"""Runs keyed on what the learner asked for: the behaviour contract of ``train`` in the three modes.

1. The same recipe, asked again (the cell run twice, the model cell run again without re-seeding),
   loads the saved run and trains nothing.
2. A change that changes the result is named in plain words, with what happens and about how long.
3. A run recorded by other library versions is loaded all the same, and says which versions trained it.
4. A reader's own run is used by ``load_best_checkpoint`` only when asked for, and named either way.
"""

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
from conftest import use_mode
from mnist_utils import config, runs
from mnist_utils.recipe import describe_model, differences, make_recipe


def tiny_model(width: int = 16, name: str = "tiny", learning_rate: float = 1e-3) -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Dense(width, activation="relu")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x), name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def small(mnist):
    (x_train, y_train), _ = mnist
    return (x_train[:1200], y_train[:1200]), (x_train[1200:1600], y_train[1200:1600])


def recipe_args(small, seed: int = 0, train_count: int = 1200, batch_size: int = 64, shuffle: bool = True,
                shuffle_seed: int | None = None, **train_options) -> dict:
    """The pipelines and ``train``'s arguments of the tiny recipe, with any part changed."""
    (x, y), (x_val, y_val) = small
    batches = mu.make_dataset(x[:train_count], y[:train_count], batch_size=batch_size, shuffle=shuffle,
                              seed=seed if shuffle_seed is None else shuffle_seed)
    return dict(train_dataset=batches, val_dataset=mu.make_dataset(x_val, y_val, batch_size=256),
                dataset="mnist", epochs=2, seed=seed, reduce_lr=False, early_stopping=False) | train_options


def fit(small, series: Path, mode: str, width: int = 16, learning_rate: float = 1e-3, reseed: bool = True,
        **changes) -> tuple[keras.Model, mu.Run]:
    """Build the tiny model (after seeding, as a notebook's model cell does, unless ``reseed=False``)
    and train it in ``mode``."""
    use_mode(series, "retrain" if mode == "missing" else mode)
    if mode == "missing":  # what MNIST_RETRAIN=missing asks setup for
        config.use(dataclasses.replace(config.current(), retrain_missing=True))
    args = recipe_args(small, **changes)
    if reseed:
        keras.utils.set_random_seed(args["seed"])
    model = tiny_model(width, learning_rate=learning_rate)
    return model, mu.train(model, **args)


def snapshot(root: Path) -> dict[str, str]:
    """SHA-256 of every file under the committed folders of ``root``."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in ("checkpoints", "results", "images") for path in sorted((root / folder).rglob("*"))
            if path.is_file()}


def test_a_run_is_saved_whole(small, isolated_outputs):
    model, run = fit(small, isolated_outputs, "retrain", epochs=3)
    folder = isolated_outputs / "checkpoints" / "mnist" / "tiny"
    assert run.folder == folder and run.checkpoint_path == folder / "best.weights.h5" and not run.loaded
    history = pd.read_csv(folder / "history.csv")  # Keras' CSVLogger: one row per epoch
    assert len(history) == 3 and {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
                                  "seconds"} <= set(history.columns)
    assert history["val_accuracy"].tolist() == run.history["val_accuracy"]
    record = json.loads((folder / "run.json").read_text())
    recipe = record["recipe"]
    assert record["name"] == "tiny" and record["dataset"] == "mnist"
    assert recipe["seed"] == 0 and recipe["epochs"] == 3 and recipe["callbacks"] == []
    assert recipe["train_data"] | {"content": "-"} == {"examples": 1200, "content": "-", "batch_size": 64,
                                                      "shuffle": True, "shuffle_seed": 0}
    assert recipe["model"][2] == "Dense(units=16, activation='relu')" and recipe["optimizer"] == "Adam()"
    assert "initial_weights" not in recipe  # the recipe holds what was asked for, never the weights
    assert record["result"]["best_epoch"] == run.best_epoch == int(np.argmax(run.history["val_accuracy"])) + 1
    assert set(record["trained"]) >= {"date", "hardware", "tensorflow", "keras", "python"}
    assert not list(folder.parent.glob("*.partial"))
    saved = mu.load_best_checkpoint(tiny_model(), "mnist")  # the model ends with the saved, best weights
    assert all(np.array_equal(a, b) for a, b in zip(saved.get_weights(), model.get_weights()))


def test_the_same_recipe_asked_again_loads_and_writes_nothing(small, isolated_outputs, capsys):
    trained_model, trained = fit(small, isolated_outputs, "retrain")
    before = snapshot(isolated_outputs)
    capsys.readouterr()
    # As in a notebook: the training cell, then the model cell again without the Setup cell's seeding,
    # then the training cell again, and the cell that makes the pipeline again.
    model, run = fit(small, isolated_outputs, "reader")
    keras.utils.set_random_seed(99)
    again_model, again = fit(small, isolated_outputs, "reader", reseed=False)
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2
    for line in printed:
        assert line.startswith("Loaded the committed run 'tiny' (trained ") and "best val_accuracy" in line
    for loaded, weights in ((run, model), (again, again_model)):
        assert loaded.loaded and loaded.folder == isolated_outputs / "checkpoints" / "mnist" / "tiny"
        assert loaded.history == trained.history
        assert all(np.array_equal(a, b) for a, b in zip(weights.get_weights(), trained_model.get_weights()))
    mu.ResultsTable("mnist").save()
    mu.save_fig("history", "02_mlp", mu.plot_history(run))
    assert snapshot(isolated_outputs) == before  # figures and tables went to my_runs/
    assert (isolated_outputs / "my_runs" / "images" / "02_mlp" / "history.png").is_file()
    assert not (isolated_outputs / "my_runs" / "checkpoints").exists()


@pytest.mark.parametrize("change, words", [
    ({"shuffle_seed": 7}, "the shuffle seed from 0 to 7"),
    ({"shuffle": False}, "the shuffling from on to off"),
    ({"batch_size": 32}, "the batch size from 64 to 32"),
    ({"train_count": 1000}, "the training images (from 1,200 to 1,000)"),
    ({"epochs": 3}, "the epochs from 2 to 3"),
    ({"seed": 1, "shuffle_seed": 0}, "the seed from 0 to 1"),
    ({"width": 24}, "layer 2 from Dense(units=16, activation='relu') to Dense(units=24, activation='relu')"),
    ({"learning_rate": 0.01}, "the optimizer from Adam() to Adam(learning_rate=0.01)"),
    ({"callbacks": [keras.callbacks.EarlyStopping(patience=10)]}, "the callbacks (from the same to "
                                                                  "EarlyStopping(patience=10))"),
])
def test_a_change_is_named_and_trained_into_my_runs(change, words, small, isolated_outputs, capsys):
    fit(small, isolated_outputs, "retrain")
    before = snapshot(isolated_outputs)
    capsys.readouterr()
    _, run = fit(small, isolated_outputs, "reader", **change)
    printed = capsys.readouterr().out
    assert printed.startswith(f"You changed {words} (from the committed run 'tiny'): training your own run, about ")
    assert "; it goes to my_runs/checkpoints/mnist/tiny/." in printed.splitlines()[0]
    assert "going by the committed run: " in printed and "epoch 1/" in printed
    assert not run.loaded and run.folder == isolated_outputs / "my_runs" / "checkpoints" / "mnist" / "tiny"
    assert snapshot(isolated_outputs) == before  # the committed run is as it was
    # Asked again, the reader's own run is loaded; the committed recipe again loads the committed run.
    assert fit(small, isolated_outputs, "reader", **change)[1].folder == run.folder
    assert "Loaded your saved run 'tiny'" in capsys.readouterr().out
    assert fit(small, isolated_outputs, "reader")[1].folder == isolated_outputs / "checkpoints" / "mnist" / "tiny"


def test_callbacks_differ_by_their_settings_not_only_their_class(small):
    batches = recipe_args(small)["train_dataset"]
    two, ten = (make_recipe(tiny_model(), batches, None, 1, 0, [keras.callbacks.EarlyStopping(patience=n)])
                for n in (2, 10))
    assert differences(two, ten) == ["the callbacks (from EarlyStopping(patience=2) to EarlyStopping(patience=10))"]


def test_training_starts_from_the_recipe_not_from_the_objects_state(small, isolated_outputs):
    """Two trainings of one recipe learn the same, whatever the model held and however often the
    pipeline was read before."""
    _, first = fit(small, isolated_outputs, "retrain")
    args = recipe_args(small)
    for _ in args["train_dataset"]:  # read once: a shuffling pipeline moves on to its next order
        pass
    keras.utils.set_random_seed(123)  # other initial weights in the model object
    model = tiny_model()
    model.fit(args["train_dataset"], epochs=1, shuffle=False, verbose=0)  # and trained a little, as a live Keras cell
    second = mu.train(model, **args)
    for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert second.history[metric] == first.history[metric]


def test_a_run_of_other_library_versions_is_loaded_and_says_so(small, isolated_outputs, capsys):
    _, trained = fit(small, isolated_outputs, "retrain")
    record = json.loads((trained.folder / "run.json").read_text())
    record["trained"] |= {"tensorflow": "2.99.0", "keras": "3.99.0", "numpy": "9.0.0"}  # as another version writes it
    (trained.folder / "run.json").write_text(json.dumps(record))
    capsys.readouterr()
    _, run = fit(small, isolated_outputs, "reader")
    printed = capsys.readouterr().out
    assert run.loaded and "with TensorFlow 2.99.0, Keras 3.99.0" in printed
    assert f"You have TensorFlow {runs.trained_on()['tensorflow']}, Keras {keras.__version__}: the recipe is the " \
           "same, so its weights are used as they are." in printed


def test_a_readers_own_run_is_used_later_only_when_asked(small, isolated_outputs, capsys):
    fit(small, isolated_outputs, "retrain")
    fit(small, isolated_outputs, "reader", epochs=3)  # the reader's own run of the same model
    use_mode(isolated_outputs, "reader")
    capsys.readouterr()
    committed = runs.read_run(isolated_outputs / "checkpoints" / "mnist" / "tiny")
    mine = runs.read_run(isolated_outputs / "my_runs" / "checkpoints" / "mnist" / "tiny")
    loaded = mu.load_best_checkpoint(tiny_model(), "mnist")
    assert capsys.readouterr().out == ("Your own run of 'tiny' (you changed the epochs from 2 to 3) is in "
                                       "my_runs/checkpoints/mnist/tiny/; this notebook uses the committed one "
                                       "(mu.setup(use_my_runs=True) uses yours).\n")
    probe = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    reference = tiny_model()
    reference.load_weights(committed.checkpoint_path)
    np.testing.assert_array_equal(mu.predict_probs(loaded, probe), mu.predict_probs(reference, probe))

    use_mode(isolated_outputs, "reader", use_my_runs=True)
    loaded = mu.load_best_checkpoint(tiny_model(), "mnist")
    assert capsys.readouterr().out == ("Using your own run of 'tiny' (you changed the epochs from 2 to 3); mu.setup() "
                                       "without use_my_runs=True goes back to the committed one.\n")
    reference.load_weights(mine.checkpoint_path)
    np.testing.assert_array_equal(mu.predict_probs(loaded, probe), mu.predict_probs(reference, probe))
    with pytest.raises(ValueError, match="does not fit model 'tiny'"):  # another model under the name: not yours
        mu.load_best_checkpoint(tiny_model(width=24), "mnist")
    assert capsys.readouterr().out == ""


def test_a_readers_earlier_run_is_set_aside_and_found_again(small, isolated_outputs, capsys):
    _, first = fit(small, isolated_outputs, "reader", epochs=1)
    assert "No saved run of 'tiny': training it; it goes to my_runs/checkpoints/mnist/tiny/." in capsys.readouterr().out
    _, second = fit(small, isolated_outputs, "reader", epochs=2)
    assert "Your earlier run of 'tiny' (another recipe) is kept as my_runs/checkpoints/mnist/tiny@" in \
        capsys.readouterr().out
    kept = [path for path in first.folder.parent.iterdir() if path.name.startswith("tiny@")]
    assert len(kept) == 1 and (kept[0] / "run.json").is_file() and second.folder == first.folder
    _, again = fit(small, isolated_outputs, "reader", epochs=1)  # the first recipe again: its run, set aside
    assert again.loaded and again.folder == kept[0]


def test_retraining_rewrites_and_smoke_keeps_apart(small, isolated_outputs, capsys):
    _, first = fit(small, isolated_outputs, "retrain")
    _, again = fit(small, isolated_outputs, "retrain")
    assert not again.loaded and again.folder == first.folder
    assert not list(first.folder.parent.glob("tiny@*"))  # the committed run is replaced, not set aside
    capsys.readouterr()
    _, smoke = fit(small, isolated_outputs, "smoke", epochs=5)
    assert not smoke.loaded and smoke.folder == isolated_outputs / ".smoke" / "checkpoints" / "mnist" / "tiny"
    assert smoke.epochs == 1 and "Smoke mode: training 'tiny' for 1 epoch on 1,200 images" in capsys.readouterr().out


def test_retraining_only_the_missing_runs_keeps_those_that_match(small, isolated_outputs, capsys):
    _, first = fit(small, isolated_outputs, "retrain")
    weights = first.checkpoint_path.read_bytes()
    _, kept = fit(small, isolated_outputs, "missing")  # a long retraining's second sitting: this one was done
    assert kept.loaded and kept.folder == first.folder and first.checkpoint_path.read_bytes() == weights
    assert "Loaded the committed run" in capsys.readouterr().out
    _, changed = fit(small, isolated_outputs, "missing", epochs=3)  # not done yet: trained over the committed run
    assert not changed.loaded and changed.folder == first.folder and changed.epochs == 3
    assert not list(first.folder.parent.glob("tiny@*")) and not (isolated_outputs / "my_runs").exists()
    _, full = fit(small, isolated_outputs, "retrain", epochs=3)  # what a full retraining trains: the same batches
    assert full.history["loss"] == changed.history["loss"]
    stale = json.loads((first.folder / "run.json").read_text())
    stale["trained"]["tensorflow"] = "0.0"  # a run of other libraries does not count as done
    (first.folder / "run.json").write_text(json.dumps(stale))
    _, redone = fit(small, isolated_outputs, "missing", epochs=3)
    assert not redone.loaded


@pytest.mark.parametrize("damage", ["record", "weights"])
def test_a_damaged_run_says_what_to_do(damage, small, isolated_outputs):
    _, run = fit(small, isolated_outputs, "retrain")
    if damage == "record":
        (run.folder / "run.json").write_text("{not json")
    else:
        run.checkpoint_path.unlink()
    with pytest.raises(ValueError, match="checkpoints/mnist/tiny is damaged .*Delete that folder"):
        fit(small, isolated_outputs, "reader")


def test_a_pipeline_of_unknown_make_is_refused_with_what_to_do(small, isolated_outputs):
    import tensorflow as tf

    (x, y), _ = small
    plain = tf.data.Dataset.from_tensor_slices((mu.to_float(x), y)).batch(64)
    with pytest.raises(TypeError, match="mu.make_dataset did not make.*build it with mu.make_dataset"):
        mu.train(tiny_model(), plain, None, dataset="mnist", epochs=1, seed=0, reduce_lr=False, early_stopping=False)


def test_the_mode_is_decided_once_and_shown(monkeypatch, isolated_outputs, capsys):
    series = isolated_outputs
    settings = use_mode(series, "reader")
    assert settings.write_dir == series / "my_runs" and settings.read_dirs == [series / "my_runs", series]
    monkeypatch.setenv("MNIST_RETRAIN", "1")
    assert config.current() is settings  # the environment is read by setup, not by every call
    shown = config.setup(series_dir=series)
    assert shown.mode == "retrain" and shown.write_dir == series and not shown.retrain_missing
    assert capsys.readouterr().out.startswith("Retrain mode: every run trained and written over checkpoints/")
    monkeypatch.setenv("MNIST_SMOKE", "1")
    with pytest.raises(ValueError, match="both on"):
        config.setup(series_dir=series)
    monkeypatch.setenv("MNIST_RETRAIN", "maybe")
    with pytest.raises(ValueError, match="MNIST_RETRAIN='maybe' is not understood: .* or missing"):
        config.setup(series_dir=series)
    monkeypatch.setenv("MNIST_SMOKE", "0")
    monkeypatch.setenv("MNIST_RETRAIN", "missing")
    assert config.setup(series_dir=series, show=False).retrain_missing
    with pytest.raises(ValueError, match="mode must be one of"):
        config.setup(mode="fast", series_dir=series)


def test_the_series_folder_is_found_from_a_notebooks_folder(tmp_path, monkeypatch):
    series = tmp_path / "copy of the series"
    (series / "notebooks").mkdir(parents=True)
    (series / "checkpoints").mkdir()
    monkeypatch.chdir(series / "notebooks")
    settings = config.setup(show=False)
    assert settings.series_dir == series.resolve() and settings.write_dir == series.resolve() / "my_runs"
    monkeypatch.chdir(tmp_path)  # not in a series: the editable install's checkout, else here
    assert config.setup(show=False).series_dir in (Path(mu.__file__).resolve().parents[1], tmp_path.resolve())
    monkeypatch.setenv("MNIST_SERIES_DIR", str(series))
    assert config.setup(show=False).series_dir == series.resolve()


def test_recipes_tell_apart_what_changes_a_run():
    def branchy(skip: bool) -> keras.Model:
        inputs = keras.Input((4,))
        a = keras.layers.Dense(4)(inputs)
        b = keras.layers.Dense(4)(a)
        return keras.Model(inputs, keras.layers.Add()([b, a if skip else b]))

    assert describe_model(branchy(True)) != describe_model(branchy(False))
    assert describe_model(branchy(True))[-1].endswith("<- [2, 1]")
    frozen = tiny_model()
    frozen.layers[2].trainable = False
    assert describe_model(frozen)[2].endswith("trainable=False)") and "trainable" not in describe_model(tiny_model())[2]
    keras.utils.set_random_seed(3)
    drawn = np.random.random()
    keras.utils.set_random_seed(3)
    describe_model(mu.get_custom_cnn())  # describing a model with random layers draws nothing from the session
    assert np.random.random() == drawn


def test_pipelines_carry_what_made_them(small):
    (x, y), _ = small
    spec = lambda images, labels, **kw: mu.data.pipeline_spec(mu.make_dataset(images, labels, **kw))  # noqa: E731
    plain = spec(x, y, batch_size=64)
    assert plain == spec(x.copy(), y.copy(), batch_size=64)  # the same arrays: the same content
    assert plain.shuffle is False and plain.seed is None and plain.examples == len(x)
    assert spec(x, y, batch_size=64, shuffle=True, seed=5).seed == 5
    assert spec(x, (y + 1) % 10, batch_size=64).content != plain.content
    assert spec(x[::-1], y[::-1], batch_size=64).content != plain.content  # another order: another recipe
    with pytest.raises(ValueError, match="batch_size must be a whole number"):
        mu.make_dataset(x, y, batch_size=0)


def test_ensembles_are_lists_of_runs(small, isolated_outputs):
    _, first = fit(small, isolated_outputs, "retrain", seed=0)
    probs = {"tiny": np.full((3, 10), 0.1), "other": np.eye(10)[:3]}
    ensemble = mu.save_ensemble("pair", [first])
    assert ensemble.dataset == "mnist"  # the runs' own dataset
    assert json.loads((isolated_outputs / "checkpoints" / "mnist" / "pair" / "ensemble.json").read_text()) == \
        {"members": ["tiny"]}
    assert mu.load_ensemble("pair", "mnist") == ensemble
    use_mode(isolated_outputs, "reader")  # the reader's mode: the same ensemble is the committed one
    assert mu.save_ensemble("pair", [first], "mnist") == ensemble
    assert not (isolated_outputs / "my_runs").exists()
    with pytest.raises(ValueError, match=r"trained on \['mnist'\], not 'fashion_mnist'"):
        mu.save_ensemble("pair", [first], "fashion_mnist")
    np.testing.assert_allclose(mu.Ensemble("two", "mnist", ["tiny", "other"]).probs(probs),
                               (probs["tiny"] + probs["other"]) / 2)
    with pytest.raises(ValueError, match=r"No probabilities for the members \['missing'\]"):
        mu.Ensemble("x", "mnist", ["missing"]).probs(probs)
    with pytest.raises(ValueError, match="takes one or more runs that train\\(\\) returned"):
        mu.save_ensemble("bad", ["tiny"], "mnist")
    with pytest.raises(FileNotFoundError, match="No ensemble 'nothing' on mnist: looked for"):
        mu.load_ensemble("nothing", "mnist")


def test_an_ensemble_can_ask_members_about_mirror_images(small, isolated_outputs):
    model, run = fit(small, isolated_outputs, "retrain", seed=0)
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
    # Keras' CSVLogger writes "NA" columns for the val_* keys of a run trained without validation;
    # read back, they must not look like a validation curve (plot_history would draw an empty one).
    path = tmp_path / "history.csv"
    path.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.9,0.3,NA,NA\n1,0.95,0.2,NA,NA\n")
    assert runs.read_history(path) == {"accuracy": [0.9, 0.95], "loss": [0.3, 0.2]}
