"""Helpers for the MNIST / Fashion-MNIST tutorial series (one source for notebooks and tests).

The post's helpers keep their names: ``train``, ``plot_history``, ``evaluate_show``,
``plot_confusion_matrix``, ``plot_predicted_sample``, ``show_images``,
``load_best_checkpoint``, ``TaskTime``, ``get_weight_num``. A notebook starts with ``setup()``,
which decides the mode and the folders once and shows them.
"""

import os
import warnings

from .quiet import quiet_stderr  # before TensorFlow, whose start-up it mutes

# TensorFlow's C++ start-up banners (oneDNN, CPU features, CUDA probing) are written before its
# logging is set up, so TF_CPP_MIN_LOG_LEVEL cannot hide them; later C++ info and warnings it can.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
with quiet_stderr():
    import tensorflow as _tf  # noqa: E402

# Retracing notices and similar Python-side warnings are noise for a reader of the notebooks.
_tf.get_logger().setLevel("ERROR")
# model.fit(pipeline) warns that its default shuffle=True does not apply to a tf.data pipeline: the
# series' pipelines shuffle themselves (make_dataset), so a learner's plain fit needs no shuffle=False.
warnings.filterwarnings("ignore", message="`shuffle=True` was passed, but will be ignored", category=UserWarning)

from .config import Settings, is_smoke, setup  # noqa: E402
from .data import CLASS_NAMES, DataError, load_data, make_dataset, make_datasets, split_train_val, to_float  # noqa: E402
from .ensembles import Ensemble, load_ensemble, save_ensemble  # noqa: E402
from .evaluation import (  # noqa: E402
    ResultsTable, accuracy, evaluate_show, format_columns, predict_all, predict_probs, predict_probs_mirrored,
)
from .export import (  # noqa: E402
    artifact_size, export_folder, export_litert, export_saved_model, load_litert, load_saved_model,
)
from .fitting import TaskTime  # noqa: E402
from .gpu import GpuConfigError, limit_gpu_memory, use_cpu_threads  # noqa: E402
from .models import (  # noqa: E402
    FAST_BATCH_SIZE, FAST_EPOCHS, SparseSmoothedCrossentropy, augmentation_layers, compile_model, get_custom_cnn,
    get_fast_cnn, get_lenet, get_mlp, get_resnet, get_weight_num, one_cycle, residual_block, show_summary, split_batch,
)
from .plots import plot_confusion_matrix, plot_history, plot_predicted_sample, save_fig, show_images  # noqa: E402
from .prepare import prepare_image  # noqa: E402
from .runs import Run  # noqa: E402
from .source import show_source  # noqa: E402
from .training import load_best_checkpoint, train  # noqa: E402

__all__ = [
    "CLASS_NAMES", "DataError", "Ensemble", "FAST_BATCH_SIZE", "FAST_EPOCHS", "GpuConfigError", "ResultsTable", "Run",
    "Settings", "SparseSmoothedCrossentropy", "TaskTime", "accuracy", "artifact_size", "augmentation_layers",
    "compile_model", "evaluate_show", "export_folder", "export_litert", "export_saved_model", "format_columns",
    "get_custom_cnn", "get_fast_cnn", "get_lenet", "get_mlp", "get_resnet", "get_weight_num", "is_smoke",
    "limit_gpu_memory", "load_best_checkpoint", "load_data", "load_ensemble", "load_litert", "load_saved_model",
    "make_dataset", "make_datasets", "one_cycle", "plot_confusion_matrix", "plot_history", "plot_predicted_sample",
    "predict_all", "predict_probs", "predict_probs_mirrored", "prepare_image", "quiet_stderr", "residual_block",
    "save_ensemble", "save_fig", "setup", "show_images", "show_source", "show_summary", "split_batch",
    "split_train_val", "to_float", "train", "use_cpu_threads",
]
