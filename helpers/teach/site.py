"""``python -m helpers site``: every lesson executed and rendered as a static web page, readable without a kernel.

Each lesson runs top to bottom as a learner's fresh kernel would (helpers.teach.notebooks.execute)
and nbconvert's HTMLExporter (the "lab" template) writes it to ``site/NN_slug.html``, every output
included. Widgets become their static twins: the quiz with each answer in a fold, the dissolve
slider and the guidance view as their current picture and readout; the animation is a GIF that
plays on its own. Links between lessons point at their pages; links to exercises open them on
GitHub. ``site/index.html`` lists the lessons.
"""

from __future__ import annotations

import copy
import html
import re
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from helpers.paths import ROOT
from helpers.teach.colab import BRANCH, DEFAULT_REPO
from helpers.teach.notebooks import errors, execute, lessons

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def static_widgets(nb: nbformat.NotebookNode) -> int:
    """Drop the live widget view from outputs that carry a static twin (text/html); return how many were changed."""
    changed = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "text/html" in data:
                del data[WIDGET_VIEW]
                changed += 1
    nb.metadata.pop("widgets", None)
    return changed


def site_links(markdown: str, repo: str = DEFAULT_REPO) -> str:
    """Markdown links rewritten for the site: lessons to their pages, exercises to GitHub."""
    markdown = re.sub(r"\]\((\d\d_\w+)\.ipynb\)", r"](\1.html)", markdown)
    return re.sub(r"\]\(\.\./(exercises/[\w/]+\.ipynb)\)", rf"](https://github.com/{repo}/blob/{BRANCH}/\1)", markdown)


def render(nb: nbformat.NotebookNode) -> str:
    """One executed lesson as a standalone HTML page (``nb`` itself is left as it was)."""
    nb = copy.deepcopy(nb)
    static_widgets(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = site_links(cell.source)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    return body


def index_page(titles: dict[str, str]) -> str:
    items = "".join(f"<li><a href='{stem}.html'>{html.escape(title)}</a></li>" for stem, title in titles.items())
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Diffusion models, from five numbers to Stable "
        "Diffusion</title></head><body><h1>Diffusion models, from five numbers to Stable Diffusion</h1>"
        f"<p>Every lesson, executed, with all its outputs.</p><ol>{items}</ol></body></html>"
    )


def _title(nb: nbformat.NotebookNode, stem: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return stem


def build(dest: Path = ROOT / "site", executed: dict[Path, nbformat.NotebookNode] | None = None) -> list[Path]:
    """Write the site into ``dest``; ``executed`` may hold lessons already run (they are executed otherwise)."""
    dest.mkdir(parents=True, exist_ok=True)
    pages, titles = [], {}
    for path in lessons():
        nb = executed[path] if executed and path in executed else execute(path, allow_errors=True)
        if errors(nb):
            raise RuntimeError(f"{path.name} raised while building the site: {errors(nb)[:3]}")
        titles[path.stem] = _title(nb, path.stem)
        page = dest / f"{path.stem}.html"
        page.write_text(render(nb), encoding="utf-8")
        pages.append(page)
    (dest / "index.html").write_text(index_page(titles), encoding="utf-8")
    return [dest / "index.html", *pages]


def main(dest: Path = ROOT / "site") -> int:
    start = time.perf_counter()
    pages = build(dest)
    size = sum(p.stat().st_size for p in pages)
    print(
        f"wrote {len(pages)} pages, {size / 2**20:.1f} MiB, into {dest} in {time.perf_counter() - start:.0f} s; "
        f"open {dest / 'index.html'} in a browser",
        file=sys.stderr,
    )
    return 0
