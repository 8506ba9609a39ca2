"""The notebooks read as a short story: word limits, exercises with solutions, a linked "Next"."""

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_WORDS, MAX_CELL_WORDS = 1500, 200


def markdown(path: Path) -> list[str]:
    return [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"]


def words(text: str) -> int:
    return len(re.findall(r"\S+", text))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_short_and_ends_with_exercises_and_a_link(path):
    cells = markdown(path)
    assert sum(map(words, cells)) <= MAX_WORDS, f"{path.name}: over {MAX_WORDS} words of markdown"
    long = [cell[:60] for cell in cells if words(cell) > MAX_CELL_WORDS]
    assert not long, f"{path.name}: markdown cells over {MAX_CELL_WORDS} words: {long}"
    headings = [line for cell in cells for line in cell.splitlines() if line.startswith("## ")]
    for heading in ("## Summary", "## Exercises", "## Solutions"):
        assert heading in headings, f"{path.name} has no '{heading}' section"
    assert headings.index("## Summary") < headings.index("## Exercises") < headings.index("## Solutions")
    links = re.findall(r"\*\*Next:\*\*[^\n]*?\]\((\d\d_\w+\.ipynb)\)", cells[-1])
    assert links and all((path.parent / link).is_file() for link in links), \
        f"{path.name}: its last cell has no '**Next:**' link to a notebook of the series"
