"""A run's recipe: what the learner asked for, as plain JSON values, and how two recipes differ, in words.

A recipe holds the layers (their settings that differ from Keras' defaults, not their weights or
names), the optimizer and its schedule, the loss, the seed that draws the initial weights, the data
(which images, the batch size, the shuffling and its seed), the epochs and the callbacks with their
settings. Nothing in it depends on the model's current weights, on a global random state or on the
library versions, so the same code gives the same recipe in any session, on any Keras 3.
"""

from __future__ import annotations

import inspect
import json
import random
import warnings
from typing import Any, Sequence

import keras
import tensorflow as tf

from .data import pipeline_spec

RECIPE_VERSION = 2
# Keys of a layer's config that never change what it computes, or that every layer has. A random
# layer's own seed is drawn from the session's seed, which the recipe holds.
_NOT_SETTINGS = {"name", "trainable", "dtype", "autocast", "seed"}


def _plain(value: object) -> object:
    """A config value as a short, stable JSON value: a serialized Keras object as ``Class(settings)``,
    floats to 6 significant digits (float32 settings read back as long float64 numbers)."""
    if isinstance(value, dict) and "class_name" in value:
        settings = {k: v for k, v in (value.get("config") or {}).items() if v is not None and k != "name"}
        return value["class_name"] + (f"({', '.join(f'{k}={_plain(v)!r}' for k, v in settings.items())})"
                                      if settings else "")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def _required(cls: type, config: dict) -> dict:
    """The arguments of ``cls`` that have no default, as ``config`` holds them."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    return {p.name: config[p.name] for p in parameters
            if p.default is p.empty and p.name in config and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _default_config(cls: type, required: dict) -> dict:
    """The config of ``cls`` built with only its ``required`` arguments, or {}."""
    state = random.getstate()  # building a random layer draws a seed: leave the session's draws alone
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls(**required).get_config()
    except Exception:  # noqa: BLE001 - a class that cannot be built so: every setting is kept
        return {}
    finally:
        random.setstate(state)


def _settings(obj: Any, config: dict) -> dict:
    """The settings of a Keras object's ``config``: its required ones, and the others that differ from
    its class's defaults."""
    required = _required(type(obj), config)
    defaults = _default_config(type(obj), required)
    return {key: _plain(value) for key, value in config.items()
            if key not in _NOT_SETTINGS and value is not None
            and (key in required or _plain(defaults.get(key)) != _plain(value))}


def _call(name: str, settings: dict) -> str:
    return f"{name}({', '.join(f'{key}={value!r}' for key, value in settings.items())})"


def describe_layer(layer: keras.layers.Layer) -> str:
    """A layer as ``Class(settings)``: only the settings that differ from Keras' defaults."""
    if isinstance(layer, keras.layers.InputLayer):
        return f"Input(shape={tuple(layer.batch_shape[1:])})"
    settings = _settings(layer, layer.get_config())
    if not layer.trainable:
        settings["trainable"] = False  # frozen: another recipe
    if layer.dtype_policy.name != "float32":
        settings["dtype"] = layer.dtype_policy.name  # mixed precision: another recipe
    return _call(type(layer).__name__, settings)


def _sources(node: object) -> list[str]:
    """Names of the layers whose outputs a functional layer entry's inbound nodes take."""
    if isinstance(node, dict):
        if "keras_history" in node.get("config", {}):
            return [node["config"]["keras_history"][0]]
        return [name for value in node.values() for name in _sources(value)]
    if isinstance(node, (list, tuple)):
        return [name for value in node for name in _sources(value)]
    return []


def describe_model(model: keras.Model) -> list[str]:
    """One line per layer (see ``describe_layer``), and, where a layer does not take the previous
    layer's output, the indices of the layers it takes (for branches and skips)."""
    entries = model.get_config().get("layers") if isinstance(model, keras.Model) else None
    index = {layer.name: i for i, layer in enumerate(model.layers)}
    lines = []
    for i, layer in enumerate(model.layers):
        line = describe_layer(layer)
        sources = [index[name] for name in _sources(entries[i].get("inbound_nodes", []))] \
            if entries and len(entries) == len(model.layers) else []
        if sources and sources != [i - 1]:
            line += f" <- {sources}"
        lines.append(line)
    return lines


def describe_optimizer(optimizer: keras.optimizers.Optimizer) -> str:
    """The optimizer as ``Class(settings)``, its learning-rate schedule written out."""
    config = optimizer.get_config()
    return _call(type(optimizer).__name__, _settings(optimizer, config))


def describe_loss(loss: object) -> str:
    """The loss as ``Class(settings)`` (a loss given by name stays its name)."""
    if isinstance(loss, keras.losses.Loss):
        return _call(type(loss).__name__, _settings(loss, loss.get_config()))
    return str(getattr(loss, "__name__", loss))


def describe_callback(callback: keras.callbacks.Callback) -> str:
    """A callback as ``Class(settings)``: its constructor's arguments that differ from their defaults."""
    settings = {}
    for parameter in inspect.signature(type(callback).__init__).parameters.values():
        if parameter.name in ("self", "verbose") or not hasattr(callback, parameter.name):
            continue
        value = _plain(getattr(callback, parameter.name))
        if isinstance(value, (bool, int, float, str, type(None), list)) and value != parameter.default:
            settings[parameter.name] = value
    return _call(type(callback).__name__, settings)


def describe_data(dataset: tf.data.Dataset | None, role: str) -> dict[str, object] | None:
    """A pipeline's spec (``make_dataset``), or an error that says how to make one."""
    if dataset is None:
        return None
    spec = pipeline_spec(dataset)
    if spec is None:
        raise TypeError(
            f"The {role} data is a pipeline that mu.make_dataset did not make, so its recipe (which images, "
            "the batch size, the shuffling and its seed) is unknown: build it with mu.make_dataset(x, y, ...) "
            "or mu.make_datasets(...), or train it with model.fit yourself.")
    return spec.describe()


def make_recipe(
    model: keras.Model,
    train_data: tf.data.Dataset,
    val_data: tf.data.Dataset | None,
    epochs: int,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback],
) -> dict[str, object]:
    """Everything a run is trained from, as plain JSON values (see the module's docstring)."""
    if model.optimizer is None:
        raise ValueError(f"Model {model.name!r} is not compiled: call model.compile(...) first (the series' "
                         "builders do).")
    recipe = {
        "version": RECIPE_VERSION,
        "seed": seed,
        "epochs": epochs,
        "train_data": describe_data(train_data, "training"),
        "val_data": describe_data(val_data, "validation"),
        "callbacks": [describe_callback(callback) for callback in callbacks],
        "optimizer": describe_optimizer(model.optimizer),
        "loss": describe_loss(model.loss),
        "model": describe_model(model),
    }
    return json.loads(json.dumps(recipe))  # as a record reads back: tuples become lists


# --- Differences, in plain words -------------------------------------------------------------

_DATA_WORDS = {"batch_size": "the batch size", "shuffle": "the shuffling", "shuffle_seed": "the shuffle seed"}


def _on_off(value: object) -> object:
    return {True: "on", False: "off", None: "none"}.get(value, value) if isinstance(value, (bool, type(None))) else value


def _data_differences(old: dict | None, new: dict | None, what: str) -> list[str]:
    if old is None or new is None:
        return [] if old == new else [f"the {what} data (from {'none' if old is None else 'some'} to "
                                      f"{'none' if new is None else 'some'})"]
    found = []
    if old.get("examples") != new.get("examples"):
        found.append(f"the {what} images (from {old.get('examples', 0):,} to {new.get('examples', 0):,})")
    elif old.get("content") != new.get("content"):
        found.append(f"the {what} images (other images or labels, or another order: another split or subset)")
    for key, words in _DATA_WORDS.items():
        if old.get(key) != new.get(key) and not (key == "shuffle_seed" and old.get("shuffle") != new.get("shuffle")):
            found.append(f"{words} from {_on_off(old.get(key))} to {_on_off(new.get(key))}")
    return found


def _layer_difference(old: list[str], new: list[str]) -> str:
    if len(old) != len(new):
        return f"the layers (from {len(old)} to {len(new)})"
    i = next(i for i, (a, b) in enumerate(zip(old, new)) if a != b)
    return f"layer {i} from {old[i]} to {new[i]}"


def differences(recorded: dict[str, Any], asked: dict[str, Any]) -> list[str]:
    """What the learner changed between two recipes, one phrase each (empty when they match)."""
    if recorded.get("version") != RECIPE_VERSION:
        return [f"the record's format (version {recorded.get('version', 1)}, this series writes {RECIPE_VERSION})"]
    found = []
    for key in ("seed", "epochs"):
        if recorded.get(key) != asked.get(key):
            found.append(f"the {key} from {recorded.get(key)} to {asked.get(key)}")
    found += _data_differences(recorded.get("train_data"), asked.get("train_data"), "training")
    found += _data_differences(recorded.get("val_data"), asked.get("val_data"), "validation")
    old, new = recorded.get("callbacks", []), asked.get("callbacks", [])
    if old != new:
        gone, added = [c for c in old if c not in new], [c for c in new if c not in old]
        found.append(f"the callbacks (from {', '.join(gone) or 'the same'} to {', '.join(added) or 'none'})"
                     if gone or added else "the callbacks' order")
    for key in ("optimizer", "loss"):
        if recorded.get(key) != asked.get(key):
            found.append(f"the {key} from {recorded.get(key)} to {asked.get(key)}")
    if recorded.get("model") != asked.get("model"):
        found.append(_layer_difference(recorded.get("model", []), asked.get("model", [])))
    return found
