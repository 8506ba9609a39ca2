"""Where a training step of the post's models at batch 32 spends its time on this machine.

    python benchmarks/profile_step.py                   # LeNet and the MLP, about a minute
    python benchmarks/profile_step.py --steps 8 --output /tmp/profile.json   # seconds: the tests

Three timings of the same model and batch size, in milliseconds per training step:
  fit    the series' path: ``mu.make_dataset`` + ``model.fit`` (input pipeline, several steps per
         call, callbacks), on random images of MNIST's shape;
  step   one compiled training step per call, on a batch already in memory (no input pipeline),
         compiled with XLA where the builder asks for it (the MLP);
  loop   many compiled steps inside one call (no pipeline, no per-call dispatch): the arithmetic.
``fit - loop`` is what a faster pipeline or dispatch could still win; ``loop`` is the kernels' cost.
Then, for LeNet, which kernels that cost is made of: ``fit`` again, over at most 200 steps, under
TensorFlow's profiler, its kernels' times summed by kind (convolutions forward and backward, pooling, dense
layers, Adam's updates, the rest). The profiler slows each kernel a little, so the shares are the
figures to read. No data files are needed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

BATCH_SIZE = 32

# Kinds of kernels, by TensorFlow op type (oneDNN's kernels carry the same names with a prefix,
# e.g. _MklNativeConv2DBackpropInput); the first match wins. Adam's updates are found by their
# scope, the optimizer's name (adam, adam_1, ...: Keras numbers the optimizers of one process).
KERNEL_KINDS = (
    ("convolution, backward to its input", "Conv2DBackpropInput"),
    ("convolution, backward to its weights", "Conv2DBackpropFilter"),
    ("convolution, forward", "Conv2D"),
    ("max pooling, backward", "MaxPoolGrad"),
    ("max pooling, forward", "MaxPool"),
    ("dense layers (matrix products)", "MatMul"),
)
OPTIMIZER_KIND = "Adam's updates"
OTHER_KIND = "the rest (activations, loss, metrics)"
# The profiler's own cost grows with the trace: over a whole epoch (1,594 steps) it slowed the small
# kernels here (Adam's updates 400 us per step instead of 150-190 us in traces of 100-400 steps).
PROFILED_STEPS = 200


def profile(model_name: str, steps: int) -> dict[str, float]:
    """Milliseconds per training step of the post's ``model_name`` ("mlp" or "lenet") three ways."""
    import keras
    import numpy as np
    import tensorflow as tf

    import mnist_utils as mu

    keras.utils.set_random_seed(0)
    build = {"mlp": mu.get_mlp, "lenet": mu.get_lenet}[model_name]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (steps * BATCH_SIZE, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, steps * BATCH_SIZE)

    model = build()
    dataset = mu.make_dataset(images, labels, batch_size=BATCH_SIZE, shuffle=True)
    model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # builds and compiles the train function
    start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    fit_ms = (time.perf_counter() - start) / steps * 1e3

    model = build()
    loss_fn, optimizer = model.loss, model.optimizer
    batches_x = tf.constant(mu.to_float(images).reshape((steps, BATCH_SIZE, 28, 28, 1)))
    batches_y = tf.constant(labels.reshape((steps, BATCH_SIZE)))

    @tf.function(jit_compile=bool(model.jit_compile))  # as the builder compiled it (XLA for the MLP)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    @tf.function
    def train_loop(xs, ys):
        for i in tf.range(steps):
            train_step(xs[i], ys[i])
        return tf.constant(0)

    def timed(run) -> float:
        run()  # trace and warm up
        start = time.perf_counter()
        run()
        return (time.perf_counter() - start) / steps * 1e3

    step_ms = timed(lambda: [train_step(batches_x[i], batches_y[i]) for i in range(steps)])
    loop_ms = timed(lambda: train_loop(batches_x, batches_y))
    return {"fit_ms": fit_ms, "step_ms": step_ms, "loop_ms": loop_ms}


def kernel_kind(op_name: str, op_type: str, optimizer_name: str = "adam") -> str:
    """The kind (a row of the breakdown) of one kernel, from its op's name and type."""
    if f"/{optimizer_name}/" in f"/{op_name}":
        return OPTIMIZER_KIND
    return next((kind for kind, marker in KERNEL_KINDS if marker in op_type), OTHER_KIND)


def kernel_breakdown(steps: int = PROFILED_STEPS) -> dict[str, float]:
    """Microseconds per training step of LeNet's kernels by kind, through ``fit`` under the profiler."""
    import keras
    import numpy as np
    import tensorflow as tf

    import mnist_utils as mu

    try:  # TensorFlow's own description of a trace; TensorBoard's profile plugin reads the same files
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    except ImportError as exc:
        raise RuntimeError(f"This TensorFlow ({tf.__version__}) has no profiler trace format to read "
                           "(tensorflow.tsl.profiler); run with --no-kernels.") from exc

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (steps * BATCH_SIZE, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, steps * BATCH_SIZE)
    model = mu.get_lenet()
    dataset = mu.make_dataset(images, labels, batch_size=BATCH_SIZE, shuffle=True)
    model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # compile first: tracing is not a step's cost
    with tempfile.TemporaryDirectory() as trace_dir:
        tf.profiler.experimental.start(trace_dir)
        try:
            model.fit(dataset, epochs=1, verbose=0, shuffle=False)
        finally:
            tf.profiler.experimental.stop()
        trace = next(Path(trace_dir).rglob("*.xplane.pb"))
        space = xplane_pb2.XSpace.FromString(trace.read_bytes())
    host = next(plane for plane in space.planes if plane.name == "/host:CPU")
    micros: dict[str, float] = {kind: 0.0 for kind, _ in KERNEL_KINDS}
    micros.update({OPTIMIZER_KIND: 0.0, OTHER_KIND: 0.0})
    for line in host.lines:
        if not line.name.startswith("tf_Compute"):  # the threads that run kernels
            continue
        for event in line.events:
            name = host.event_metadata[event.metadata_id].name
            if "::" in name or ":" not in name:  # the executor's own bookkeeping, not a kernel
                continue
            op_name, op_type = name.rsplit(":", 1)
            micros[kernel_kind(op_name, op_type, model.optimizer.name)] += event.duration_ps / 1e6 / steps
    return micros


def main(argv: list[str] | None = None) -> dict:
    """The command line: the three timings of both models, then LeNet's kernels; prints and returns them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=400, help="training steps per timing")
    parser.add_argument("--output", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--no-kernels", dest="kernels", action="store_false",
                        help="skip the profiled breakdown of LeNet's kernels")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    import mnist_utils as mu

    mu.use_cpu_threads(intra_op=1, inter_op=2)  # as notebooks 02 and 03 and the speed benchmark do
    results = {name: profile(name, args.steps) for name in ("lenet", "mlp")}
    print(f"ms per training step at batch {BATCH_SIZE} ({args.steps} steps each)")
    print(f"{'model':8s} {'fit':>8s} {'step':>8s} {'loop':>8s}")
    for name, times in results.items():
        print(f"{name:8s} {times['fit_ms']:8.2f} {times['step_ms']:8.2f} {times['loop_ms']:8.2f}")
    saved = {"batch_size": BATCH_SIZE, "steps": args.steps, "models": results}
    if args.kernels:
        saved["lenet_kernels_profiled_steps"] = traced = min(args.steps, PROFILED_STEPS)
        saved["lenet_kernels_us"] = kernels = kernel_breakdown(traced)
        total = sum(kernels.values())
        print(f"\nLeNet's kernels through fit, under the profiler ({traced} steps): {total:.0f} us per step in all")
        for kind, micros in sorted(kernels.items(), key=lambda item: -item[1]):
            print(f"  {kind:40s} {micros:7.0f} us {micros / total:6.1%}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(saved, f, indent=2)
            f.write("\n")
    return saved


if __name__ == "__main__":
    main()
