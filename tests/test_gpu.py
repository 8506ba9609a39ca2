"""The GPU memory cap: a clear no-op on a CPU-only machine, clear errors where it cannot apply."""

from __future__ import annotations

import pytest
import tensorflow as tf

from mnist_utils import GpuConfigError, limit_gpu_memory


class FakeGpu:
    name = "/physical_device:GPU:0"
    device_type = "GPU"


def test_cpu_only_machine_says_so(monkeypatch, capsys):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    message = limit_gpu_memory(2048)
    assert "No GPU found" in message and "No GPU found" in capsys.readouterr().out


def test_cap_is_applied_to_the_chosen_gpu(monkeypatch):
    calls = []
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [FakeGpu()])
    monkeypatch.setattr(tf.config, "set_logical_device_configuration",
                        lambda gpu, configs: calls.append((gpu, configs)))
    assert "capped at 1024 MB" in limit_gpu_memory(1024)
    (gpu, configs), = calls
    assert gpu.name == FakeGpu.name and configs[0].memory_limit == 1024


def test_memory_growth_mode(monkeypatch):
    grown = []
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [FakeGpu(), FakeGpu()])
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", lambda gpu, on: grown.append(on))
    assert "Memory growth on for 2 GPU(s)" in limit_gpu_memory(None)
    assert grown == [True, True]


def test_already_initialized_gpu_gives_a_clear_error(monkeypatch):
    def too_late(gpu, configs):
        raise RuntimeError("Virtual devices cannot be modified after being initialized")

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [FakeGpu()])
    monkeypatch.setattr(tf.config, "set_logical_device_configuration", too_late)
    with pytest.raises(GpuConfigError, match="already initialized.*Restart the kernel"):
        limit_gpu_memory(2048)


@pytest.mark.parametrize("limit", [0, -5])
def test_bad_limit(limit):
    with pytest.raises(ValueError, match="positive number of MB"):
        limit_gpu_memory(limit)


def test_missing_gpu_index(monkeypatch):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [FakeGpu()])
    with pytest.raises(GpuConfigError, match="gpu_index=3, but only 1 GPU"):
        limit_gpu_memory(2048, gpu_index=3)


def test_cpu_threads_are_set_or_refused_clearly(monkeypatch):
    from mnist_utils import use_cpu_threads

    calls = []
    monkeypatch.setattr(tf.config.threading, "set_intra_op_parallelism_threads", lambda n: calls.append(("intra", n)))
    monkeypatch.setattr(tf.config.threading, "set_inter_op_parallelism_threads", lambda n: calls.append(("inter", n)))
    assert "1 per operation, 2 operations at a time" in use_cpu_threads(1, 2)
    assert calls == [("intra", 1), ("inter", 2)]

    def too_late(n):
        raise RuntimeError("Intra op parallelism cannot be modified after initialization.")

    monkeypatch.setattr(tf.config.threading, "set_intra_op_parallelism_threads", too_late)
    with pytest.raises(RuntimeError, match="already started.*Restart the kernel"):
        use_cpu_threads()
    with pytest.raises(ValueError, match="Thread counts"):
        use_cpu_threads(-1, 2)
