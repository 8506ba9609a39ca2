"""A trained model outside Keras: exported as a TensorFlow SavedModel or a LiteRT (TFLite) file, and
read back with TensorFlow alone, without the model's Keras code."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from . import config
from .data import to_float
from .quiet import quiet_stderr

INPUT_SPEC = keras.InputSpec(shape=(None, 28, 28, 1), dtype="float32")


def export_folder() -> Path:
    """Where this mode writes exported models, created if missing: ``exports/`` of its output folder
    (``my_runs/exports/`` in the reader's mode)."""
    folder = config.current().write_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def export_saved_model(model: keras.Model, path: str | Path) -> Path:
    """Export ``model`` as a SavedModel whose ``serve`` function predicts, with augmentation off.

    ``model.export(path)`` alone traces the model without ``training=False``, and Keras' random
    augmentation layers are on by default: the exported model would rotate, zoom and shift every
    image it is asked about. So the endpoint says ``training=False`` itself.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serve", fn=lambda images: model(images, training=False), input_signature=[INPUT_SPEC])
    archive.write_out(str(path), verbose=False)
    return Path(path)


def export_litert(model: keras.Model, path: str | Path, quantize: bool = False) -> Path:
    """Export ``model`` as a LiteRT (TFLite) file through Keras' own ``litert`` format (on the
    TensorFlow backend it runs TensorFlow's converter on the model with ``training=False``).
    ``quantize``: store the weights as 8-bit integers (dynamic-range quantization)."""
    options = {"optimizations": [tf.lite.Optimize.DEFAULT]} if quantize else {}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with quiet_stderr():  # the converter's C++ log lines would land in the notebook
        model.export(str(path), format="litert", verbose=False, **options)
    return Path(path)


def load_saved_model(path: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """A SavedModel read back with TensorFlow alone: a function from images to class probabilities."""
    if not (Path(path) / "saved_model.pb").is_file():
        raise FileNotFoundError(f"No SavedModel in {path}: export one first with export_saved_model(model, path).")
    artifact = tf.saved_model.load(str(path))
    return lambda images: _in_batches(lambda batch: artifact.serve(batch).numpy(), images)


def load_litert(path: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """A LiteRT file read back with TensorFlow's interpreter: a function from images to class probabilities."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"No LiteRT file {path}: export one first with export_litert(model, path).")
    with warnings.catch_warnings(), quiet_stderr():
        # TensorFlow says its interpreter moves to the ai-edge-litert package; it still works in 2.21.
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    one_at_a_time = threading.Lock()  # an interpreter is not thread-safe (a web app may call from several)

    def predict(batch: np.ndarray) -> np.ndarray:
        with one_at_a_time:
            return predict_unlocked(batch)

    def predict_unlocked(batch: np.ndarray) -> np.ndarray:
        if tuple(source["shape"]) != batch.shape:  # the file holds one batch size; change it as needed
            interpreter.resize_tensor_input(source["index"], batch.shape)
            with quiet_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
                interpreter.allocate_tensors()
            source.update(interpreter.get_input_details()[0])
        interpreter.set_tensor(source["index"], batch)
        interpreter.invoke()
        return interpreter.get_tensor(target["index"]).copy()

    with quiet_stderr():
        interpreter.allocate_tensors()
    return lambda images: _in_batches(predict, images)


def artifact_size(path: str | Path) -> int:
    """Bytes on disk of an exported file or folder."""
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _in_batches(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """``predict`` over MNIST-style images (uint8 or floats, with or without the channel axis), in batches."""
    floats = to_float(images)
    if floats.shape[1:] != (28, 28, 1):
        raise ValueError(f"Expected images of shape (n, 28, 28) or (n, 28, 28, 1), got {np.shape(images)}.")
    return np.concatenate([predict(floats[start:start + batch_size]) for start in range(0, len(floats), batch_size)])
