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
No data files are needed.
"""

from __future__ import annotations

import argparse
import json
import time

BATCH_SIZE = 32


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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=400, help="training steps per timing")
    parser.add_argument("--output", default=None, help="also write the figures to this JSON file")
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
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"batch_size": BATCH_SIZE, "steps": args.steps, "models": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
