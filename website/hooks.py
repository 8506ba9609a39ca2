"""MkDocs hooks: the landing page and the set-up page are the README's own sections (one source for
both), and the figures the README shows come along."""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File, Files

PROJECT = Path(__file__).resolve().parents[1]
# The README's sections that become pages: (page, its title in the sidebar, first heading, heading that ends it).
PAGES = [("index.md", "Home", None, "## Set-up"),
         ("run_it_yourself.md", "Run it yourself", "## Set-up", "## Performance on a CPU")]


def readme_part(start: str | None, end: str) -> str:
    """The README from ``start`` (its beginning if None) to ``end``, its links made relative to the site."""
    readme = (PROJECT / "README.md").read_text()
    part = readme[readme.index(start):] if start else readme
    part = part[:part.index(end)].rstrip() + "\n"
    return re.sub(r"\]\(notebooks/", "](", part)  # the notebooks are the site's pages


def on_files(files: Files, config) -> Files:
    for name, title, start, end in PAGES:
        files.append(File.generated(config, name, content=f"---\ntitle: {title}\n---\n\n" + readme_part(start, end)))
    for image in sorted((PROJECT / "images").rglob("*.png")):
        files.append(File(str(image.relative_to(PROJECT)), src_dir=str(PROJECT), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


def on_page_content(html: str, page, config, files) -> str:
    """Links between notebooks (``02_mlp.ipynb``, which work on the code host) point at their pages, and
    pictures in their text (``../images/...``) at the site's copy."""
    if not page.file.src_path.endswith(".ipynb"):
        return html
    html = re.sub(r'href="(\d\d_\w+)\.ipynb(#[^"]*)?"', lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', html)
    return html.replace('src="../images/', 'src="images/')  # a picture in a notebook's text: the site's copy
