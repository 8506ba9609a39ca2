"""Training on real MNIST learns; checkpoints land in the output folder and load back."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import use_mode
from mnist_utils import (
    ResultsTable, TaskTime, accuracy, get_custom_cnn, get_fast_cnn, get_lenet, get_mlp, load_best_checkpoint,
    make_datasets, predict_probs, split_batch, split_train_val, train,
)
from mnist_utils.models import SplitBatchModel
from mnist_utils.runs import WEIGHTS_FILE, run_folder


def checkpoint_path(name: str, dataset: str, root=None):
    return run_folder(name, dataset, root) / WEIGHTS_FILE


@pytest.fixture(scope="module")
def small_mnist(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    train_part, val_part = split_train_val(x_train[:6000], y_train[:6000], val_fraction=0.2, seed=0)
    return train_part, val_part, (x_test[:2000], y_test[:2000])


def test_short_training_learns_and_checkpoints(small_mnist, isolated_outputs):
    use_mode(isolated_outputs, "retrain")  # trained as a committed run, so later loads find it
    train_part, val_part, test_part = small_mnist
    datasets = make_datasets(train_part, val_part, test_part, batch_size=64)
    keras.utils.set_random_seed(0)
    model = get_mlp()
    history = train(model, datasets["train"], datasets["val"], epochs=3, verbose=False, dataset="mnist", seed=0)
    assert len(history.history["val_accuracy"]) == 3
    assert history.train_time > 0 and 1 <= history.best_epoch <= 3
    path = checkpoint_path("mlp", "mnist")
    assert history.checkpoint_path == path and path.is_file()
    assert str(path).startswith(str(isolated_outputs))  # never the project's own checkpoints

    restored = load_best_checkpoint(get_mlp(), "mnist")
    held_out = accuracy(predict_probs(restored, test_part[0]), test_part[1])
    assert held_out > 0.85, f"a 3-epoch MLP should be far above chance (0.10), got {held_out:.3f}"
    best_val = max(history.history["val_accuracy"])
    val_acc = accuracy(predict_probs(restored, val_part[0]), val_part[1])
    assert val_acc == pytest.approx(best_val, abs=2e-3)  # the checkpoint holds the best epoch
    assert_weights_only(path, model)


def assert_weights_only(path, model: keras.Model) -> None:
    """The checkpoint holds the weights and not Adam's state (two more numbers per weight)."""
    weight_bytes = sum(np.asarray(w).nbytes for w in model.get_weights())
    assert path.stat().st_size < 1.3 * weight_bytes, (path.stat().st_size, weight_bytes)
    assert not list(path.parent.glob("partial.*")), "the rewrite left its partial file behind"


def test_training_without_validation_keeps_the_last_epoch(small_mnist, isolated_outputs, capsys):
    use_mode(isolated_outputs, "retrain")  # trained as a committed run, so later loads find it
    train_part, val_part, test_part = small_mnist
    datasets = make_datasets(train_part, val_part, test_part, batch_size=64)
    keras.utils.set_random_seed(0)
    model = get_mlp()
    history = train(model, datasets["train"], None, epochs=2, reduce_lr=False, early_stopping=False,
                    dataset="mnist", seed=0)
    assert history.best_epoch == 2 and "val_accuracy" not in history.history
    assert "no validation data: the last of 2 epochs kept" in capsys.readouterr().out
    restored = load_best_checkpoint(get_mlp(), "mnist")
    np.testing.assert_allclose(predict_probs(restored, test_part[0]), predict_probs(model, test_part[0]), atol=1e-6)


def test_training_without_validation_refuses_what_needs_it(small_mnist, isolated_outputs):
    train_part, val_part, test_part = small_mnist
    datasets = make_datasets(train_part, val_part, test_part, batch_size=64)
    for switches in ({}, {"reduce_lr": False}, {"early_stopping": False}):
        with pytest.raises(ValueError, match="reduce_lr=False and early_stopping=False"):
            train(get_mlp(), datasets["train"], None, epochs=1, verbose=False, **switches, dataset="mnist", seed=0)
    assert not checkpoint_path("mlp", "mnist").exists()  # refused before anything was written


def test_training_is_reproducible_with_a_seed(small_mnist):
    train_part, val_part, test_part = small_mnist
    cut = lambda part: (part[0][:1000], part[1][:1000])  # noqa: E731
    results = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        datasets = make_datasets(cut(train_part), cut(val_part), cut(test_part), batch_size=64, seed=3)
        history = train(get_mlp(), datasets["train"], datasets["val"], epochs=1, verbose=False, checkpoint=False,
                        dataset="mnist", seed=0)
        results.append(history.history["loss"][0])
    assert results[0] == pytest.approx(results[1], rel=1e-5)


def test_steps_per_call_do_not_change_the_trained_weights(small_mnist, monkeypatch):
    import mnist_utils.models as models

    train_part, val_part, test_part = small_mnist
    cut = lambda part: (part[0][:2000], part[1][:2000])  # noqa: E731
    weights = []
    for steps_per_call in (1, models.STEPS_PER_EXECUTION):
        monkeypatch.setattr(models, "STEPS_PER_EXECUTION", steps_per_call)
        keras.utils.set_random_seed(7)
        datasets = make_datasets(cut(train_part), cut(val_part), cut(test_part), batch_size=32, seed=3)
        model = get_mlp()
        assert model.steps_per_execution == steps_per_call
        train(model, datasets["train"], datasets["val"], epochs=2, verbose=False, checkpoint=False, dataset="mnist", seed=0)
        weights.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


def test_smoke_mode_caps_epochs_and_writes_elsewhere(small_mnist, isolated_outputs, capsys):
    use_mode(isolated_outputs, "smoke")
    train_part, val_part, test_part = small_mnist
    datasets = make_datasets(train_part, val_part, test_part)
    history = train(get_mlp(), datasets["train"], datasets["val"], epochs=20, dataset="mnist", seed=0)
    assert len(history.history["loss"]) == 1  # SMOKE_MAX_EPOCHS
    assert ".smoke" in history.checkpoint_path.parts
    printed = capsys.readouterr().out
    assert "epoch 1/1" in printed and "\x1b[" not in printed and "\x08" not in printed


def test_missing_checkpoint_says_what_to_do():
    with pytest.raises(FileNotFoundError, match="No saved run of model 'mlp' on mnist: .*Train it first"):
        load_best_checkpoint(get_mlp(), "mnist")
    with pytest.raises(FileNotFoundError, match="on mnsit \\(the series' datasets: mnist, fashion_mnist\\)"):
        load_best_checkpoint(get_mlp(), "mnsit")


def test_dataset_names_load_data_accepts_name_the_same_files():
    # load_data("Fashion-MNIST") works, so checkpoints and results tables take that spelling too.
    for spelling in ("Fashion-MNIST", "fashion-mnist"):
        assert checkpoint_path("lenet", spelling) == checkpoint_path("lenet", "fashion_mnist")
        assert ResultsTable.path_for(spelling) == ResultsTable.path_for("fashion_mnist")
        assert ResultsTable(spelling).dataset == "fashion_mnist"
    assert checkpoint_path("lenet", "benchmark").parent.parent.name == "benchmark"  # other names: folders of their own


def test_checkpoint_of_another_model_gives_a_clear_error(isolated_outputs):
    path = checkpoint_path("mlp", "mnist", root=isolated_outputs)  # a committed checkpoint
    path.parent.mkdir(parents=True)
    inputs = keras.Input((28, 28, 1))
    other = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)), name="mlp")
    other.save_weights(str(path))
    with pytest.raises(ValueError, match="does not fit model 'mlp'"):
        load_best_checkpoint(get_mlp(), "mnist")


def test_task_time(capsys):
    with TaskTime("sleeping") as timer:
        np.linalg.inv(np.eye(50))
    assert timer.elapsed_time() >= 0
    assert timer.elapsed_time() == timer.elapsed_time()  # frozen once the block ends
    assert "finish sleeping [elapsed time:" in capsys.readouterr().out


def test_the_mlp_learns_the_same_with_and_without_xla(small_mnist):
    train_part, val_part, test_part = small_mnist
    cut = lambda part: (part[0][:2000], part[1][:2000])  # noqa: E731
    runs = []
    for jit_compile in (True, False):
        keras.utils.set_random_seed(7)
        datasets = make_datasets(cut(train_part), cut(val_part), cut(test_part), batch_size=32, seed=3)
        model = get_mlp()
        assert model.jit_compile  # the series' MLP is compiled with XLA
        if not jit_compile:
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"], jit_compile=False)
        history = train(model, datasets["train"], datasets["val"], epochs=1, verbose=False, checkpoint=False, dataset="mnist", seed=0)
        runs.append((history.history["loss"][0], model.get_weights()))
    (xla_loss, xla_weights), (plain_loss, plain_weights) = runs
    # XLA orders the float arithmetic differently: the same training up to rounding, not bit for bit.
    assert xla_loss == pytest.approx(plain_loss, rel=1e-3)
    assert all(np.allclose(a, b, atol=1e-3) for a, b in zip(xla_weights, plain_weights))


def _loss_and_gradients(model, images, labels):
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=images, y=labels, y_pred=model(images, training=True))
    return float(loss), tape.gradient(loss, model.trainable_variables)


@pytest.mark.parametrize("batch", [7, 1])  # 1: fewer images than slices (one slice reruns the image, keeps no row)
def test_split_batch_gives_the_whole_batch_loss_and_gradients(batch):
    keras.utils.set_random_seed(0)
    lenet = get_lenet()
    split = split_batch(lenet, parts=2)
    images = np.random.default_rng(0).random((batch, 28, 28, 1), dtype=np.float32)
    labels = np.arange(batch) % 10
    split_loss, split_grads = _loss_and_gradients(split, images, labels)
    whole_loss, whole_grads = _loss_and_gradients(lenet, images, labels)
    assert split_loss == pytest.approx(whole_loss, rel=1e-6)
    for a, b in zip(split_grads, whole_grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


def test_split_batch_trains_the_same_model(small_mnist, isolated_outputs):
    use_mode(isolated_outputs, "retrain")
    train_part, val_part, test_part = small_mnist
    datasets = make_datasets(train_part, val_part, test_part, batch_size=32)
    keras.utils.set_random_seed(0)
    lenet = get_lenet()
    split = split_batch(lenet, parts=2)
    assert isinstance(split, SplitBatchModel) and split.name == "lenet" and split.parts == 2
    assert split.optimizer is lenet.optimizer and split.steps_per_execution == lenet.steps_per_execution
    history = train(split, datasets["train"], datasets["val"], epochs=1, verbose=False, dataset="mnist", seed=0)
    assert history.history["val_accuracy"][0] > 0.8  # one epoch on 4,800 images: far above chance (0.1)
    # The same weights: the plain LeNet has learned too, and the checkpoint fits a plain LeNet.
    np.testing.assert_array_equal(predict_probs(lenet, test_part[0]), predict_probs(split, test_part[0]))
    restored = load_best_checkpoint(get_lenet(), "mnist")
    assert accuracy(predict_probs(restored, val_part[0]), val_part[1]) == pytest.approx(
        history.history["val_accuracy"][0], abs=2e-3)
    assert_weights_only(history.checkpoint_path, lenet)


def test_split_batch_model_saves_and_loads(tmp_path):
    split = split_batch(get_lenet(), parts=3)
    images = np.random.default_rng(1).random((5, 28, 28, 1), dtype=np.float32)
    split.fit(images, np.arange(5), batch_size=5, epochs=1, verbose=0)  # a trained model, optimizer state and all
    split.save(tmp_path / "lenet.keras")
    loaded = keras.models.load_model(tmp_path / "lenet.keras")
    assert isinstance(loaded, SplitBatchModel) and loaded.parts == 3
    assert int(loaded.optimizer.iterations) == int(split.optimizer.iterations) == 1
    np.testing.assert_allclose(loaded.predict(images, verbose=0), split.predict(images, verbose=0), atol=1e-6)


def test_split_batch_refuses_what_it_cannot_split():
    for model in (get_fast_cnn(steps_per_epoch=10), get_custom_cnn(steps_per_epoch=10)):
        with pytest.raises(ValueError, match="batch normalization"):
            split_batch(model)
    for parts in (0, 1.5):
        with pytest.raises(ValueError, match="parts must be a whole number"):
            split_batch(get_lenet(), parts=parts)
    inputs = keras.Input((28, 28, 1))
    uncompiled = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="Compile model"):
        split_batch(uncompiled)
