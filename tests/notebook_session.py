"""A Jupyter session, scripted: run a notebook top to bottom in one kernel, then run its model and
training cells again in place, as a reader does, without the Setup cell.

    python tests/notebook_session.py NOTEBOOK.ipynb REPORT.json [FOLDER COPY]

The report holds each cell's text outputs from the first pass, and, for the second pass, the
cells run again, their text outputs and its seconds. With FOLDER and COPY, FOLDER (what the
notebook wrote) is copied to COPY between the passes. The test that starts it checks them.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

# A cell that builds a model, or trains or loads a run: what a reader runs again.
MODEL_OR_TRAINING = re.compile(r"mu\.train\(|mu\.get_(?!weight_num)\w+\(|keras\.Sequential\(|keras\.Model\("
                               r"|load_best_checkpoint\(")


def model_or_training_cells(notebook) -> set[int]:
    """The code cells (not the Setup cell) that build a model or train or load a run, directly
    or through a function that a notebook cell defines and that does."""
    code = {i: cell.source for i, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and "import mnist_utils" not in cell.source}
    pattern = MODEL_OR_TRAINING
    while True:
        found = {i for i, source in code.items() if pattern.search(source)}
        helpers = {name for i in found for name in re.findall(r"^def (\w+)\(", code[i], re.M)}
        wider = re.compile("|".join([MODEL_OR_TRAINING.pattern, *(rf"\b{name}\(" for name in sorted(helpers))]))
        if wider.pattern == pattern.pattern:
            return found
        pattern = wider


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


def main(notebook_path: str, report_path: str, folder: str | None = None, copy: str | None = None) -> int:
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
        if folder and Path(folder).is_dir():
            shutil.copytree(folder, copy)
        start = time.perf_counter()
        again = model_or_training_cells(notebook)
        for index, cell in enumerate(notebook.cells):
            if index in again:
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                report["again"][index] = text_of(cell.outputs)
        report["again_seconds"] = time.perf_counter() - start
    Path(report_path).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
