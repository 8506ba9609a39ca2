"""Exported models (notebook 07): SavedModel and LiteRT files read back without Keras agree with Keras."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import mnist_utils as mu
from conftest import use_mode


@pytest.fixture(scope="module")
def trained(mnist):
    """A small CNN with an augmentation layer inside, trained briefly (as notebook 04's models are built)."""
    (x_train, y_train), (x_test, _) = mnist
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.RandomRotation(0.2)(inputs)  # on unless told training=False
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(x)))
    model = mu.compile_model(keras.Model(inputs, x, name="tiny_cnn"))
    model.fit(mu.to_float(x_train[:2000]), y_train[:2000], epochs=1, batch_size=64, verbose=0)
    return model, x_test[:500]


def test_the_one_line_export_keeps_augmentation_on_and_ours_does_not(trained, tmp_path):
    model, images = trained
    keras_labels = mu.predict_probs(model, images).argmax(axis=1)
    model.export(str(tmp_path / "one_line"), verbose=False)
    one_line = tf.saved_model.load(str(tmp_path / "one_line"))
    floats = mu.to_float(images)
    assert np.any(one_line.serve(floats).numpy().argmax(axis=1) != keras_labels)  # what notebook 07 warns of
    ours = mu.load_saved_model(mu.export_saved_model(model, tmp_path / "ours"))
    np.testing.assert_allclose(ours(images), mu.predict_probs(model, images), atol=1e-6)
    np.testing.assert_array_equal(ours(images), ours(images))


def test_litert_files_agree_with_keras_and_8_bit_weights_shrink_the_file(trained, tmp_path):
    model, images = trained
    keras_probs = mu.predict_probs(model, images)
    float_file = mu.export_litert(model, tmp_path / "model.tflite")
    small_file = mu.export_litert(model, tmp_path / "model_8bit.tflite", quantize=True)
    litert = mu.load_litert(float_file)
    np.testing.assert_allclose(litert(images), keras_probs, atol=1e-5)
    np.testing.assert_allclose(litert(images[:1]), keras_probs[:1], atol=1e-5)  # another batch size
    assert np.mean(mu.load_litert(small_file)(images).argmax(axis=1) == keras_probs.argmax(axis=1)) > 0.95
    assert mu.artifact_size(small_file) < mu.artifact_size(float_file) / 2
    assert mu.artifact_size(tmp_path) == mu.artifact_size(float_file) + mu.artifact_size(small_file)


def test_bad_input_to_an_exported_model_says_what_to_do(trained, tmp_path):
    model, images = trained
    with pytest.raises(FileNotFoundError, match="export one first with export_saved_model"):
        mu.load_saved_model(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="export one first with export_litert"):
        mu.load_litert(tmp_path / "nothing.tflite")
    litert = mu.load_litert(mu.export_litert(model, tmp_path / "model.tflite"))
    with pytest.raises(ValueError, match=r"Expected images of shape \(n, 28, 28\) or \(n, 28, 28, 1\), got \(3, 32, 32\)"):
        litert(np.zeros((3, 32, 32), np.uint8))


def test_exports_go_to_this_modes_own_folder(monkeypatch, tmp_path, isolated_outputs):
    monkeypatch.setenv("MNIST_MY_RUNS_DIR", str(tmp_path))
    use_mode(isolated_outputs, "reader")
    assert mu.export_folder() == tmp_path / "exports"


def test_the_export_code_notebook_07_shows_runs_on_its_own(trained, tmp_path):
    model, images = trained
    shown: dict = {}
    exec(compile(mu.source.complete_source(mu.export_saved_model, mu.load_saved_model, mu.export_litert,
                                           mu.load_litert), "<shown>", "exec"), shown)
    saved = shown["load_saved_model"](shown["export_saved_model"](model, tmp_path / "saved"))
    litert = shown["load_litert"](shown["export_litert"](model, tmp_path / "model.tflite"))
    np.testing.assert_allclose(saved(images), mu.predict_probs(model, images), atol=1e-6)
    np.testing.assert_allclose(litert(images), mu.predict_probs(model, images), atol=1e-5)
