"""The mode and the folders of a session, decided once by ``setup`` (a notebook's Setup cell) and shown.

| mode | what ``train`` does | where this session writes |
| --- | --- | --- |
| ``reader`` (default) | loads the saved run of the recipe asked for; trains a recipe that has none | ``my_runs/`` (the committed files are only read) |
| ``retrain`` | trains every run again and writes it over the committed one (``retrain_missing``: only the recipes with no committed run) | the series' folder |
| ``smoke`` | trains everything on cut data and epochs, in seconds (tests, CI) | a scratch folder |

``setup()`` reads its defaults from these environment variables, once (``run_series.py`` and the
Makefile pass a mode to the notebooks' kernels through them):

| variable | meaning |
| --- | --- |
| ``MNIST_RETRAIN`` | ``1``: the retrain mode; ``missing``: retrain only what is not committed yet |
| ``MNIST_SMOKE`` | ``1``: the smoke mode |
| ``MNIST_DATA_DIR`` | a folder with local copies of the datasets (else Keras' cache and download) |
| ``MNIST_SERIES_DIR`` | the series' folder (else found from the working directory or the installed package) |
| ``MNIST_MY_RUNS_DIR`` | where the reader's mode writes (default ``my_runs/`` of the series' folder) |
| ``MNIST_SMOKE_DIR`` | where the smoke mode writes (default ``.smoke/`` of the series' folder) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

RETRAIN_ENV, SMOKE_ENV, DATA_DIR_ENV = "MNIST_RETRAIN", "MNIST_SMOKE", "MNIST_DATA_DIR"
SERIES_DIR_ENV, MY_RUNS_DIR_ENV, SMOKE_DIR_ENV = "MNIST_SERIES_DIR", "MNIST_MY_RUNS_DIR", "MNIST_SMOKE_DIR"
READER, RETRAIN, SMOKE = "reader", "retrain", "smoke"
MODES = (READER, RETRAIN, SMOKE)
RETRAIN_MISSING = "missing"

# What smoke mode keeps: enough to walk every code path, small enough for seconds.
SMOKE_MAX_EXAMPLES = 2048
SMOKE_MAX_EPOCHS = 1

_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Settings:
    """The session's mode and folders: what decides where runs are read from and written to."""

    mode: str
    series_dir: Path  # the committed checkpoints/, images/, results/
    write_dir: Path  # where this session writes: my_runs/, the series' folder itself, or a scratch folder
    data_dir: Path | None = None  # local copies of the datasets; None: Keras' cache and download
    retrain_missing: bool = False  # retrain mode: keep the committed runs of unchanged recipes
    use_my_runs: bool = False  # reader's mode: load_best_checkpoint prefers the reader's own runs

    @property
    def read_dirs(self) -> list[Path]:
        """Where saved runs, tables and ensembles are looked up: this session's own outputs, then the committed ones."""
        return list(dict.fromkeys([self.write_dir, self.series_dir]))

    def describe(self) -> str:
        """One line for a notebook's Setup: the mode, and what is read and written where."""
        where = _relative(self.write_dir, self.series_dir)
        if self.mode == SMOKE:
            return f"Smoke mode: data and epochs cut, every run trained; outputs go to {where}."
        if self.mode == RETRAIN:
            which = "the recipes with no committed run" if self.retrain_missing else "every run"
            return f"Retrain mode: {which} trained and written over checkpoints/, images/ and results/."
        later = f"your runs in {where} where they exist" if self.use_my_runs else "the committed runs"
        return f"Reader's mode: saved runs are loaded, changed recipes trained into {where}; later notebooks use {later}."


def _relative(path: Path, base: Path) -> str:
    try:
        return f"{path.relative_to(base)}/" if path != base else "the series' folder"
    except ValueError:
        return "a folder outside the series"


def _retrain_setting() -> tuple[bool, bool]:
    value = os.environ.get(RETRAIN_ENV, "").strip().lower()
    if value == RETRAIN_MISSING:
        return True, True
    return _flag(RETRAIN_ENV, value), False


def _flag(name: str, value: str) -> bool:
    if value in {"", "0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    extra = f", or {RETRAIN_MISSING} (train only the runs not committed yet)" if name == RETRAIN_ENV else ""
    raise ValueError(f"{name}={value!r} is not understood: set it to 1 (on) or 0 (off){extra}.")


def mode_from_env() -> tuple[str, bool]:
    """The mode that ``MNIST_RETRAIN`` and ``MNIST_SMOKE`` ask for, and whether retraining keeps committed runs."""
    retrain, missing = _retrain_setting()
    smoke = _flag(SMOKE_ENV, os.environ.get(SMOKE_ENV, "").strip().lower())
    if smoke and retrain:
        raise ValueError(f"{SMOKE_ENV} and {RETRAIN_ENV} are both on, but a smoke run never rewrites the "
                         "committed runs: set only one of them.")
    return (SMOKE if smoke else RETRAIN if retrain else READER), missing


def is_series_folder(path: Path) -> bool:
    """True for a folder laid out as the series: its ``notebooks/`` beside its ``checkpoints/``."""
    return (path / "notebooks").is_dir() and (path / "checkpoints").is_dir()


def find_series_dir() -> Path:
    """``MNIST_SERIES_DIR``; else the nearest series folder at or above the working directory (a
    notebook runs in ``notebooks/``); else the checkout of an editable install; else the working directory."""
    value = os.environ.get(SERIES_DIR_ENV, "").strip()
    if value:
        return Path(value).expanduser().resolve()
    cwd = Path.cwd().resolve()
    for place in [cwd, *cwd.parents, _PACKAGE_DIR.parent]:
        if is_series_folder(place):
            return place
    return cwd  # no series here: nothing committed to load, and what is written goes below this folder


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else None


def setup(
    mode: str | None = None,
    series_dir: str | Path | None = None,
    use_my_runs: bool = False,
    data_dir: str | Path | None = None,
    show: bool = True,
) -> Settings:
    """Decide the session's mode and folders, once, and print them in one line (``show``).

    ``mode``: ``"reader"``, ``"retrain"`` or ``"smoke"`` (default: what ``MNIST_RETRAIN`` and
    ``MNIST_SMOKE`` say, else the reader's). ``use_my_runs``: in the reader's mode, later notebooks
    load your own runs (from ``my_runs/``) instead of the committed ones. Every later call of the
    package uses these settings until ``setup`` is called again.
    """
    global _current
    _current = decide(mode, series_dir, use_my_runs, data_dir)
    if show:
        print(_current.describe())
    return _current


def decide(
    mode: str | None = None,
    series_dir: str | Path | None = None,
    use_my_runs: bool = False,
    data_dir: str | Path | None = None,
) -> Settings:
    """The settings ``setup`` would make with these arguments, without making them the current ones."""
    missing = False
    if mode is None:
        mode, missing = mode_from_env()
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}.")
    series = Path(series_dir).expanduser().resolve() if series_dir is not None else find_series_dir()
    if mode == READER:
        write = _env_path(MY_RUNS_DIR_ENV) or series / "my_runs"
    elif mode == SMOKE:
        write = _env_path(SMOKE_DIR_ENV) or series / ".smoke"
    else:
        write = series
    data = Path(data_dir).expanduser().resolve() if data_dir is not None else _env_path(DATA_DIR_ENV)
    return Settings(mode, series, write, data, retrain_missing=missing, use_my_runs=use_my_runs and mode == READER)


_current: Settings | None = None


def current() -> Settings:
    """The settings ``setup`` decided (it is called with its defaults, silently, if it was not yet)."""
    return _current if _current is not None else setup(show=False)


def use(settings: Settings) -> Settings:
    """Make ``settings`` the current ones (tests, scripts); returns the ones they replace."""
    global _current
    before, _current = _current, settings
    return before


def is_smoke() -> bool:
    """True in the smoke mode (data and epochs cut)."""
    return current().mode == SMOKE


def smoke_cut(count: int) -> int:
    """How many of ``count`` examples a pipeline keeps in the current mode."""
    return min(count, SMOKE_MAX_EXAMPLES) if is_smoke() else count


def smoke_epochs(epochs: int) -> int:
    """How many of ``epochs`` a training run does in the current mode."""
    return min(epochs, SMOKE_MAX_EPOCHS) if is_smoke() else epochs
