"""Helpers for the MNIST / Fashion-MNIST tutorial series (one source for notebooks and tests).

The post's helpers keep their names: ``train``, ``plot_history``, ``evaluate_show``,
``plot_confusion_matrix``, ``plot_predicted_sample``, ``show_images``,
``load_best_checkpoint``, ``TaskTime``, ``get_weight_num``.
"""

import os

from .quiet import quiet_stderr  # before TensorFlow, whose start-up it mutes

# TensorFlow's C++ start-up banners (oneDNN, CPU features, CUDA probing) are written before its
# logging is set up, so TF_CPP_MIN_LOG_LEVEL cannot hide them; later C++ info and warnings it can.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
with quiet_stderr():
    import tensorflow as _tf  # noqa: E402

# Retracing notices and similar Python-side warnings are noise for a reader of the notebooks.
_tf.get_logger().setLevel("ERROR")

from .config import is_smoke, mode, smoke_cut, smoke_epochs  # noqa: E402
from .data import (  # noqa: E402
    CLASS_NAMES, DataError, load_data, make_dataset, make_datasets, split_train_val, to_float,
)
from .ensembles import Ensemble, load_ensemble, save_ensemble  # noqa: E402
from .evaluation import (  # noqa: E402
    ResultsTable, accuracy, evaluate_model, evaluate_show, format_columns, predict_all, predict_probs, predict_probs_mirrored,
)
from .gpu import GpuConfigError, limit_gpu_memory, use_cpu_threads  # noqa: E402
from .models import (  # noqa: E402
    AUGMENTATIONS, FAST_BATCH_SIZE, FAST_EPOCHS, augmentation_layers, compile_model, conv_block, one_cycle, get_custom_cnn, get_fast_cnn, get_lenet, get_mlp,
    get_resnet, get_weight_num, residual_block, show_summary, SparseSmoothedCrossentropy,
)
from .plots import (  # noqa: E402
    plot_confusion_matrix, plot_history, plot_predicted_sample, save_fig, show_images,
)
from .export import (  # noqa: E402
    artifact_size, export_folder, export_litert, export_saved_model, load_litert, load_saved_model,
)
from .prepare import prepare_image  # noqa: E402
from .source import show_source  # noqa: E402
from .runs import Run, hardware, read_run, run_folder  # noqa: E402
from .training import (  # noqa: E402
    SplitBatchModel, TaskTime, checkpoint_path, load_best_checkpoint, split_batch, train,
)

__all__ = [
    "artifact_size", "export_folder", "quiet_stderr", "export_litert", "export_saved_model", "load_litert", "load_saved_model",
    "compile_model", "conv_block", "get_resnet", "residual_block", "SparseSmoothedCrossentropy", "one_cycle", "Ensemble", "format_columns", "load_ensemble", "mode", "prepare_image", "read_run", "Run", "run_folder", "save_ensemble",
    "accuracy", "AUGMENTATIONS", "augmentation_layers", "checkpoint_path", "CLASS_NAMES", "DataError", "evaluate_model",
    "evaluate_show", "FAST_BATCH_SIZE", "FAST_EPOCHS", "get_custom_cnn", "get_fast_cnn", "get_lenet", "get_mlp",
    "get_weight_num", "GpuConfigError", "hardware", "is_smoke", "limit_gpu_memory",
    "load_best_checkpoint", "load_data", "make_dataset", "make_datasets", "plot_confusion_matrix", "plot_history",
    "plot_predicted_sample", "predict_all", "predict_probs", "predict_probs_mirrored", "ResultsTable", "save_fig",
    "show_images", "show_source", "show_summary", "smoke_cut", "smoke_epochs", "split_batch", "split_train_val",
    "SplitBatchModel", "TaskTime", "to_float", "train", "use_cpu_threads",
]
