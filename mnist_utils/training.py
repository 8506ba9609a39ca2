"""``train``: load the saved run of the recipe asked for, or train it; and ``load_best_checkpoint``.

What ``train`` does is decided by the recipe the learner stated (``recipe.py``) and the session's
mode (``config.setup``), never by the model's current weights: running a cell twice, or the model
cell again without re-seeding, loads the same run again.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import tensorflow as tf

from . import config, runs
from .data import dataset_key, fresh_copy
from .fitting import fit, post_callbacks
from .recipe import describe_model, differences, make_recipe
from .runs import Run, display_path


def _minutes(seconds: float) -> str:
    return f"about {seconds:.0f} s" if seconds < 90 else f"about {seconds / 60:.0f} min"


def _versions(record: dict) -> str:
    trained = record.get("trained", {})
    return f"TensorFlow {trained.get('tensorflow', '?')}, Keras {trained.get('keras', '?')}"


def loaded_line(run: Run) -> str:
    """What a reader sees instead of a training: which run, when and with what, and its outcome."""
    trained = run.trained
    whose = "the committed run" if runs.is_committed(run) else "your saved run"
    line = (f"Loaded {whose} {run.name!r} (trained {trained.get('date', '?')[:10]} on {trained.get('hardware', '?')} "
            f"with {_versions(run.record)}, in {_minutes(run.train_time)[6:]}): {run.outcome()}.")
    if not runs.same_libraries(run.record):
        here = runs.trained_on()
        line += (f" You have TensorFlow {here['tensorflow']}, Keras {here['keras']}: the recipe is the same, so its "
                 "weights are used as they are.")
    return line


def _estimate(run: Run, recipe: dict) -> str:
    """How long the asked recipe should take, going by a saved run's time per epoch and image."""
    epochs = run.record["result"]["epochs_run"]
    per_epoch = run.train_time / max(1, epochs)
    images = recipe["train_data"]["examples"] / max(1, run.record["recipe"].get("train_data", {}).get("examples", 1))
    where = "the committed run" if runs.is_committed(run) else "your saved run"
    return (f"{_minutes(per_epoch * recipe['epochs'] * images)} (going by {where}: {_minutes(run.train_time)[6:]} "
            f"for {epochs} epochs on {run.trained.get('hardware', '?')})")


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


def _seeded_copy(model: keras.Model, seed: int) -> keras.Model:
    """The model's layers and compile settings with new initial weights drawn from ``seed``, so that
    what is trained depends on the recipe alone, not on the weights ``model`` holds now."""
    keras.utils.set_random_seed(seed)
    try:
        copy = type(model).from_config(model.get_config())
    except (NotImplementedError, TypeError, ValueError):  # a model that cannot be rebuilt: trained as it is
        return model
    copy.compile_from_config(model.get_compile_config())
    return copy


def _check_arguments(epochs: int, seed: int, validated: bool, reduce_lr: bool, early_stopping: bool) -> None:
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}.")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0 (it draws the initial weights), got {seed!r}.")
    if not validated and (reduce_lr or early_stopping):
        raise ValueError(
            "Without validation data there is nothing to watch for reduce_lr or early_stopping: "
            "pass reduce_lr=False and early_stopping=False (a fixed schedule and epoch count chosen "
            "on validation), or give a val_dataset.")


def train(
    model: keras.Model,
    train_dataset: tf.data.Dataset,
    val_dataset: tf.data.Dataset | None,
    *,
    dataset: str,
    epochs: int,
    seed: int,
    callbacks: list[keras.callbacks.Callback] | None = None,
    reduce_lr: bool = True,
    early_stopping: bool = True,
    checkpoint: bool = True,
    verbose: bool = True,
) -> Run:
    """Train ``model`` with the post's recipe, or load the saved run of the same recipe.

    The recipe is what you state: the model's layers, optimizer and loss (not its weights),
    ``seed`` (it draws the initial weights and the random layers' draws), the pipelines (made by
    ``make_dataset``: which images, batch size, shuffling and its seed), ``epochs`` and the
    callbacks: ReduceLROnPlateau on ``val_loss`` (``reduce_lr``), EarlyStopping on ``val_accuracy``
    (``early_stopping``) and any extra ``callbacks``, with their settings.

    In the reader's mode a saved run of that recipe (yours in ``my_runs/``, else the committed one)
    is loaded and reported in one line; any other recipe is trained, from fresh initial weights drawn
    with ``seed`` and the pipeline's first batches, and saved in ``my_runs/``, after a line that names
    what you changed and about how long it takes. The run is saved under ``checkpoints/<dataset>/<model
    name>/`` with its best weights (the last epoch's without validation), history and record;
    ``checkpoint=False`` trains every time and saves nothing. ``model`` ends with the run's weights.
    """
    validated = val_dataset is not None
    _check_arguments(epochs, seed, validated, reduce_lr, early_stopping)
    settings = config.current()
    epochs = config.smoke_epochs(epochs)
    callbacks = post_callbacks(reduce_lr, early_stopping) + list(callbacks or [])
    recipe = make_recipe(model, train_dataset, val_dataset, epochs, seed, callbacks)
    name, dataset = model.name, dataset_key(dataset)
    folder = runs.run_folder(name, dataset) if checkpoint else None
    saved = runs.saved_runs(name, dataset) if checkpoint and settings.mode != config.SMOKE else []
    if settings.mode == config.RETRAIN:  # only a committed run of these libraries counts as done
        saved = [run for run in saved if settings.retrain_missing and runs.same_libraries(run.record)]
    match = next((run for run in saved if not differences(run.record["recipe"], recipe)), None)
    if match is not None:
        _load_weights(model, match.checkpoint_path)
        if verbose:
            print(loaded_line(match))
        return match

    if verbose:
        print(_why_training(name, saved, recipe, folder, settings))
    if folder is not None and folder.exists() and settings.mode == config.READER:
        print(f"Your earlier run of {name!r} (another recipe) is kept as {display_path(runs.set_aside(folder))}/.")
    fresh = _seeded_copy(model, seed)
    partial = None if folder is None else folder.with_name(f"{folder.name}.partial")  # a crash keeps the old run
    # A pipeline made anew: training starts from the batches the recipe names, however often it was read.
    history, best_epoch, seconds = fit(fresh, fresh_copy(train_dataset), val_dataset, epochs, callbacks, verbose,
                                       partial)
    record = {"name": name, "dataset": dataset, "recipe": recipe,
              "result": {"epochs_run": len(history["loss"]), "best_epoch": best_epoch, "train_time_s": round(seconds, 1),
                         "best_val_accuracy": max(history["val_accuracy"]) if validated else None},
              "trained": runs.trained_on()}
    run = Run(name=name, dataset=dataset, history=history, train_time=seconds, best_epoch=best_epoch, record=record)
    if partial is not None:
        runs.write_record(partial, record)
        runs.replace_folder(partial, folder)
        run.folder = folder
        _load_weights(model, run.checkpoint_path)
    else:
        model.set_weights(fresh.get_weights())
    if verbose:
        print(f"Trained {name!r} in {_minutes(seconds)[6:]}: {run.outcome()}"
              + (f"; saved in {display_path(folder)}/." if folder is not None else "."))
    return run


def _why_training(name: str, saved: list[Run], recipe: dict, folder: Path | None, settings: config.Settings) -> str:
    where = f"; it goes to {display_path(folder)}/" if folder is not None else " (not saved: checkpoint=False)"
    if settings.mode == config.SMOKE:
        epochs = f"{recipe['epochs']} epoch" + ("s" if recipe["epochs"] != 1 else "")
        return f"Smoke mode: training {name!r} for {epochs} on {recipe['train_data']['examples']:,} images{where}."
    if settings.mode == config.RETRAIN and not settings.retrain_missing:
        return f"Retrain mode: training {name!r}{where}."
    if not saved:
        return f"No saved run of {name!r}: training it{where}."
    nearest = saved[-1]  # the committed run, when there is one: what the learner started from
    changed = differences(nearest.record["recipe"], recipe)
    whose = "the committed run" if runs.is_committed(nearest) else "your saved run"
    return (f"You changed {'; '.join(changed)} (from {whose} {name!r}): training your own run, "
            f"{_estimate(nearest, recipe)}{where}.")


def load_best_checkpoint(model: keras.Model, dataset: str) -> keras.Model:
    """Load the best weights that ``train`` saved for a model of this name on ``dataset`` into ``model``.

    The committed run, unless: in the smoke mode, a run this session trained comes first; in the
    reader's mode, your own run (``my_runs/``) of a model with these layers is used when you asked for
    it with ``mu.setup(use_my_runs=True)``, and named either way.
    """
    settings = config.current()
    dataset = dataset_key(dataset)
    committed = runs.run_folder(model.name, dataset, settings.series_dir)
    own = runs.run_folder(model.name, dataset, settings.write_dir)
    candidates = [committed]
    if own != committed and (own / runs.WEIGHTS_FILE).is_file():
        if settings.mode == config.SMOKE:
            candidates.insert(0, own)
        elif settings.mode == config.READER and (own / runs.RECORD_FILE).is_file():
            mine = runs.read_run(own)
            if mine.record["recipe"].get("model") == describe_model(model):
                changed = _changes_from_committed(mine, committed)
                if settings.use_my_runs:
                    print(f"Using your own run of {model.name!r}{changed}; mu.setup() without use_my_runs=True "
                          "goes back to the committed one.")
                    candidates.insert(0, own)
                else:
                    print(f"Your own run of {model.name!r}{changed} is in {display_path(own)}/; this notebook "
                          "uses the committed one (mu.setup(use_my_runs=True) uses yours).")
    for folder in candidates:
        if (folder / runs.WEIGHTS_FILE).is_file():
            _load_weights(model, folder / runs.WEIGHTS_FILE)
            return model
    raise FileNotFoundError(
        f"No saved run of model {model.name!r} on {dataset}{runs.dataset_hint(dataset)}: looked in "
        f"{', '.join(display_path(p) for p in candidates)}/. Train it first with mu.train(model, ...), or run "
        "mu.setup(series_dir=...) with the series' folder (the one with checkpoints/ and notebooks/).")


def _changes_from_committed(mine: Run, committed: Path) -> str:
    if not (committed / runs.RECORD_FILE).is_file():
        return ""
    changed = differences(runs.read_run(committed).record["recipe"], mine.record["recipe"])
    return f" (you changed {'; '.join(changed)})" if changed else ""
