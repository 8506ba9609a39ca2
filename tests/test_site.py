"""The website (make site) builds from the committed notebooks: a page each, with working links and
images, a download of each notebook, and no paths of the machine that built it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

PROJECT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(path.stem for path in (PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


class Links(HTMLParser):
    """Every href and src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.targets += [value for name, value in attrs if name in ("href", "src") and value]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site") / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(target)],
                          cwd=PROJECT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def test_every_notebook_has_its_page_and_its_download(site):
    landing = (site / "index.html").read_text()
    for name in NOTEBOOKS:
        page = (site / f"{name}.html").read_text()
        assert f'href="{name}.html"' in landing  # the landing page's path through the series
        assert f'href="{name}.ipynb"' in page and (site / f"{name}.ipynb").is_file()  # its download
        assert "<img" in page  # its figures, from the committed outputs
    assert (site / "run_it_yourself.html").is_file()
    search = (site / "search" / "search_index.json").read_text()  # what the search box looks in
    assert all(title in search for title in ("The MLP: a first classifier", "LeNet: convolutions", "dropout"))


def test_every_internal_link_and_image_resolves(site):
    broken = []
    for page in site.rglob("*.html"):
        parser = Links()
        parser.feed(page.read_text())
        for target in parser.targets:
            parts = urlparse(target)
            if parts.scheme or target.startswith(("#", "mailto:", "data:")):
                continue
            base = site if parts.path.startswith("/") else page.parent  # 404.html links from the site's root
            path = (base / unquote(parts.path).lstrip("/")).resolve()
            if not (path.is_file() or (path / "index.html").is_file()):
                broken.append(f"{page.relative_to(site)} -> {target}")
    assert not broken, broken[:20]


def test_the_pages_carry_no_machine_paths(site):
    machine = re.compile(r"(/work/|/tmp/|/home/|/root/|/Users/|site-packages)")
    found = [f"{page.relative_to(site)}: {match.group(0)}" for page in site.rglob("*.html")
             for match in [machine.search(page.read_text())] if match]
    assert not found, found[:10]
