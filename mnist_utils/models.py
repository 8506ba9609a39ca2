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


@keras.saving.register_keras_serializable(package="mnist_utils")
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy against integer labels with label smoothing: the true class gets
    ``1 - label_smoothing`` plus its share of ``label_smoothing``, spread evenly over the classes.
    (Keras' sparse cross-entropy has no label smoothing; its one-hot one has.)"""

    def __init__(self, label_smoothing: float = 0.1, name: str = "sparse_smoothed_crossentropy", **kwargs):
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), not {label_smoothing}")
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        one_hot = keras.ops.one_hot(labels, keras.ops.shape(y_pred)[-1])
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def compile_model(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 1e-3,
    jit_compile: bool = False,
    loss: keras.losses.Loss | None = None,
) -> keras.Model:
    """Adam (a fixed rate or a schedule) + sparse categorical cross-entropy + accuracy, as in the post.

    ``jit_compile=True`` compiles the steps with XLA (see ``get_mlp``); ``loss`` replaces the
    cross-entropy (``get_resnet`` smooths the labels with it).
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=loss or keras.losses.SparseCategoricalCrossentropy(),
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


AUGMENTATIONS = ("digits", "flips", "shifts", "crops", "erasing")


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
    if kind == "crops":
        # Pad by 2 pixels, then cut a random 28x28 window: whole-pixel shifts of up to 2 pixels,
        # as ResNets are trained on CIFAR (in prediction the crop is the centre: the image itself).
        return [layers.ZeroPadding2D(2), layers.RandomCrop(28, 28)]
    if kind == "erasing":
        # Random erasing (Zhong et al., 2017): blank out a random rectangle of 2-33% of the image,
        # so that no single part of a garment can carry the class alone.
        return [layers.RandomErasing(factor=0.5, scale=(0.02, 0.33), fill_value=0.0, value_range=(0, 1))]
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


def residual_block(x, filters: int, strides: int = 1):
    """Two 3x3 convolutions with batch normalization, added to the block's input (a 1x1 strided
    convolution matches the shapes where the block downsamples or widens): He et al.'s basic block."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False)(x)
        shortcut = layers.BatchNormalization()(shortcut)
    x = conv_block(x, filters, 3, batch_norm=True, strides=strides, padding="same")
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(layers.Add()([x, shortcut]))


def get_resnet(
    steps_per_epoch: int = 400,
    epochs: int = 30,
    width: int = 16,
    blocks_per_stage: int = 3,
    augment: tuple[str, ...] = ("crops", "flips"),
    label_smoothing: float = 0.0,
    max_learning_rate: float = 3e-3,
    name: str = "resnet",
    input_shape: tuple[int, ...] = INPUT_SHAPE,
) -> keras.Model:
    """A small residual network sized for a CPU: ResNet-20's layout (He et al., 2016) by default.

    A 3x3 convolution of ``width`` filters, then three stages of ``blocks_per_stage`` residual
    blocks (``width``, ``2 * width`` and ``4 * width`` filters; the second and third stages halve
    the image: 28 -> 14 -> 7), global average pooling and the softmax: 6 * blocks + 2 layers with
    weights. ``augment``: kinds of ``augmentation_layers``, applied in order in training only.
    Trained with a one-cycle learning rate to ``max_learning_rate``, with ``label_smoothing`` > 0
    against smoothed labels (``SparseSmoothedCrossentropy``).
    """
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for kind in augment:
        for layer in augmentation_layers(kind):
            x = layer(x)
    x = conv_block(x, width, 3, batch_norm=True, padding="same")
    for stage in range(3):
        for block in range(blocks_per_stage):
            x = residual_block(x, width * 2**stage, strides=2 if stage and not block else 1)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name=name)
    loss = SparseSmoothedCrossentropy(label_smoothing) if label_smoothing else None
    return compile_model(model, one_cycle(steps_per_epoch, epochs, max_learning_rate), loss=loss)


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


@keras.saving.register_keras_serializable(package="mnist_utils")
class SplitBatchModel(keras.Model):
    """A functional model whose training steps run each batch as ``parts`` slices side by side.

    The slices share no operation until their weight gradients are added, so TensorFlow runs
    them at the same time, one per core with ``use_cpu_threads(1, 2)``. The loss and the
    gradients are those of the whole batch, up to float rounding. Prediction and evaluation run
    the whole batch as usual. Build one with ``split_batch``.
    """

    def __init__(self, *args, parts: int = 2, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.parts = parts

    def call(self, inputs, training=None, mask=None):
        whole_batch = super().call  # the functional model's own pass
        if not training or self.parts == 1:
            return whole_batch(inputs, training=training, mask=mask)
        size = keras.ops.shape(inputs)[0]
        outputs = []
        for i in range(self.parts):
            start, end = size * i // self.parts, size * (i + 1) // self.parts
            # TensorFlow's convolutions fail on an empty batch, so a batch smaller than ``parts``
            # runs an image twice and keeps only the rows the slice owns (no gradient from the
            # copy). A ``cond`` that skips the split instead made LeNet's epochs 3.2-3.9 s, not 2.7 s.
            first = keras.ops.minimum(start, size - 1)
            rows = whole_batch(inputs[first:keras.ops.maximum(end, first + 1)], training=True)
            outputs.append(rows[: end - start])
        return keras.ops.concatenate(outputs, axis=0)

    def get_config(self) -> dict:
        return {**super().get_config(), "parts": self.parts}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "SplitBatchModel":
        config = dict(config)
        parts = config.pop("parts", 2)
        model = super().from_config(config, custom_objects=custom_objects)
        model.parts = parts
        return model


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer of ``model``, those inside nested models included."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if hasattr(layer, "layers"):
            found.extend(_all_layers(layer))
    return found


def split_batch(model: keras.Model, parts: int = 2) -> keras.Model:
    """The same model (its layers and weights; its optimizer, loss, steps per call and XLA setting,
    with accuracy as the metric) with each training batch split into ``parts`` slices that run in
    parallel: one per CPU core.

    For LeNet at batch 32 on 2 cores this makes an epoch about 1.3x faster
    (``benchmarks/speed.py``). Models with batch normalization would normalize each slice on its
    own statistics, which changes what they learn, so they are refused.
    """
    if not isinstance(parts, int) or parts < 1:
        raise ValueError(f"parts must be a whole number >= 1, got {parts!r}.")
    if any(isinstance(layer, keras.layers.BatchNormalization) for layer in _all_layers(model)):
        raise ValueError(
            f"Model {model.name!r} has batch normalization: each slice would be normalized on its own "
            "statistics, which changes training. Train it without split_batch."
        )
    if not model.compiled:
        raise ValueError(
            f"Compile model {model.name!r} first (the series' builders do): split_batch copies its compile settings."
        )
    split = SplitBatchModel(model.input, model.output, name=model.name, parts=parts)
    split.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"],
                  steps_per_execution=model.steps_per_execution, jit_compile=model.jit_compile)
    return split
