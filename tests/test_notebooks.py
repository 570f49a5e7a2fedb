"""Every lesson and graded notebook runs top to bottom in a fresh kernel, and is committed clean.

Lessons are read from their one run of the session (tests/executed.py), solutions from autograde's
graded copy (tests/graded_fixture.py): no notebook runs twice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers.teach.notebooks import ROOT, committed_notebooks, errors, lessons, modules, solution
from helpers.teach.preprocessors import STDERR_MARK

ALL_COMMITTED = committed_notebooks()


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", ALL_COMMITTED, ids=_id)
def test_committed_notebook_is_clean(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    assert not dirty, f"{_id(path)}: cells {dirty} hold outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", ALL_COMMITTED, ids=_id)
def test_notebook_starts_with_colab_badge_and_setup(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    first, second = nb["cells"][0], nb["cells"][1]
    rel = _id(path)
    assert first["cell_type"] == "markdown" and "colab.research.google.com/github/" in "".join(first["source"])
    badge_target = "".join(first["source"]).split("/blob/main/")[1].split(")")[0]
    # A graded notebook's badge opens the student version: solutions/ stays with the teacher.
    assert badge_target == rel.replace("solutions/", "exercises/"), badge_target
    assert 'if "google.colab" in sys.modules' in "".join(second["source"])


AUTHORS_WORDS = re.compile(r"\bthe seeds?\b|\bseeds'|grew from|source material", re.IGNORECASE)


@pytest.mark.parametrize("path", ALL_COMMITTED + sorted((ROOT / "helpers" / "quizzes").glob("*.json")), ids=_id)
def test_learners_never_read_the_authors_words(path):
    """The course was written from documents learners never see; a notebook or quiz must not point at them."""
    found = AUTHORS_WORDS.findall(path.read_text(encoding="utf-8"))
    assert not found, f"{_id(path)} speaks of {found}: say whose claim it is (a paper, a common slogan) instead"


def test_every_module_has_lesson_solution_and_exercise():
    for module in modules():
        assert (ROOT / "notebooks" / f"{module}.ipynb").exists(), f"no lesson for {module}"
        assert (ROOT / "exercises" / module / f"{module}.ipynb").exists(), f"no exercise for {module}"
        extra = [p.name for p in (ROOT / "solutions" / module).iterdir() if p.suffix != ".ipynb"]
        assert not extra, (
            f"solutions/{module} holds non-notebook files {extra}; nbgrader would copy them over submissions"
        )


def _check_executed(path: Path, nb) -> None:
    """No error, and no test cell writing to stderr (nbgrader would score it 0; the grader marks what it moved)."""
    assert not errors(nb), f"{_id(path)} raised: {errors(nb)}"
    noisy_tests = [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.cell_type == "code"
        and c.metadata.get("nbgrader", {}).get("grade")
        and any(o.get("name") == "stderr" or STDERR_MARK in o.get("text", "") for o in c.outputs)
    ]
    assert not noisy_tests, f"test cells {noisy_tests} write to stderr; nbgrader would score them 0"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("path", lessons(), ids=_id)
def test_lesson_executes_without_error(path, executed_lessons):
    _check_executed(path, executed_lessons[path])


MAX_PRINTED_LINE = 110  # about what a lesson's output area shows at 1280 px before the browser breaks words


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("path", lessons(), ids=_id)
def test_printed_lines_fit_the_output_area(path, executed_lessons):
    """JupyterLab breaks an overlong printed line mid-word; lessons wrap their sentences (textwrap.fill) instead."""
    long = [
        (i, line[:60] + "...")
        for i, cell in enumerate(executed_lessons[path].cells)
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("name") == "stdout"
        for line in output["text"].split("\n")
        if len(line) > MAX_PRINTED_LINE
    ]
    assert not long, f"{_id(path)}: printed lines longer than {MAX_PRINTED_LINE} characters (cell, start): {long}"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("module", modules())
def test_graded_notebook_executes_without_error(module, graded):
    """The solution, as autograde ran it (tests/graded_fixture.py)."""
    _check_executed(solution(module), graded[(module, "full")].notebook())
