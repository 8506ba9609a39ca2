"""TensorFlow's C++ messages kept out of the notebooks."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Mute the OS-level stderr, where TensorFlow's C++ code writes its banners and log lines, which
    its Python logging settings cannot hide and Jupyter would copy into a notebook. Python errors
    still raise as usual."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
