"""The post's models: architecture, weight counts worked out from the layer sizes, compiled."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_utils import get_lenet, get_mlp, get_weight_num


def dense(n_in, n_out):
    return n_in * n_out + n_out


def conv(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


@pytest.mark.parametrize(
    "builder, name, weights",
    [
        (get_mlp, "mlp", dense(28 * 28, 128) + dense(128, 10)),
        # 28x28 -same conv-> 28 -pool-> 14 -valid 5x5-> 10 -pool-> 5: 5*5*16 features.
        (get_lenet, "lenet", conv(5, 1, 6) + conv(5, 6, 16) + dense(5 * 5 * 16, 120)
         + dense(120, 84) + dense(84, 10)),
    ],
)
def test_builders(builder, name, weights):
    model = builder()
    assert model.name == name
    assert get_weight_num(model) == weights
    assert model.output_shape == (None, 10)
    probs = model.predict(np.zeros((3, 28, 28, 1), np.float32), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)  # softmax output
    assert model.optimizer is not None and model.loss is not None


def test_fast_cnn_weights_and_one_cycle_schedule():
    from mnist_utils import get_fast_cnn

    model = get_fast_cnn(steps_per_epoch=100, epochs=5, max_learning_rate=5e-3)
    batch_norm = 2 * 8 + 2 * 16  # trainable gamma and beta; the convolutions have no bias
    expected = 5 * 5 * 1 * 8 + 5 * 5 * 8 * 16 + batch_norm + dense(5 * 5 * 16, 128) + dense(128, 10)
    assert model.name == "fast_cnn" and get_weight_num(model) == expected
    schedule = model.optimizer._learning_rate  # the schedule object itself (Keras keeps no public handle)
    assert float(schedule(0)) == pytest.approx(5e-4)
    assert float(schedule(50)) == pytest.approx(5e-3)  # peak after half an epoch of warm-up
    assert float(schedule(500)) == pytest.approx(0.0, abs=1e-7)  # decayed to zero at the end


def test_custom_cnn_weights_switches_and_inference():
    from mnist_utils import get_custom_cnn

    model = get_custom_cnn(steps_per_epoch=10, epochs=2)
    # 28 -3x3-> 26 -3x3-> 24 -5x5/2-> 12 -3x3-> 10 -3x3-> 8 -5x5/2-> 4: 4*4*64 features.
    convs = 3 * 3 * 1 * 32 + 3 * 3 * 32 * 32 + 5 * 5 * 32 * 32 + 3 * 3 * 32 * 64 + 3 * 3 * 64 * 64 + 5 * 5 * 64 * 64
    batch_norm = 2 * (3 * 32 + 3 * 64 + 128)
    assert get_weight_num(model) == convs + batch_norm + 4 * 4 * 64 * 128 + dense(128, 10)

    kinds = [type(layer).__name__ for layer in model.layers]
    assert {"RandomRotation", "RandomZoom", "RandomTranslation", "Dropout", "BatchNormalization"} <= set(kinds)
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(model.predict(images, verbose=0), model.predict(images, verbose=0))  # no augmentation at inference

    plain = get_custom_cnn(batch_norm=False, strided=False, dropout=0.0, augment=None, one_cycle_schedule=False)
    plain_kinds = {type(layer).__name__ for layer in plain.layers}
    assert "MaxPooling2D" in plain_kinds and not plain_kinds & {"BatchNormalization", "Dropout", "RandomZoom"}
    assert float(plain.optimizer.learning_rate) == pytest.approx(1e-3)


def test_custom_cnn_augmentation_kinds():
    from mnist_utils import augmentation_layers, get_custom_cnn

    # Clothes are mirrored or shifted, never rotated (a shoe upside down is no photo of a shoe).
    flips = {type(layer).__name__ for layer in get_custom_cnn(augment="flips").layers}
    assert "RandomFlip" in flips and not flips & {"RandomRotation", "RandomZoom", "RandomTranslation"}
    shifts = {type(layer).__name__ for layer in augmentation_layers("shifts")}
    assert shifts == {"RandomTranslation"}
    digits = {type(layer).__name__ for layer in augmentation_layers("digits")}
    assert "RandomFlip" not in digits  # a mirrored 2 or 7 is no digit
    with pytest.raises(ValueError, match="flips"):
        get_custom_cnn(augment="shoes")


def test_resnet_weights_shapes_and_inference():
    from mnist_utils import get_resnet

    model = get_resnet(steps_per_epoch=10, epochs=2, width=16, blocks_per_stage=3, augment=())
    bn = lambda c: 2 * c  # noqa: E731 (scale and offset are trained; the averages are not)
    block = lambda c_in, c: 9 * c_in * c + bn(c) + 9 * c * c + bn(c) + (c_in * c + bn(c) if c_in != c else 0)  # noqa: E731
    stages = sum(block(c_in, c) for c_in, c in [(16, 16)] * 3 + [(16, 32)] + [(32, 32)] * 2 + [(32, 64)] + [(64, 64)] * 2)
    assert get_weight_num(model) == 9 * 16 + bn(16) + stages + dense(64, 10)  # ResNet-20: about 0.27 million
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D" and layer.kernel_size == (3, 3)]
    assert len(convs) + 1 == 20  # 19 3x3 convolutions and the dense layer: ResNet-20
    assert model.layers[-2].output.shape[1:] == (64,)  # global average pooling of the 7x7x64 stage
    assert sum(type(layer).__name__ == "Add" for layer in model.layers) == 9  # a skip around every block


def test_resnet_augmentations_act_only_in_training():
    from mnist_utils import get_resnet

    model = get_resnet(augment=("crops", "flips", "erasing"))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[1:5] == ["ZeroPadding2D", "RandomCrop", "RandomFlip", "RandomErasing"]
    images = np.random.default_rng(0).random((8, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(model(images, training=False), model(images, training=False))
    # In training the pad-and-crop moves the image by whole pixels and keeps its size.
    crop = model.layers[2](model.layers[1](images), training=True).numpy()
    assert crop.shape == images.shape and not np.allclose(crop, images)
    with pytest.raises(ValueError, match="erasing"):
        get_resnet(augment=("cutout",))


def test_label_smoothing_loss():
    import keras

    from mnist_utils import SparseSmoothedCrossentropy, get_resnet

    probs = np.array([[0.9] + [0.1 / 9] * 9, [0.1] * 10], dtype=np.float32)
    labels = np.array([0, 3])
    plain = keras.losses.SparseCategoricalCrossentropy(reduction=None)(labels, probs).numpy()
    np.testing.assert_allclose(SparseSmoothedCrossentropy(0.0, reduction=None)(labels, probs), plain, rtol=1e-5)
    # Smoothing 0.1 over ten classes: the target is 0.91 for the true class and 0.01 for each other.
    target = np.full((2, 10), 0.01); target[0, 0] = target[1, 3] = 0.91
    expected = -(target * np.log(probs)).sum(axis=1)
    np.testing.assert_allclose(SparseSmoothedCrossentropy(0.1, reduction=None)(labels, probs), expected, rtol=1e-5)
    model = get_resnet(label_smoothing=0.1)
    assert keras.losses.serialize(model.loss)["config"]["label_smoothing"] == 0.1
    assert type(get_resnet().loss).__name__ == "SparseCategoricalCrossentropy"
    with pytest.raises(ValueError, match="label_smoothing"):
        SparseSmoothedCrossentropy(1.0)
