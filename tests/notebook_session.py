"""A Jupyter session, scripted: run a notebook top to bottom in one kernel, then run its model and
training cells again in place, as a reader does, without the Setup cell.

    python tests/notebook_session.py NOTEBOOK.ipynb REPORT.json

The report holds each cell's text outputs from the first pass, and, for the second pass, the
cells run again, their text outputs and its seconds. The test that starts it checks them.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

# A cell that builds a model or trains, loads or combines runs: what a reader runs again.
MODEL_OR_TRAINING = re.compile(r"mu\.train\(|mu\.get_\w+\(|keras\.Sequential\(|keras\.Model\(|load_best_checkpoint\("
                               r"|save_ensemble\(|load_ensemble\(")


def text_of(outputs: list) -> str:
    """The text a cell printed or returned (streams and text/plain), as a reader sees it."""
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output and "text/plain" in output["data"] and "image/png" not in output["data"]:
            parts.append(output["data"]["text/plain"])
        elif output.get("output_type") == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}")
    return "".join(parts)


def main(notebook_path: str, report_path: str) -> int:
    path = Path(notebook_path).resolve()
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=3600, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.reset_execution_trackers()
    report: dict = {"first": {}, "again": {}}
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            if cell.cell_type == "code":
                report["first"][index] = text_of(cell.outputs)
        start = time.perf_counter()
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code" and MODEL_OR_TRAINING.search(cell.source) and "import mnist_utils" not in cell.source:
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                report["again"][index] = text_of(cell.outputs)
        report["again_seconds"] = time.perf_counter() - start
    Path(report_path).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
