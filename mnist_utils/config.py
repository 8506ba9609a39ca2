"""Settings that differ per machine, read in one place.

| environment variable | meaning | default |
| --- | --- | --- |
| ``MNIST_DATA_DIR``   | folder with local IDX copies of the datasets | none: Keras cache, then download |
| ``MNIST_SMOKE``      | ``1`` cuts data and epochs so everything runs in seconds (tests, CI) | off |
| ``MNIST_OUTPUT_DIR`` | where ``checkpoints/``, ``images/`` and ``results/`` live | the project root |

In smoke mode every output goes under ``<output dir>/.smoke/`` so that a quick
run never writes over the checkpoints, figures or results of a full run.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "MNIST_DATA_DIR"
SMOKE_ENV = "MNIST_SMOKE"
OUTPUT_DIR_ENV = "MNIST_OUTPUT_DIR"

# What smoke mode keeps: enough to walk every code path, small enough for seconds.
SMOKE_MAX_EXAMPLES = 2048
SMOKE_MAX_EPOCHS = 2

_PACKAGE_DIR = Path(__file__).resolve().parent


def is_smoke() -> bool:
    """True when ``MNIST_SMOKE`` asks for the quick, cut-down mode."""
    return os.environ.get(SMOKE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def data_dir_from_env() -> Path | None:
    """The local data folder named by ``MNIST_DATA_DIR``, or None."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def project_dir() -> Path:
    """Root under which the real checkpoints, figures and results are kept."""
    value = os.environ.get(OUTPUT_DIR_ENV, "").strip()
    if value:
        return Path(value).expanduser().resolve()
    # An editable install (`pip install -e .`) sits inside the project checkout.
    if (_PACKAGE_DIR.parent / "pyproject.toml").exists():
        return _PACKAGE_DIR.parent
    return Path.cwd()


def output_dir() -> Path:
    """Root that this run writes to: the project root, or its ``.smoke/`` in smoke mode."""
    root = project_dir()
    return root / ".smoke" if is_smoke() else root


def smoke_cut(count: int) -> int:
    """How many of ``count`` examples a pipeline keeps in the current mode."""
    return min(count, SMOKE_MAX_EXAMPLES) if is_smoke() else count


def smoke_epochs(epochs: int) -> int:
    """How many of ``epochs`` a training run does in the current mode."""
    return min(epochs, SMOKE_MAX_EPOCHS) if is_smoke() else epochs
