"""The GPU install line keeps the CPU pins and resolves (it asks the package index, as `make` does)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def pins(name: str) -> dict[str, str]:
    lines = (PROJECT / name).read_text().splitlines()
    found = [re.match(r"([\w.\-\[\]]+)==([\w.]+)", line) for line in lines if line and not line.startswith("#")]
    return {match.group(1): match.group(2) for match in found if match}


def test_the_gpu_requirements_are_the_cpu_pins_with_tensorflows_cuda_build():
    cpu, gpu = pins("requirements.txt"), pins("requirements-gpu.txt")
    assert gpu.pop("tensorflow[and-cuda]") == cpu.pop("tensorflow-cpu") == cpu.pop("tensorflow")
    assert gpu == cpu


def test_the_gpu_requirements_resolve(tmp_path):
    report = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                           "--report", str(report), "-r", str(PROJECT / "requirements-gpu.txt")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    chosen = {item["metadata"]["name"].lower(): item["metadata"]["version"]
              for item in json.loads(report.read_text())["install"]}
    assert chosen["tensorflow"] == pins("requirements-gpu.txt")["tensorflow[and-cuda]"]
    assert chosen["keras"] == pins("requirements.txt")["keras"] and "nvidia-cudnn-cu12" in chosen
