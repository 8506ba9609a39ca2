"""The speed benchmark's smallest setting runs end to end, so the command never rots.

No timing is asserted here (the machine is shared and noisy); the figures belong in the README.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"


def load_script(name: str):
    """A script of benchmarks/ as a module (they are not a package)."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARK.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_benchmark():
    return load_script("speed")


def test_quick_benchmark_measures_every_part(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_dir))
    output = tmp_path / "speed.json"
    results = load_benchmark().main(["--quick", "--output", str(output)])
    saved = json.loads(output.read_text())
    assert saved["settings"] == results["settings"] == {"epochs": 1, "repeats": 1, "cut": 2048}
    for model_name in ("mlp", "lenet"):
        part = saved[f"post_recipe_{model_name}"]
        for side in ("post", "series"):
            assert part[side]["seconds_per_epoch"] > 0 and 0 <= part[side]["test_accuracy"] <= 1
            assert len(part[side]["epoch_times"][0]) == 1 and part[side]["peak_rss_mb"] > 0
        assert part["speedup"] > 0
    split = saved["post_recipe_lenet"]["series_split"]  # LeNet only: each batch as two slices
    assert split["seconds_per_epoch"] > 0 and 0 <= split["test_accuracy"] <= 1
    assert saved["post_recipe_lenet"]["split_speedup"] > 0 and "series_split" not in saved["post_recipe_mlp"]
    for recipe in ("keras_example", "fast"):
        assert saved["time_to_99"][recipe]["epochs_run"] >= 1
    prediction = saved["prediction"]
    speeds = {way: prediction[way]["images_per_second"] for way in ("keras_default", "keras_same_batches", "series")}
    assert all(speed > 0 for speed in speeds.values()) and prediction["batch_size"] == 2048
    # The ratio is the series' against model.predict at the same batch size: two different measurements.
    assert prediction["speedup"] == speeds["series"] / speeds["keras_same_batches"]
    assert speeds["series"] != speeds["keras_same_batches"]
    assert len(prediction["series"]["seconds"]) >= 3  # timed several times, alternating with the other ways
    for model_name in ("mlp", "lenet"):  # each speed-up is the post's time over the series', both measured
        part = saved[f"post_recipe_{model_name}"]
        assert part["speedup"] == part["post"]["seconds_per_epoch"] / part["series"]["seconds_per_epoch"]
        assert [len(times) for times in part["post"]["epoch_times"]] == [1]


def test_table_lists_each_measurement():
    module = load_benchmark()
    side = {"seconds_per_epoch": 2.0, "test_accuracy": 0.98, "peak_rss_mb": 900.0}
    part = {"post": side, "series": dict(side, seconds_per_epoch=0.5), "speedup": 4.0}
    run = {"seconds_to_target": None, "test_accuracy": 0.985, "train_seconds": 40.0, "peak_rss_mb": 800.0}
    lenet = dict(part, series_split=dict(side, seconds_per_epoch=1.0), split_speedup=2.0)
    results = {"settings": {"epochs": 5}, "post_recipe_mlp": part, "post_recipe_lenet": lenet,
               "time_to_99": {"keras_example": dict(run, seconds_to_target=70.0), "fast": run},
               "prediction": {"keras_default": {"images_per_second": 500.0},
                              "keras_same_batches": {"images_per_second": 1000.0},
                              "series": {"images_per_second": 1250.0}, "batch_size": 2048, "speedup": 1.25}}
    table = module.format_table(results)
    assert "| MLP, post recipe: s/epoch (median) | 2.00 | 0.50 | 4.0x faster |" in table
    assert "| 70 s | not reached |" in table
    assert "same batches of 2,048 (images/s; `model.predict` vs `predict_probs`, one process) | 1,000 | 1,250 | " \
           "1.25x faster |" in table and "Keras' default batch of 32 | 500 |" in table
    results["prediction"]["speedup"] = 1.01
    assert "| the same (1.01x) |" in module.format_table(results)
    assert "(each batch as 2 slices, one per core): s/epoch | 2.00 | 1.00 | 2.0x faster |" in table
    assert table.count("split_batch") == 1  # the MLP has no split side


def test_step_profile_times_every_way(tmp_path):
    # In its own process, as a reader runs it: it sets TensorFlow's thread pools, which only works
    # before TensorFlow starts, and other tests of this session may have started it.
    module = load_script("profile_step")
    output = tmp_path / "profile.json"
    done = subprocess.run([sys.executable, str(BENCHMARK.parent / "profile_step.py"), "--steps", "4",
                           "--output", str(output)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    saved = json.loads(output.read_text())
    assert saved["steps"] == 4 and set(saved["models"]) == {"lenet", "mlp"}
    for name, times in saved["models"].items():
        assert set(times) == {"fit_ms", "step_ms", "loop_ms"} and all(value > 0 for value in times.values())
        assert f"{name:8s} {times['fit_ms']:8.2f}" in done.stdout  # the printed table shows the same figures
    # LeNet's kernels by kind, read from the profiler's trace: every kind is reported, and the three
    # convolution kinds and Adam's updates were found in it (all zero if the trace was misread).
    kernels = saved["lenet_kernels_us"]
    assert set(kernels) == {kind for kind, _ in module.KERNEL_KINDS} | {module.OPTIMIZER_KIND, module.OTHER_KIND}
    assert all(kernels[kind] > 0 for kind in kernels if kind.startswith("convolution") or kind == module.OPTIMIZER_KIND)
    assert f"{module.OPTIMIZER_KIND:40s} {kernels[module.OPTIMIZER_KIND]:7.0f} us" in done.stdout


def test_kernel_kinds_follow_the_op_type_and_the_optimizer_scope():
    module = load_script("profile_step")
    assert module.kernel_kind("gradient_tape/lenet/conv2d_1/convolution/Conv2DBackpropInput",
                              "_MklNativeConv2DBackpropInput") == "convolution, backward to its input"
    assert module.kernel_kind("lenet/conv2d/Relu", "_MklNativeFusedConv2D") == "convolution, forward"
    assert module.kernel_kind("gradient_tape/lenet/max_pooling2d/MaxPool2d/MaxPoolGrad",
                              "_MklNativeMaxPoolGrad") == "max pooling, backward"
    assert module.kernel_kind("while/StatefulPartitionedCall/adam_3/Sqrt_9", "Sqrt", "adam_3") == module.OPTIMIZER_KIND
    assert module.kernel_kind("while/StatefulPartitionedCall/adam_3/Sqrt_9", "Sqrt", "adam") == module.OTHER_KIND
    assert module.kernel_kind("lenet/dense/Relu", "_MklNativeFusedMatMul") == "dense layers (matrix products)"


def test_lenet_options_time_every_setting(tmp_path):
    module = load_script("lenet_options")
    output = tmp_path / "options.json"
    results = module.main(["--steps", "4", "--epochs", "1", "--jobs", "2", "--output", str(output)])
    saved = json.loads(output.read_text())
    assert set(saved["settings"]) == set(module.SETTINGS) == set(results)
    for result in saved["settings"].values():
        assert len(result["epoch_times"]) == 1 and result["seconds_per_epoch"] > 0
    base = saved["settings"]["series"]["seconds_per_epoch"]
    for result in saved["settings"].values():  # each setting's time over the series' time, both measured
        assert result["relative_to_series"] == result["seconds_per_epoch"] / base
