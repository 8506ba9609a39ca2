"""Run the whole series in order, top to bottom, refreshing every notebook's stored outputs.

    python run_series.py                  # full mode: real training, figures, results
    MNIST_SMOKE=1 python run_series.py    # smoke mode: minutes; outputs kept out of the notebooks
    python run_series.py notebooks/02_mlp.ipynb   # only some notebooks

Progress is printed as it happens: each notebook, each cell, and the training lines.
In smoke mode the executed notebooks go to .smoke/notebooks/, and with MNIST_OUTPUT_DIR set to
another folder to its notebooks/; the committed ones stay as they are.
"""

from __future__ import annotations

import sys
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


def run_notebook(path: Path) -> float:
    """Execute one notebook in a fresh kernel from its own folder; return its wall time."""
    notebook = nbformat.read(path, as_version=4)
    client = ProgressClient(notebook, timeout=None, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}, label=path.stem)
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    if config.output_dir() == ROOT:
        target = path  # a full run of the project itself: the notebook keeps its new outputs
    else:  # smoke mode, or outputs sent elsewhere with MNIST_OUTPUT_DIR: the notebook stays as it was
        target = config.output_dir() / "notebooks" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return seconds


def main(argv: list[str]) -> int:
    """Run the notebooks given (all of them, in order, if none) and report each one's time."""
    paths = [Path(arg).resolve() for arg in argv] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    mode = "smoke" if config.is_smoke() else "full"
    print(f"Running {len(paths)} notebook(s) in {mode} mode", flush=True)
    times = {}
    for number, path in enumerate(paths, start=1):
        print(f"=== [{number}/{len(paths)}] {path.name}", flush=True)
        times[path.name] = run_notebook(path)
        print(f"=== {path.name} finished in {times[path.name]:.0f} s", flush=True)
    print("\nSummary (wall time per notebook):")
    for name, seconds in times.items():
        print(f"  {name:<30} {seconds:7.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
