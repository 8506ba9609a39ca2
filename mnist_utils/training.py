"""Training with the post's callbacks, checkpoints of the best weights, and timing."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import keras
import tensorflow as tf

from . import config
from .data import DATASETS, dataset_key


class TaskTime:
    """Context manager that times a block: ``with TaskTime("training") as t: ...; t.elapsed_time()``."""

    def __init__(self, task_name: str, show_start: bool = False, show_end: bool = True) -> None:
        self.task_name = task_name
        self.show_start = show_start
        self.show_end = show_end
        self.start_time = time.perf_counter()
        self.end_time: float | None = None

    def elapsed_time(self) -> float:
        """Seconds since the block started (or its total length once it has ended)."""
        end = self.end_time if self.end_time is not None else time.perf_counter()
        return end - self.start_time

    def __enter__(self) -> "TaskTime":
        self.start_time = time.perf_counter()
        if self.show_start:
            print(f"start {self.task_name}")
        return self

    def __exit__(self, *exc_info) -> None:
        self.end_time = time.perf_counter()
        if self.show_end:
            print(f"finish {self.task_name} [elapsed time: {self.elapsed_time():.1f} s]")


def display_path(path: Path) -> str:
    """``path`` relative to the project root when it lies inside it (no machine paths in outputs)."""
    try:
        return str(Path(path).resolve().relative_to(config.project_dir()))
    except ValueError:
        return str(path)


def checkpoint_path(model_name: str, dataset: str = "mnist", root: Path | None = None) -> Path:
    """Where ``train`` keeps the best weights (the last, without validation data):
    ``checkpoints/<dataset>/<model>/best.weights.h5``."""
    root = config.output_dir() if root is None else Path(root)
    return root / "checkpoints" / dataset_key(dataset) / model_name / "best.weights.h5"


def _keep_only_weights(model: keras.Model, path: Path) -> None:
    """Rewrite the checkpoint at ``path`` with the model's weights alone.

    Keras 3 saves the optimizer's state beside the weights (for Adam, two more numbers per weight:
    a file three times larger), which evaluating never reads. The same model rebuilt from its config
    has no optimizer, so what it saves is the weights. A model that cannot be rebuilt (a subclass
    without ``get_config``) keeps the file as Keras wrote it.
    """
    try:
        bare = type(model).from_config(model.get_config())
    except (NotImplementedError, TypeError, ValueError):
        return
    bare.load_weights(str(path))
    partial = path.with_name(f"partial.{path.name}")  # replaced in one step: a crash keeps the old file
    bare.save_weights(str(partial))
    partial.replace(path)


class EpochLogger(keras.callbacks.Callback):
    """One clean line per epoch: time, metrics, learning rate, and a mark when validation improves."""

    def __init__(self, epochs: int, monitor: str | None = "val_accuracy") -> None:
        super().__init__()
        self.epochs = epochs
        self.monitor = monitor  # None: no validation, so no improvement marks
        self.best = -float("inf")

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        seconds = time.perf_counter() - self.epoch_start
        metrics = "  ".join(f"{key} {value:.4f}" for key, value in logs.items() if key != "learning_rate")
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        value = logs.get(self.monitor, -float("inf")) if self.monitor else -float("inf")
        improved = value > self.best
        self.best = max(self.best, value)
        width = len(str(self.epochs))
        print(f"epoch {epoch + 1:>{width}}/{self.epochs}  {seconds:5.1f}s  {metrics}  lr {lr:.2g}"
              + ("  *" if improved else ""), flush=True)


def train(
    model: keras.Model,
    train_dataset: tf.data.Dataset,
    val_dataset: tf.data.Dataset | None,
    epochs: int = 20,
    dataset: str = "mnist",
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: bool = True,
    reduce_lr: bool = True,
    early_stopping: bool = True,
    checkpoint: bool = True,
) -> keras.callbacks.History:
    """Fit ``model`` with the post's recipe and keep its best weights.

    Callbacks: ModelCheckpoint on best ``val_accuracy`` (weights only), ReduceLROnPlateau on
    ``val_loss`` (factor 0.5, patience 4, min 1e-4; off with ``reduce_lr=False``, e.g. for a
    model whose optimizer follows a learning-rate schedule), EarlyStopping on ``val_accuracy``
    (patience 6; off with ``early_stopping=False``), plus any extra ``callbacks``. With
    ``checkpoint=False`` nothing is saved (quick experiments). The returned History carries
    ``train_time`` (seconds), ``best_epoch`` and ``checkpoint_path`` (None if nothing was saved).

    With ``val_dataset=None`` (the last step, once the recipe and its epochs were chosen on
    validation: training on every image) the weights of the last epoch are kept, and
    ``reduce_lr`` and ``early_stopping`` must be off, having nothing to watch.
    """
    validated = val_dataset is not None
    if not validated and (reduce_lr or early_stopping):
        raise ValueError(
            "Without validation data there is nothing to watch for reduce_lr or early_stopping: "
            "pass reduce_lr=False and early_stopping=False (a fixed schedule and epoch count chosen "
            "on validation), or give a val_dataset."
        )
    epochs = config.smoke_epochs(epochs)
    path = checkpoint_path(model.name, dataset) if checkpoint else None
    recipe: list[keras.callbacks.Callback] = []
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        recipe.append(keras.callbacks.ModelCheckpoint(  # without validation: every epoch, so the last stays
            filepath=str(path), monitor="val_accuracy", save_best_only=validated, save_weights_only=True
        ))
    if reduce_lr:
        recipe.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=4, min_lr=1e-4))
    if early_stopping:
        recipe.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=6))
    if verbose:
        recipe.append(EpochLogger(epochs, monitor="val_accuracy" if validated else None))
    with TaskTime(f"training {model.name}", show_start=verbose, show_end=verbose) as timer:
        history = model.fit(
            train_dataset,
            validation_data=val_dataset,
            epochs=epochs,
            callbacks=recipe + list(callbacks or []),
            shuffle=False,  # the tf.data pipeline shuffles; Keras would only warn
            verbose=0,
        )
    history.train_time = timer.elapsed_time()
    if validated:
        val_acc = history.history["val_accuracy"]
        history.best_epoch = int(max(range(len(val_acc)), key=val_acc.__getitem__)) + 1
    else:
        history.best_epoch = len(history.history["loss"])
    if path is not None and path.is_file():
        _keep_only_weights(model, path)
    history.checkpoint_path = path
    if verbose:
        saved = f", weights in {display_path(path)}" if path is not None else ""
        if validated:
            print(f"best val_accuracy {max(val_acc):.4f} at epoch {history.best_epoch}{saved}")
        else:
            print(f"no validation data: kept the last epoch ({history.best_epoch}){saved}")
    return history


def load_best_checkpoint(model: keras.Model, dataset: str = "mnist") -> keras.Model:
    """Load the best weights that ``train`` saved for a model of this name into ``model``.

    In smoke mode a smoke run's checkpoint is preferred; the committed one is read otherwise
    (read only: smoke runs never write there).
    """
    candidates = [checkpoint_path(model.name, dataset)]
    if config.is_smoke():
        candidates.append(checkpoint_path(model.name, dataset, root=config.project_dir()))
    for path in candidates:
        if path.is_file():
            problem = None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    model.load_weights(str(path))
                except (ValueError, OSError) as exc:
                    problem = str(exc)
            # Keras warns that the optimizer's state is missing (or, in older checkpoints, that it
            # was not loaded); evaluating does not need it. Any other skipped part means the
            # weights do not fit this model.
            skipped = [str(w.message) for w in caught if "optimizer" not in str(w.message)]
            problem = problem or (skipped[0] if skipped else None)
            if problem:
                raise ValueError(
                    f"The checkpoint {display_path(path)} does not fit model {model.name!r} "
                    f"({problem.strip()}). Build the model with the builder that trained it, or retrain it."
                )
            return model
    unknown = "" if dataset_key(dataset) in DATASETS else f" (the series' datasets: {', '.join(DATASETS)})"
    raise FileNotFoundError(
        f"No checkpoint for model {model.name!r} on {dataset}{unknown}: looked for "
        f"{', '.join(display_path(p) for p in candidates)}. Train it first with train(model, ...)."
    )


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
