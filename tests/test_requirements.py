"""The GPU install line keeps the CPU pins and resolves. Resolving asks the package index (about half a
minute), so it runs when requirements-gpu.txt changed since its last resolution, whose outcome is kept
in tests/gpu_resolution.json; otherwise the kept outcome is checked against the pins, offline."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
GPU_REQUIREMENTS = PROJECT / "requirements-gpu.txt"
RECORD = PROJECT / "tests" / "gpu_resolution.json"


def pins(name: str) -> dict[str, str]:
    lines = (PROJECT / name).read_text().splitlines()
    found = [re.match(r"([\w.\-\[\]]+)==([\w.]+)", line) for line in lines if line and not line.startswith("#")]
    return {match.group(1): match.group(2) for match in found if match}


def requirements_hash() -> str:
    return hashlib.sha256(GPU_REQUIREMENTS.read_bytes()).hexdigest()


def resolve(report: Path) -> dict[str, str]:
    """What pip would install for requirements-gpu.txt (a dry run against the package index)."""
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                           "--report", str(report), "-r", str(GPU_REQUIREMENTS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return {item["metadata"]["name"].lower(): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]}


def test_the_gpu_requirements_are_the_cpu_pins_with_tensorflows_cuda_build():
    cpu, gpu = pins("requirements.txt"), pins("requirements-gpu.txt")
    assert gpu.pop("tensorflow[and-cuda]") == cpu.pop("tensorflow-cpu") == cpu.pop("tensorflow")
    assert gpu == cpu


def test_the_gpu_requirements_resolve(tmp_path):
    record = json.loads(RECORD.read_text()) if RECORD.is_file() else {}
    if record.get("requirements_sha256") == requirements_hash():
        chosen = record["resolved"]  # resolved when the file last changed
    else:
        chosen = resolve(tmp_path / "report.json")
        RECORD.write_text(json.dumps({"requirements_sha256": requirements_hash(), "resolved": chosen},
                                     indent=1, sort_keys=True) + "\n")
    assert chosen["tensorflow"] == pins("requirements-gpu.txt")["tensorflow[and-cuda]"]
    assert chosen["keras"] == pins("requirements.txt")["keras"] and "nvidia-cudnn-cu12" in chosen
