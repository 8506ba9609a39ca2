"""LeNet at batch 32 under each speed setting TensorFlow offers on a CPU, one process each.

    python benchmarks/lenet_options.py                       # about 6 minutes on 2 cores; writes lenet_options.json
    python benchmarks/lenet_options.py --steps 8 --epochs 2 --output /tmp/options.json   # the tests

The post's LeNet at batch 32 is bound by its convolution kernels (``profile_step.py``), so the
question is whether any setting makes those kernels faster. Each setting trains the series'
LeNet (``mu.get_lenet``, the series' pipeline and thread settings) on random images of MNIST's
shape and reports the median seconds per epoch after the first (which includes building the
graph). Settings:
  series        the series' path as the notebooks run it (oneDNN kernels, no XLA)
  xla           the same model compiled with XLA (``jit_compile=True``)
  bfloat16      Keras' ``mixed_bfloat16`` policy (bfloat16 arithmetic, float32 weights)
  no_onednn     TensorFlow's own kernels instead of oneDNN (``TF_ENABLE_ONEDNN_OPTS=0``)
  auto_threads  TensorFlow's default thread pools instead of ``use_cpu_threads(1, 2)``
  split_batch   the series' path with each batch run as two slices side by side (``mu.split_batch``)
  split_bfloat16  both: ``mu.split_batch`` under the ``mixed_bfloat16`` policy
No data files are needed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SETTINGS = ("series", "xla", "bfloat16", "no_onednn", "auto_threads", "split_batch", "split_bfloat16")
BATCH_SIZE = 32


def measure(setting: str, steps: int, epochs: int) -> list[float]:
    """Seconds of each training epoch of LeNet under ``setting`` (run in a fresh process)."""
    import keras
    import numpy as np

    import mnist_utils as mu

    if setting != "auto_threads":
        mu.use_cpu_threads(intra_op=1, inter_op=2)
    if setting in ("bfloat16", "split_bfloat16"):
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (steps * BATCH_SIZE, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, steps * BATCH_SIZE)
    model = mu.get_lenet()
    if setting == "xla":
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"],
                      steps_per_execution=model.steps_per_execution, jit_compile=True)
    if setting in ("split_batch", "split_bfloat16"):
        model = mu.split_batch(model, parts=2)
    dataset = mu.make_dataset(images, labels, batch_size=BATCH_SIZE, shuffle=True, seed=0)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0, shuffle=False)
        times.append(time.perf_counter() - start)
    return times


def run_setting(setting: str, steps: int, epochs: int) -> dict:
    """Measure one setting in its own Python process (environment variables act at import)."""
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0" if setting == "no_onednn" else "1")
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", setting,
               "--steps", str(steps), "--epochs", str(epochs)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"setting {setting} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    times = json.loads(lines[-1][len("RESULT "):])
    return {"epoch_times": times, "seconds_per_epoch": statistics.median(times[1:] if len(times) > 1 else times)}


def main(argv: list[str] | None = None) -> dict:
    """The command line: time every setting, each in its own process, and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1594, help="training steps per epoch (MNIST's: 1,594)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per setting (the first is left out)")
    parser.add_argument("--output", default=str(Path(__file__).resolve().parent / "lenet_options.json"),
                        help="where to write the figures")
    parser.add_argument("--jobs", type=int, default=1,
                        help="settings measured at once (1 for timings; more only to check that every setting runs)")
    parser.add_argument("--worker", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.epochs < 1:
        parser.error("--steps and --epochs must be at least 1")
    if args.worker:
        print("RESULT " + json.dumps(measure(args.worker, args.steps, args.epochs)), flush=True)
        return {}
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:  # each setting runs in its own process anyway
        results = dict(zip(SETTINGS, pool.map(lambda setting: run_setting(setting, args.steps, args.epochs), SETTINGS)))
    base = results["series"]["seconds_per_epoch"]
    print(f"LeNet at batch {BATCH_SIZE}, {args.steps} steps per epoch: seconds per epoch (median of {args.epochs - 1 or 1})")
    for setting, result in results.items():
        result["relative_to_series"] = result["seconds_per_epoch"] / base
        print(f"{setting:<15} {result['seconds_per_epoch']:6.2f} s   {result['relative_to_series']:.2f}x the series' time")
    Path(args.output).write_text(json.dumps({"steps": args.steps, "epochs": args.epochs, "settings": results}, indent=2))
    return results


if __name__ == "__main__":
    main()
