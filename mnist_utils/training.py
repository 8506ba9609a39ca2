"""Training with the post's callbacks, checkpoints of the best weights, and timing."""

from __future__ import annotations

import random
import shutil
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import config, runs
from .data import dataset_key
from .runs import display_path


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


def checkpoint_path(model_name: str, dataset: str = "mnist", root: Path | None = None) -> Path:
    """Where ``train`` keeps a run's best weights (the last, without validation data):
    ``checkpoints/<dataset>/<model>/best.weights.h5``."""
    return runs.run_folder(model_name, dataset, root) / runs.WEIGHTS_FILE


def _keep_only_weights(model: keras.Model, path: Path) -> None:
    """Rewrite the checkpoint at ``path`` with the model's weights alone.

    Keras 3 saves the optimizer's state beside the weights (for Adam, two more numbers per weight:
    a file three times larger), which evaluating never reads. The same model rebuilt from its config
    has no optimizer, so what it saves is the weights. A model that cannot be rebuilt (a subclass
    without ``get_config``) keeps the file as Keras wrote it.
    """
    state = random.getstate()  # rebuilding draws seeds from Python's generator: leave it as training left it
    try:
        bare = type(model).from_config(model.get_config())
    except (NotImplementedError, TypeError, ValueError):
        return
    finally:
        random.setstate(state)
    bare.load_weights(str(path))
    partial = path.with_name(f"partial.{path.name}")  # replaced in one step: a crash keeps the old file
    bare.save_weights(str(partial))
    partial.replace(path)


def epoch_line(epoch: int, epochs: int, logs: dict[str, float], improved: bool) -> str:
    """One epoch of the log: its number, seconds, metrics, learning rate, and a mark when validation improved."""
    metrics = "  ".join(f"{key} {value:.4f}" for key, value in logs.items()
                        if key not in (runs.SECONDS, runs.LEARNING_RATE))
    width = len(str(epochs))
    return (f"epoch {epoch:>{width}}/{epochs}  {logs.get(runs.SECONDS, float('nan')):5.1f}s  {metrics}  "
            f"lr {logs.get(runs.LEARNING_RATE, float('nan')):.2g}" + ("  *" if improved else ""))


def improvements(history: dict[str, list[float]], monitor: str | None = "val_accuracy") -> list[bool]:
    """For each epoch, whether ``monitor`` beat every earlier epoch (all False without it)."""
    values = history.get(monitor, []) if monitor else []
    return [value > max(values[:i], default=-float("inf")) for i, value in enumerate(values)] or \
        [False] * len(history.get("loss", []))


class EpochRecorder(keras.callbacks.Callback):
    """Adds each epoch's seconds and learning rate to its logs, so that the History and the CSV log keep them."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch_start = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs[runs.SECONDS] = round(time.perf_counter() - self.epoch_start, 2)
            logs[runs.LEARNING_RATE] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class EpochLogger(keras.callbacks.Callback):
    """One clean line per epoch (see ``epoch_line``); runs after ``EpochRecorder``."""

    def __init__(self, epochs: int, monitor: str | None = "val_accuracy") -> None:
        super().__init__()
        self.epochs = epochs
        self.monitor = monitor  # None: no validation, so no improvement marks
        self.best = -float("inf")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        value = logs.get(self.monitor, -float("inf")) if self.monitor else -float("inf")
        improved = value > self.best
        self.best = max(self.best, value)
        print(epoch_line(epoch + 1, self.epochs, logs, improved), flush=True)


def _outcome_line(run: runs.Run) -> str:
    if "val_accuracy" in run.history:
        return f"best val_accuracy {run.best():.4f} at epoch {run.best_epoch}"
    return f"no validation data: kept the last epoch ({run.best_epoch})"


def print_saved_run(run: runs.Run, asked_epochs: int) -> None:
    """What a reader sees instead of a training: which run, when, where, how long; then its epoch log."""
    trained = run.record.get("trained", {})
    folder = run.folder or Path(".")
    whose = "committed" if folder.resolve().is_relative_to(config.project_dir() / "checkpoints") else "saved"
    print(f"Loaded the {whose} run {display_path(folder)}/ instead of training it: trained "
          f"{trained.get('date', '?')} on {trained.get('hardware', '?')} (TensorFlow {trained.get('tensorflow', '?')}) "
          f"in {run.train_time:.1f} s.")
    monitor = "val_accuracy" if "val_accuracy" in run.history else None
    marks = improvements(run.history, monitor)
    for epoch in range(run.epochs):
        logs = {key: values[epoch] for key, values in run.history.items()}
        print(epoch_line(epoch + 1, asked_epochs, logs, marks[epoch]))
    print(_outcome_line(run))


def _load_weights(model: keras.Model, path: Path) -> None:
    """Load a checkpoint into ``model``, or a ValueError that says the weights do not fit it."""
    problem = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(str(path))
        except (ValueError, OSError) as exc:
            problem = str(exc)
    # Keras warns that the optimizer's state is missing (or, in older checkpoints, that it was
    # not loaded); evaluating does not need it. Any other skipped part means the weights do not fit.
    skipped = [str(w.message) for w in caught if "optimizer" not in str(w.message)]
    problem = problem or (skipped[0] if skipped else None)
    if problem:
        raise ValueError(
            f"The checkpoint {display_path(path)} does not fit model {model.name!r} "
            f"({problem.strip()}). Build the model with the builder that trained it, or retrain it."
        )


def _may_match(saved: list[runs.Run], model: keras.Model, epochs: int, settings: dict) -> bool:
    """Whether a saved run matches this recipe but for its data. Describing the data reads the
    pipeline, which moves its shuffling on; a run to be retrained is trained without that read, so
    that it sees the batches a full retraining gives it."""
    asked = runs.describe_recipe(model, epochs, settings, {})
    return any(not runs.differences({key: value for key, value in run.record["recipe"].items() if key in asked}, asked)
               for run in saved)


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
) -> runs.Run:
    """Fit ``model`` with the post's recipe, keep its best weights, and save the run whole.

    Callbacks: ModelCheckpoint on best ``val_accuracy`` (weights only), ReduceLROnPlateau on
    ``val_loss`` (factor 0.5, patience 4, min 1e-4; off with ``reduce_lr=False``, e.g. for a
    model whose optimizer follows a learning-rate schedule), EarlyStopping on ``val_accuracy``
    (patience 6; off with ``early_stopping=False``), CSVLogger for the history, plus any extra
    ``callbacks``. The run is saved in ``checkpoints/<dataset>/<model name>/`` (see ``runs``);
    ``checkpoint=False`` saves nothing (a quick experiment, trained every time).

    In the reader's mode (the default), and with ``MNIST_RETRAIN=missing``, a saved run of the same
    name whose recipe matches this one is loaded instead of trained: its weights go into ``model``
    and its epoch log is printed. A recipe that differs is trained, and its files go to ``my_runs/``
    (with ``MNIST_RETRAIN=missing``: over the committed run). Either way ``model`` ends
    with the run's best weights, and the returned ``Run`` carries its history and record.

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
    extra = list(callbacks or [])
    settings = {"reduce_lr": reduce_lr, "early_stopping": early_stopping,
                "extra_callbacks": [type(callback).__name__ for callback in extra]}
    folder = runs.run_folder(model.name, dataset) if checkpoint else None
    described_data = True
    resuming = config.mode() == config.RETRAIN and not config.retrains_matching_runs()
    saved = runs.saved_runs(model.name, dataset) if checkpoint else []
    if resuming:  # only a run trained with these libraries counts as done
        saved = [run for run in saved if runs.same_libraries(run.record)]
    if checkpoint and (config.mode() == config.READER or (resuming and _may_match(saved, model, epochs, settings))):
        recipe = runs.describe_recipe(model, epochs, settings, runs.describe_data(train_dataset, val_dataset))
        for run in saved:
            if not runs.differences(run.record["recipe"], recipe):
                _load_weights(model, run.checkpoint_path)
                if folder.exists() and run.folder != folder:  # the reader's own run of another recipe
                    print(f"Your earlier run of {model.name!r} (another recipe) moved to "
                          f"{display_path(runs.set_aside(folder))}/.")
                if verbose:
                    print_saved_run(run, epochs)
                return run
        if verbose:
            reason = (f"the saved run of {model.name!r} has another recipe "
                      f"({'; '.join(runs.differences(saved[-1].record['recipe'], recipe))})" if saved
                      else f"no run of {model.name!r} is saved")
            print(f"Training, as {reason}: the run goes to {display_path(folder)}/.")
        if folder.exists() and not resuming:  # retraining replaces the committed run once it is done
            print(f"Your earlier run of {model.name!r} moved to {display_path(runs.set_aside(folder))}/.")
    else:  # described before training (the initial weights), its data after (reading it reshuffles)
        recipe = runs.describe_recipe(model, epochs, settings, {})
        described_data = False
    recipe_callbacks: list[keras.callbacks.Callback] = [EpochRecorder()]
    partial = None
    if folder is not None:
        partial = folder.with_name(f"{folder.name}.partial")  # a crash leaves the saved run as it was
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        recipe_callbacks += [
            keras.callbacks.ModelCheckpoint(  # without validation: every epoch, so the last stays
                filepath=str(partial / runs.WEIGHTS_FILE), monitor="val_accuracy",
                save_best_only=validated, save_weights_only=True),
            keras.callbacks.CSVLogger(str(partial / runs.HISTORY_FILE)),
        ]
    if reduce_lr:
        recipe_callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=4,
                                                                  min_lr=1e-4))
    if early_stopping:
        recipe_callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=6))
    if verbose:
        recipe_callbacks.append(EpochLogger(epochs, monitor="val_accuracy" if validated else None))
    with TaskTime(f"training {model.name}", show_start=verbose, show_end=verbose) as timer:
        fitted = model.fit(
            train_dataset,
            validation_data=val_dataset,
            epochs=epochs,
            callbacks=recipe_callbacks + extra,
            shuffle=False,  # the tf.data pipeline shuffles; Keras would only warn
            verbose=0,
        )
    history = {key: [float(v) for v in values] for key, values in fitted.history.items()}
    if validated:
        best_epoch = int(np.argmax(history["val_accuracy"])) + 1
    else:
        best_epoch = len(history["loss"])
    if not described_data:
        data = runs.describe_data(train_dataset, val_dataset)
        recipe = {key: recipe[key] for key in ("seed", "epochs", *settings)} | data | recipe
    record = {"name": model.name, "dataset": dataset_key(dataset), "recipe": recipe,
              "result": {"epochs_run": len(history["loss"]), "best_epoch": best_epoch,
                         "train_time_s": round(timer.elapsed_time(), 1),
                         "best_val_accuracy": max(history["val_accuracy"]) if validated else None},
              "trained": runs.trained_on()}
    run = runs.Run(name=model.name, dataset=dataset_key(dataset), history=history, train_time=timer.elapsed_time(),
                   best_epoch=best_epoch, record=record)
    if partial is not None:
        _keep_only_weights(model, partial / runs.WEIGHTS_FILE)
        runs.write_record(partial, record)
        runs.replace_folder(partial, folder)
        run.folder = folder
        _load_weights(model, run.checkpoint_path)
    if verbose:
        saved = f", run saved in {display_path(folder)}/" if folder is not None else ""
        print(_outcome_line(run) + saved)
    return run


def load_best_checkpoint(model: keras.Model, dataset: str = "mnist") -> keras.Model:
    """Load the best weights that ``train`` saved for a model of this name into ``model``.

    Read from this mode's own outputs first (a smoke run's, or a reader's own run of a changed
    recipe when its layers are this model's), then from the committed runs (read only).
    """
    committed = checkpoint_path(model.name, dataset, root=config.project_dir())
    candidates = list(dict.fromkeys([checkpoint_path(model.name, dataset), committed]))
    for path in candidates:
        if not path.is_file():
            continue
        if path != committed and config.mode() == config.READER:
            record_path = path.parent / runs.RECORD_FILE
            if not record_path.is_file() or \
                    runs.read_run(path.parent).record["recipe"]["model"] != runs.describe_model(model):
                continue  # a reader's run of another model under this name: not what was asked for
            print(f"Using your own run {display_path(path.parent)}/ (delete it to use the committed one).")
        _load_weights(model, path)
        return model
    raise FileNotFoundError(
        f"No checkpoint for model {model.name!r} on {dataset}{runs.dataset_hint(dataset)}: looked for "
        f"{', '.join(display_path(p) for p in candidates)}. Train it first with train(model, ...), or set "
        f"{config.OUTPUT_DIR_ENV} to the series' folder (the one with checkpoints/ and notebooks/)."
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
