"""The models of the series, one builder each, compiled and ready for ``train``."""

from __future__ import annotations

import contextlib

import keras
import numpy as np
from keras import layers

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
# Run this many training steps per call into TensorFlow: small models at batch 32
# spend more time in per-step Python overhead than in arithmetic. The steps and their
# order do not change, so neither do the trained weights (checked bit for bit).
STEPS_PER_EXECUTION = 128


def compile_model(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 1e-3,
    jit_compile: bool = False,
) -> keras.Model:
    """Adam (a fixed rate or a schedule) + sparse categorical cross-entropy + accuracy, as in the post.

    ``jit_compile=True`` compiles the steps with XLA (see ``get_mlp``).
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
        jit_compile=jit_compile,
    )
    return model


def get_mlp(input_shape: tuple[int, ...] = INPUT_SHAPE, learning_rate: float = 1e-3, name: str = "mlp") -> keras.Model:
    """The post's MLP: Flatten, Dense 128 relu, Dense 10 softmax (101,770 weights).

    Compiled with XLA: it fuses the MLP's many small operations and the optimizer's updates into
    a few kernels, about 1.2x faster per epoch on a CPU. (The convolutional models stay without:
    on a CPU, XLA's convolutions are slower than TensorFlow's own, ``benchmarks/lenet_options.py``.)
    """
    inputs = keras.Input(shape=input_shape)
    x = layers.Flatten()(inputs)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return compile_model(keras.Model(inputs, outputs, name=name), learning_rate, jit_compile=True)


def get_lenet(input_shape: tuple[int, ...] = INPUT_SHAPE, learning_rate: float = 1e-3, name: str = "lenet") -> keras.Model:
    """The post's LeNet-5: two conv/pool stages, then Dense 120, 84, 10 (61,706 weights)."""
    inputs = keras.Input(shape=input_shape)
    # padding="same" keeps LeNet's shapes for 28x28 inputs (LeNet-5 was drawn for 32x32).
    x = layers.Conv2D(6, 5, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 5, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(120, activation="relu")(x)
    x = layers.Dense(84, activation="relu")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return compile_model(keras.Model(inputs, outputs, name=name), learning_rate)


# The fast recipe: a quick strong baseline for a CPU (about 99.2% in well under a minute here).
FAST_BATCH_SIZE = 128
FAST_EPOCHS = 5


def get_fast_cnn(
    steps_per_epoch: int,
    epochs: int = FAST_EPOCHS,
    max_learning_rate: float = 5e-3,
    input_shape: tuple[int, ...] = INPUT_SHAPE,
    name: str = "fast_cnn",
) -> keras.Model:
    """LeNet's layout with batch normalization (56,066 weights), for batches of 128 and a
    one-cycle learning rate: half an epoch of warm-up to ``max_learning_rate``, then cosine
    decay to zero over ``epochs``. Train it with ``train(..., reduce_lr=False)``.
    """
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for filters, padding in ((8, "same"), (16, "valid")):
        # Batch norm replaces the convolution's bias and lets a high learning rate converge fast.
        x = layers.Conv2D(filters, 5, padding=padding, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name=name)
    return compile_model(model, one_cycle(steps_per_epoch, epochs, max_learning_rate))


def one_cycle(
    steps_per_epoch: int, epochs: int, max_learning_rate: float
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Half an epoch of linear warm-up from a tenth of ``max_learning_rate``, then cosine decay to zero."""
    warmup = max(1, steps_per_epoch // 2)
    return keras.optimizers.schedules.CosineDecay(
        max_learning_rate / 10, decay_steps=max(1, steps_per_epoch * epochs - warmup),
        warmup_target=max_learning_rate, warmup_steps=warmup,
    )


AUGMENTATIONS = ("digits", "flips", "shifts")


def augmentation_layers(kind: str) -> list[keras.layers.Layer]:
    """Random changes of a training image that keep its class, for ``kind`` in ``AUGMENTATIONS``."""
    if kind == "digits":
        # +-10 degrees, +-10% zoom and +-10% shifts keep a digit the same digit (a mirror would not).
        return [
            layers.RandomRotation(10 / 360, fill_mode="constant"),
            layers.RandomZoom(0.1, fill_mode="constant"),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
        ]
    if kind == "flips":
        # A mirrored shirt is still a shirt; a rotated shoe is not how shoes are photographed.
        return [layers.RandomFlip("horizontal")]
    if kind == "shifts":
        return [layers.RandomTranslation(0.1, 0.1, fill_mode="constant")]
    raise ValueError(f"Unknown augmentation {kind!r}: use one of {AUGMENTATIONS}, or None for no augmentation.")


def conv_block(x, filters: int, kernel: int, batch_norm: bool, strides: int = 1, padding: str = "valid"):
    """A convolution, batch normalization (if ``batch_norm``) and ReLU, applied to ``x``."""
    # With batch norm right after it, a convolution's bias is redundant.
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=not batch_norm)(x)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def get_custom_cnn(
    steps_per_epoch: int = 400,
    epochs: int = 12,
    width: int = 32,
    batch_norm: bool = True,
    strided: bool = True,
    dropout: float = 0.4,
    augment: str | None = "digits",
    one_cycle_schedule: bool = True,
    max_learning_rate: float = 3e-3,
    name: str = "custom_cnn",
    input_shape: tuple[int, ...] = INPUT_SHAPE,
) -> keras.Model:
    """The series' custom CNN (notebook 04); every switch off gives the steps of its design.

    Two stages of two 3x3 convolutions (``width`` then ``2 * width`` filters) each followed by
    a downsampling step (a strided 5x5 convolution, or 2x2 max pooling with ``strided=False``),
    then Dense 128 and the softmax. Options: batch normalization, dropout after each stage and
    the dense layer, random changes of the training images (``augment``: a kind of
    ``augmentation_layers`` or None; inside the model, so they are off at inference), and a one-cycle
    learning rate (``one_cycle_schedule``) or Adam's constant 1e-3.
    """
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for layer in augmentation_layers(augment) if augment else []:
        x = layer(x)
    for filters in (width, 2 * width):
        x = conv_block(x, filters, 3, batch_norm)
        x = conv_block(x, filters, 3, batch_norm)
        if strided:
            x = conv_block(x, filters, 5, batch_norm, strides=2, padding="same")
        else:
            x = layers.MaxPooling2D(2)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, use_bias=not batch_norm)(x)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name=name)
    rate = one_cycle(steps_per_epoch, epochs, max_learning_rate) if one_cycle_schedule else 1e-3
    return compile_model(model, rate)


def get_weight_num(model: keras.Model) -> int:
    """Number of trainable weights of ``model``."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def show_summary(model: keras.Model) -> None:
    """``model.summary()`` as plain text (no terminal colour codes, and no empty display that Keras'
    rich console leaves in a notebook)."""
    lines: list[str] = []
    try:
        from IPython.utils.capture import capture_output
    except ImportError:  # not under IPython: nothing to swallow
        capture_output = contextlib.nullcontext
    with capture_output():
        model.summary(print_fn=lambda text, **_: lines.append(text))
    print("\n".join(lines))
