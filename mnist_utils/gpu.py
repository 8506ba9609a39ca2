"""Device settings: how much GPU memory TensorFlow takes, how many CPU threads it uses."""

from __future__ import annotations

import tensorflow as tf


class GpuConfigError(RuntimeError):
    """The GPU setting could not be applied."""


def limit_gpu_memory(memory_limit_mb: int | None = 2048, gpu_index: int = 0) -> str:
    """Cap TensorFlow's memory on one GPU at ``memory_limit_mb`` MB, or with ``None``
    let it grow on demand on every GPU. Call it before anything touches the GPU.

    Returns a one-line description of what was done (also printed).
    """
    if memory_limit_mb is not None and memory_limit_mb <= 0:
        raise ValueError(f"memory_limit_mb must be a positive number of MB or None, got {memory_limit_mb}.")
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        message = "No GPU found: TensorFlow runs on the CPU, so there is no GPU memory to cap."
        print(message)
        return message
    if not 0 <= gpu_index < len(gpus):
        raise GpuConfigError(f"gpu_index={gpu_index}, but only {len(gpus)} GPU(s) are visible.")
    try:
        if memory_limit_mb is None:
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
            message = f"Memory growth on for {len(gpus)} GPU(s)."
        else:
            tf.config.set_logical_device_configuration(
                gpus[gpu_index], [tf.config.LogicalDeviceConfiguration(memory_limit=memory_limit_mb)]
            )
            message = f"GPU {gpu_index} ({gpus[gpu_index].name}) capped at {memory_limit_mb} MB."
    except RuntimeError as exc:
        raise GpuConfigError(
            "TensorFlow has already initialized the GPU, so its memory can no longer be capped. "
            "Restart the kernel and call limit_gpu_memory() first, before building any model "
            f"or tensor. ({exc})"
        ) from exc
    print(message)
    return message


def use_cpu_threads(intra_op: int = 1, inter_op: int = 2) -> str:
    """Set TensorFlow's CPU thread pools. Call it before any model or tensor is created.

    For the small models of the series at batch 32, one thread per operation with two
    operations at a time is faster than splitting every small matrix product across cores
    (LeNet on 2 cores: 3.50 s per epoch, against 3.75 s with TensorFlow's default pools;
    ``benchmarks/lenet_options.json``). Larger models at larger batches do better with the
    default (0, 0: TensorFlow decides).
    """
    if intra_op < 0 or inter_op < 0:
        raise ValueError(f"Thread counts must be 0 (automatic) or positive, got {intra_op}, {inter_op}.")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError as exc:
        raise RuntimeError(
            "TensorFlow has already started, so its CPU threads can no longer be changed. Restart "
            f"the kernel and call use_cpu_threads() right after importing mnist_utils. ({exc})"
        ) from exc
    message = f"CPU threads: {intra_op or 'automatic'} per operation, {inter_op or 'automatic'} operations at a time."
    print(message)
    return message
