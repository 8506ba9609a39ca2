"""Fill the README's stated figures from the committed files, so that none is pasted by hand.

- Every accuracy written as ``98.01%<!-- mnist:mlp -->`` gets that model's test accuracy from
  ``results/<dataset>.csv``: each figure names the row it comes from.
- The table between ``<!-- benchmark:start -->`` and ``<!-- benchmark:end -->`` in
  ``benchmarks/README.md`` is the one ``benchmarks/speed.py`` makes from ``benchmarks/results.json``;
  the README's short table, between the same markers, is its rows named in ``README_ROWS``.

    python tools/update_readme.py           # rewrite README.md and benchmarks/README.md
    python tools/update_readme.py --check   # exit 1 if either is out of date (the tests do this)
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FIGURE = re.compile(r"(\d+\.\d\d)%<!-- (\w+):([\w.]+) -->")
TABLE = re.compile(r"(<!-- benchmark:start -->\n)(.*?)(\n<!-- benchmark:end -->)", re.S)
# The benchmark rows the README shows, by the start of their first cell.
README_ROWS = ("| measurement", "| --- |", "| MLP, post recipe: s/epoch", "| LeNet, post recipe: s/epoch",
               "| training time to 99.0%", "| prediction, test set, same batches")


def test_accuracy(dataset: str, model: str) -> float:
    table = pd.read_csv(ROOT / "results" / f"{dataset}.csv").set_index("model")
    if model not in table.index:
        raise KeyError(f"The README names {dataset}:{model}, which results/{dataset}.csv does not hold.")
    return float(table.loc[model, "test_accuracy"])


def fill_figures(text: str) -> str:
    """Every marked figure replaced by its results row's test accuracy."""
    return FIGURE.sub(lambda m: f"{100 * test_accuracy(m.group(2), m.group(3)):.2f}%<!-- {m.group(2)}:{m.group(3)} -->",
                      text)


def benchmark_table() -> str:
    spec = importlib.util.spec_from_file_location("speed", ROOT / "benchmarks" / "speed.py")
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    return speed.format_table(json.loads((ROOT / "benchmarks" / "results.json").read_text()))


def fill_table(text: str, table: str) -> str:
    if not TABLE.search(text):
        raise ValueError("No <!-- benchmark:start --> ... <!-- benchmark:end --> markers for the table.")
    return TABLE.sub(lambda m: m.group(1) + table + m.group(3), text)


def updated() -> dict[Path, str]:
    """The two files' texts as they should be."""
    table = benchmark_table()
    short = "\n".join(row for row in table.splitlines() if row.startswith(README_ROWS))
    readme, study = ROOT / "README.md", ROOT / "benchmarks" / "README.md"
    return {readme: fill_table(fill_figures(readme.read_text()), short), study: fill_table(study.read_text(), table)}


def main(argv: list[str]) -> int:
    stale = [path for path, text in updated().items() if path.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run python tools/update_readme.py", file=sys.stderr)
        return 1 if stale else 0
    for path, text in updated().items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
