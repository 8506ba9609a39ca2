"""Run the whole series in order, top to bottom, refreshing every notebook's stored outputs.

    python run_series.py                    # reader's mode: the committed runs are loaded, minutes
    MNIST_RETRAIN=1 python run_series.py    # retrain every run and rewrite the committed files, hours
    MNIST_SMOKE=1 python run_series.py      # smoke mode: cut data and epochs, outputs under .smoke/
    python run_series.py notebooks/02_mlp.ipynb   # only some notebooks
    python run_series.py --refresh          # the reader's mode, then its figures and tables replace the
                                            # committed ones (after a change to a plot; trains nothing)

Progress is printed as it happens: each notebook, each cell, and the training lines.
The executed notebooks replace the series' own (in the reader's mode they show the committed
runs, so only timings change); in smoke mode, or when MNIST_SERIES_DIR names another folder than
the notebooks' series, they go to the notebooks/ folder of this mode's outputs instead.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from mnist_utils import config

ROOT = Path(__file__).resolve().parent
NOTEBOOKS = ROOT / "notebooks"


class ProgressClient(NotebookClient):
    """A NotebookClient that echoes each cell's printed output and its time as it runs."""

    def __init__(self, *args, label: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.label = label

    async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
        start = time.perf_counter()
        result = await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        if cell.cell_type == "code":
            print(f"[{self.label}] cell {cell_index + 1}/{len(self.nb.cells)} done "
                  f"in {time.perf_counter() - start:.1f} s", flush=True)
        return result

    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] == "stream":
            for line in msg["content"]["text"].splitlines():
                print(f"[{self.label}]   {line}", flush=True)
        return super().process_message(msg, cell, cell_index)


def folders_seen_from(folder: Path) -> tuple[Path, Path]:
    """The series' folder and this mode's output folder as a kernel started in ``folder`` finds them."""
    here = os.getcwd()
    os.chdir(folder)
    try:
        settings = config.decide()
        return settings.series_dir, settings.write_dir
    finally:
        os.chdir(here)


def run_notebook(path: Path) -> float:
    """Execute one notebook in a fresh kernel from its own folder; return its wall time."""
    notebook = nbformat.read(path, as_version=4)
    client = ProgressClient(notebook, timeout=None, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}}, label=path.stem)
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    series, outputs = folders_seen_from(path.parent)
    if config.mode_from_env()[0] != config.SMOKE and series == path.parent.parent.resolve():
        target = path  # the series' own notebook, run on its own folder: it keeps its new outputs
    else:  # smoke mode, or another folder's runs: the notebook stays as it was
        target = outputs / "notebooks" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return seconds


def run_all(paths: list[Path]) -> None:
    """Run the notebooks in order and report each one's time."""
    print(f"Running {len(paths)} notebook(s) in the {config.mode_from_env()[0]} mode", flush=True)
    times = {}
    for number, path in enumerate(paths, start=1):
        print(f"=== [{number}/{len(paths)}] {path.name}", flush=True)
        times[path.name] = run_notebook(path)
        print(f"=== {path.name} finished in {times[path.name]:.0f} s", flush=True)
    print("\nSummary (wall time per notebook):")
    for name, seconds in times.items():
        print(f"  {name:<30} {seconds:7.0f} s")


def refresh(paths: list[Path]) -> int:
    """Run the notebooks in the reader's mode into a scratch folder; if they trained nothing, their
    figures and tables replace the committed ones (a plot or a table changed, the runs did not)."""
    if config.mode_from_env()[0] != config.READER:
        print("--refresh runs the reader's mode: unset MNIST_RETRAIN and MNIST_SMOKE.", file=sys.stderr)
        return 2
    series = folders_seen_from(paths[0].parent)[0]
    with tempfile.TemporaryDirectory() as scratch:
        os.environ[config.MY_RUNS_DIR_ENV] = scratch  # the notebooks' kernels inherit it
        try:
            run_all(paths)
        finally:
            del os.environ[config.MY_RUNS_DIR_ENV]
        changed = sorted(str(path.relative_to(scratch)) for path in Path(scratch, "checkpoints").rglob("*.json"))
        if changed:
            print("Not refreshed: these runs or ensembles differ from the committed ones, so the figures and "
                  f"tables would not be theirs: {', '.join(changed)}. Retrain them (make retrain).", file=sys.stderr)
            return 1
        for folder in ("images", "results"):
            if Path(scratch, folder).is_dir():
                shutil.copytree(Path(scratch, folder), series / folder, dirs_exist_ok=True)
    print(f"Refreshed images/ and results/ of {series.name}/ from the committed runs.")
    return 0


def main(argv: list[str]) -> int:
    """Run the notebooks given (all of them, in order, if none); ``--refresh`` as ``refresh`` says."""
    refreshing = "--refresh" in argv
    paths = [Path(arg).resolve() for arg in argv if arg != "--refresh"]
    paths = paths or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if refreshing:
        return refresh(paths)
    run_all(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
