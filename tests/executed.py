"""Each lesson executed once per test session: the notebook the browser test ran and saved, else an nbclient run.

tests/test_browser.py runs every lesson in JupyterLab (Run All, as a learner) and hands the saved
notebook to ``SAVED``; the checks that read an executed lesson (test_notebooks, test_site) take it
from there. Without Chromium, or for a lesson the browser test did not run, the lesson is executed
with nbclient the first time a test asks for it, so its time counts against that test only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import nbformat

from helpers.teach.notebooks import execute, lessons

SAVED: dict[Path, nbformat.NotebookNode] = {}


class ExecutedLessons(Mapping):
    """{lesson path: executed notebook}, each executed at most once, when first read."""

    def __init__(self) -> None:
        self.paths = lessons()
        self.ran: dict[Path, nbformat.NotebookNode] = {}

    def __getitem__(self, path: Path) -> nbformat.NotebookNode:
        if path not in self.paths:
            raise KeyError(path)
        if path not in self.ran:
            self.ran[path] = SAVED.get(path) or execute(path, allow_errors=True)
        return self.ran[path]

    def __iter__(self) -> Iterator[Path]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)
