"""Training and prediction speed on this machine, side by side, in one run.

    python benchmarks/speed.py                 # the full benchmark (about 15 minutes on 2 cores)
    python benchmarks/speed.py --quick --output /tmp/speed.json   # seconds: what the tests run

(a) The post's pipeline against the series' for the MLP and LeNet at the post's recipe (batch 32,
    the post's callbacks): seconds per epoch, their ratio, test accuracy after the same number of
    epochs (each alternation of the two sides trains both with its own seed). The post's side is
    the post's code as written, its shuffle-then-take/skip split included. LeNet has a third
    side: the series' path with ``mu.split_batch`` (each batch as two slices, one per core).
(b) Seconds of training until validation accuracy first reaches 99.0%: the series' fast recipe
    against the Keras example convnet recipe (batch 128, Adam, up to 15 epochs).
(c) Prediction throughput on the 10,000 test images: plain ``model.predict`` against
    ``mnist_utils.predict_probs``.
(d) Peak memory (resident set size) of each measurement.

Each measurement runs in its own Python process (so peak memory is its own), and the two sides
of a comparison alternate, ``--repeats`` times; the table reports medians. Figures go to
``benchmarks/results.json`` (or ``--output``) and the table is printed.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = 0.99


# --- workers: each runs in a fresh process and prints one JSON line --------------------------

def _load(cut: int | None):
    import mnist_utils as mu

    (x_train, y_train), (x_test, y_test) = mu.load_data("mnist")
    if cut:
        x_train, y_train, x_test, y_test = x_train[:cut], y_train[:cut], x_test[: cut // 4], y_test[: cut // 4]
    return (x_train, y_train), (x_test, y_test)


def _epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Wall time of each epoch and the training time elapsed at each epoch's end."""

        def on_train_begin(self, logs=None):
            self.times, self.val_accuracy, self.elapsed = [], [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)
            self.elapsed.append(sum(self.times))
            self.val_accuracy.append(float((logs or {}).get("val_accuracy", float("nan"))))

    return EpochTimer()


class StopAtTarget:
    """Keras callback factory: stop as soon as validation accuracy reaches the target."""

    @staticmethod
    def make(target: float):
        import keras

        class _Stop(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if (logs or {}).get("val_accuracy", 0.0) >= target:
                    self.model.stop_training = True

        return _Stop()


def post_recipe_post_pipeline(model_name: str, epochs: int, cut: int | None, seed: int = 0) -> dict:
    """The 2020 post's code as written: float64 arrays sliced into a ``tf.data`` pipeline,
    shuffled, cut into training (``take``: 85%) and validation (``skip``), batches of 32,
    evaluation batches of 320, Keras' default compile (one step per call), and the post's
    ``train``: ModelCheckpoint, ReduceLROnPlateau, EarlyStopping and the progress bar
    (``verbose=1``; written to a buffer here instead of a notebook).

    The split reshuffles on every pass (notebook 01), so each epoch also trains on images that
    served as validation before: this side trains on more distinct images than the series' side.
    Its test accuracy, on the untouched test set, is still a fair bar for the series to meet.
    """
    import contextlib
    import io

    import keras
    import numpy as np
    import tensorflow as tf

    import mnist_utils as mu

    (x_train, y_train), (x_test, y_test) = _load(cut)
    train_images = np.expand_dims(x_train, -1) / 255.0
    test_images = np.expand_dims(x_test, -1) / 255.0
    keras.utils.set_random_seed(seed)
    train_val = tf.data.Dataset.from_tensor_slices((train_images, y_train)).shuffle(train_images.shape[0])
    train_size = int(0.85 * train_images.shape[0])
    train_ds = train_val.take(train_size).batch(32, drop_remainder=True)
    val_ds = train_val.skip(train_size).batch(320)
    test_ds = tf.data.Dataset.from_tensor_slices((test_images, y_test)).batch(320)
    model = _post_model(model_name)
    checkpoint = mu.runs.run_folder(f"post_{model_name}", "benchmark") / "best.weights.h5"  # under the benchmark's scratch folder
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    timer = _epoch_timer()
    callbacks = [
        keras.callbacks.ModelCheckpoint(filepath=str(checkpoint), monitor="val_accuracy",
                                        save_weights_only=True, save_best_only=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, min_lr=0.0001, patience=4),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=6),
        timer,
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=1, callbacks=callbacks)
    _, test_accuracy = model.evaluate(test_ds, verbose=0)
    return {"epoch_times": timer.times, "test_accuracy": float(test_accuracy)}


def _post_model(model_name: str):
    """The post's models as the post compiled them (Keras defaults: one step per call)."""
    import keras

    import mnist_utils as mu

    model = mu.get_mlp() if model_name == "mlp" else mu.get_lenet()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def post_recipe_series_pipeline(model_name: str, epochs: int, cut: int | None, seed: int = 0,
                                split: bool = False) -> dict:
    """The series' code path: mnist_utils pipelines, builders and train() (the post's callbacks);
    with ``split``, each batch runs as two slices side by side (``mu.split_batch``)."""
    import keras

    import mnist_utils as mu

    mu.use_cpu_threads(intra_op=1, inter_op=2)  # as notebooks 02 and 03 do
    (x_train, y_train), (x_test, y_test) = _load(cut)
    keras.utils.set_random_seed(seed)
    train_part, val_part = mu.split_train_val(x_train, y_train, seed=0)
    datasets = mu.make_datasets(train_part, val_part, (x_test, y_test), batch_size=32, seed=seed)
    model = mu.get_mlp() if model_name == "mlp" else mu.get_lenet()
    if split:
        model = mu.split_batch(model, parts=2)
    timer = _epoch_timer()
    mu.train(model, datasets["train"], datasets["val"], epochs=epochs, dataset="benchmark", seed=seed,
             callbacks=[timer], verbose=False)
    _, test_accuracy = model.evaluate(datasets["test"], verbose=0)
    return {"epoch_times": timer.times, "test_accuracy": float(test_accuracy)}


def time_to_target(recipe: str, cut: int | None) -> dict:
    """Train until validation accuracy first reaches 99.0%; report the training seconds it took."""
    import keras
    from keras import layers

    import mnist_utils as mu

    (x_train, y_train), (x_test, y_test) = _load(cut)
    keras.utils.set_random_seed(0)
    train_part, val_part = mu.split_train_val(x_train, y_train, seed=0)
    timer = _epoch_timer()
    if recipe == "fast":
        batch_size, epochs = mu.FAST_BATCH_SIZE, mu.FAST_EPOCHS
        datasets = mu.make_datasets(train_part, val_part, (x_test, y_test), batch_size=batch_size, seed=0)
        model = mu.get_fast_cnn(steps_per_epoch=int(datasets["train"].cardinality()), epochs=epochs)
        stop = []  # the fast recipe runs its whole (short) schedule
    else:  # the "Simple MNIST convnet" Keras example, on the same split
        batch_size, epochs = 128, 15
        datasets = mu.make_datasets(train_part, val_part, (x_test, y_test), batch_size=batch_size, seed=0)
        model = keras.Sequential([
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ], name="keras_example")
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        stop = [StopAtTarget.make(TARGET)]
    model.fit(datasets["train"], validation_data=datasets["val"], epochs=mu.config.smoke_epochs(epochs),
              callbacks=[timer, *stop], verbose=0, shuffle=False)
    reached = [t for t, acc in zip(timer.elapsed, timer.val_accuracy) if acc >= TARGET]
    _, test_accuracy = model.evaluate(datasets["test"], verbose=0)
    return {"seconds_to_target": reached[0] if reached else None, "epochs_run": len(timer.times),
            "train_seconds": timer.elapsed[-1], "best_val_accuracy": max(timer.val_accuracy),
            "test_accuracy": float(test_accuracy)}


PREDICTION_BATCH = 2048
PREDICTION_WAYS = ("keras_default", "keras_same_batches", "series")


def prediction(repeats: int, cut: int | None) -> dict:
    """Images per second for predicting the test set with LeNet, three ways side by side in one
    process, alternating: ``model.predict`` at Keras' default batch of 32, ``model.predict`` at the
    batch ``predict_probs`` uses, and ``predict_probs``."""
    import mnist_utils as mu

    _, (x_test, _) = _load(cut)
    model = _post_model("lenet")
    images = mu.to_float(x_test)
    ways = {"keras_default": lambda: model.predict(images, verbose=0),
            "keras_same_batches": lambda: model.predict(images, batch_size=PREDICTION_BATCH, verbose=0),
            "series": lambda: mu.predict_probs(model, x_test, batch_size=PREDICTION_BATCH)}
    for predict in ways.values():
        predict()  # the first call builds each prediction function
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(max(3, repeats)):
        for way, predict in ways.items():
            start = time.perf_counter()
            predict()
            seconds[way].append(time.perf_counter() - start)
    return {way: {"images_per_second": len(x_test) / statistics.median(times), "seconds": times}
            for way, times in seconds.items()}


WORKERS = {
    "post_pipeline": post_recipe_post_pipeline,
    "series_pipeline": post_recipe_series_pipeline,
    "series_split_pipeline": lambda *args, **kwargs: post_recipe_series_pipeline(*args, **kwargs, split=True),
}


def worker(args: argparse.Namespace) -> None:
    """One measurement, in this process: runs the task ``args.worker`` names and prints its RESULT line."""
    import os

    os.environ.setdefault("MNIST_SERIES_DIR", str(Path(args.scratch)))  # benchmark checkpoints stay apart
    if os.environ.get("MNIST_SMOKE", "").strip().lower() not in {"1", "true", "yes", "on"}:
        os.environ["MNIST_RETRAIN"] = "1"  # a benchmark times training: never load a saved run instead
    task, *params = args.worker.split(":")
    start = time.perf_counter()
    if task in WORKERS:
        result = WORKERS[task](params[0], args.epochs, args.cut, seed=int(params[1]) if len(params) > 1 else 0)
    elif task == "time_to_target":
        result = time_to_target(params[0], args.cut)
    elif task == "prediction":
        result = prediction(args.repeats, args.cut)
    else:
        raise SystemExit(f"unknown worker task {args.worker!r}")
    result["wall_seconds"] = time.perf_counter() - start
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


# --- the driver ---------------------------------------------------------------------------------

def run_worker(task: str, args: argparse.Namespace) -> dict:
    """Run one measurement in a fresh process (its own thread pools and peak memory) and return its figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", task, "--epochs", str(args.epochs),
               "--scratch", args.scratch] + (["--cut", str(args.cut)] if args.cut else [])
    print(f"  {task:<30}", end=" ", flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark worker {task} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    print(f"done in {result['wall_seconds']:.0f} s", flush=True)
    return result


def median_epoch(result: dict) -> float:
    """Median epoch time, leaving out the first epoch (it includes building the graph) when possible."""
    times = result["epoch_times"]
    return statistics.median(times[1:] if len(times) > 1 else times)


def main(argv: list[str] | None = None) -> dict:
    """The command line: the whole benchmark (or, with --worker, one of its measurements)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny setting for the tests: seconds, not minutes")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run in part (a)")
    parser.add_argument("--repeats", type=int, default=5, help="alternations of the two sides in part (a)")
    parser.add_argument("--cut", type=int, default=None, help="use only this many training images")
    parser.add_argument("--output", default=str(HERE / "results.json"))
    parser.add_argument("--part", choices=["prediction"], help="measure only this part again, in --output")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats, args.cut = 1, 1, args.cut or 2048
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        args.scratch = args.scratch or scratch
        if args.worker:
            worker(args)
            return {}
        return prediction_only(args) if args.part == "prediction" else drive(args)


def drive(args: argparse.Namespace) -> dict:
    """Every measurement, each in its own process, the two sides alternating; prints the table and writes the file."""
    import os

    if args.quick:
        os.environ["MNIST_SMOKE"] = "1"  # workers inherit it: at most 2 epochs in part (b)
    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
                     "settings": {"epochs": args.epochs, "repeats": args.repeats, "cut": args.cut}}
    print("(a) post recipe: post pipeline vs series pipeline", flush=True)
    for model_name in ("mlp", "lenet"):
        # LeNet also runs with each batch split across the two cores (mu.split_batch, opt-in).
        sides = ("post", "series") + (("series_split",) if model_name == "lenet" else ())
        runs = {side: [] for side in sides}
        for seed in range(args.repeats):  # each alternation trains every side with its own seed
            for side in sides:
                runs[side].append(run_worker(f"{side}_pipeline:{model_name}:{seed}", args))
        summary = {side: {"seconds_per_epoch": statistics.median(median_epoch(r) for r in rs),
                          "test_accuracy": statistics.median(r["test_accuracy"] for r in rs),
                          "test_accuracies": [r["test_accuracy"] for r in rs],
                          "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                          "epoch_times": [r["epoch_times"] for r in rs]} for side, rs in runs.items()}
        summary["speedup"] = summary["post"]["seconds_per_epoch"] / summary["series"]["seconds_per_epoch"]
        if "series_split" in summary:
            summary["split_speedup"] = (summary["post"]["seconds_per_epoch"]
                                        / summary["series_split"]["seconds_per_epoch"])
        results[f"post_recipe_{model_name}"] = summary
    print("(b) seconds of training to 99.0% validation accuracy", flush=True)
    results["time_to_99"] = {recipe: run_worker(f"time_to_target:{recipe}", args)
                             for recipe in ("keras_example", "fast")}
    results["prediction"] = measure_prediction(args)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    print()
    print(format_table(results))
    return results


def measure_prediction(args: argparse.Namespace) -> dict:
    """Part (c): the three ways of predicting, side by side in one process; the ratio is the series'
    against ``model.predict`` at the same batch size (like with like)."""
    print("(c) prediction throughput on the test set", flush=True)
    measured = run_worker("prediction", args)
    ways = {way: measured[way] for way in PREDICTION_WAYS}
    return ways | {"batch_size": PREDICTION_BATCH, "peak_rss_mb": measured["peak_rss_mb"],
                   "speedup": ways["series"]["images_per_second"] / ways["keras_same_batches"]["images_per_second"]}


def prediction_only(args: argparse.Namespace) -> dict:
    """``--part prediction``: measure part (c) again and replace it in the results file."""
    output = Path(args.output)
    results = json.loads(output.read_text())
    results["prediction"] = measure_prediction(args)
    output.write_text(json.dumps(results, indent=2))
    print()
    print(format_table(results))
    return results


def format_table(results: dict) -> str:
    """The benchmark's figures as a Markdown table (also used in the README)."""
    rows = ["| measurement | post / baseline | series | ratio |", "| --- | --- | --- | --- |"]
    for model_name in ("mlp", "lenet"):
        r = results[f"post_recipe_{model_name}"]
        rows.append(f"| {model_name.upper() if model_name == 'mlp' else 'LeNet'}, post recipe: s/epoch (median) "
                    f"| {r['post']['seconds_per_epoch']:.2f} | {r['series']['seconds_per_epoch']:.2f} "
                    f"| {r['speedup']:.1f}x faster |")
        rows.append(f"| ... test accuracy after {results['settings']['epochs']} epochs "
                    f"(median of {results['settings'].get('repeats', 1)} seeds) "
                    f"| {r['post']['test_accuracy']:.2%} | {r['series']['test_accuracy']:.2%} | |")
        rows.append(f"| ... peak memory (MB) | {r['post']['peak_rss_mb']:.0f} | {r['series']['peak_rss_mb']:.0f} | |")
        if "series_split" in r:
            split = r["series_split"]
            rows.append(f"| LeNet, series + `split_batch` (each batch as 2 slices, one per core): s/epoch "
                        f"| {r['post']['seconds_per_epoch']:.2f} | {split['seconds_per_epoch']:.2f} "
                        f"| {r['split_speedup']:.1f}x faster |")
            rows.append(f"| ... test accuracy | {r['post']['test_accuracy']:.2%} | {split['test_accuracy']:.2%} | |")
    t = results["time_to_99"]

    def seconds(run):
        return "not reached" if run["seconds_to_target"] is None else f"{run['seconds_to_target']:.0f} s"

    rows.append(f"| training time to 99.0% validation accuracy (Keras example vs fast recipe) "
                f"| {seconds(t['keras_example'])} | {seconds(t['fast'])} | |")
    rows.append(f"| ... test accuracy at the end of that run | {t['keras_example']['test_accuracy']:.2%} "
                f"| {t['fast']['test_accuracy']:.2%} (after {t['fast']['train_seconds']:.0f} s) | |")
    rows.append(f"| ... peak memory (MB) | {t['keras_example']['peak_rss_mb']:.0f} | {t['fast']['peak_rss_mb']:.0f} | |")
    p = results["prediction"]
    ratio = p["speedup"]
    words = f"{ratio:.2f}x faster" if ratio >= 1.05 else f"{1 / ratio:.2f}x slower" if ratio <= 1 / 1.05 else \
        f"the same ({ratio:.2f}x)"
    rows.append(f"| prediction, test set, same batches of {p['batch_size']:,} (images/s; `model.predict` vs "
                f"`predict_probs`, one process) | {p['keras_same_batches']['images_per_second']:,.0f} "
                f"| {p['series']['images_per_second']:,.0f} | {words} |")
    rows.append(f"| ... `model.predict` at Keras' default batch of 32 | {p['keras_default']['images_per_second']:,.0f} "
                f"| | |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
