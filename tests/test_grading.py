"""The grading round trip through nbgrader: the solution scores full marks, the untouched exercise 0."""

from __future__ import annotations

import shutil

import pytest
from conftest import run_nbgrader
from nbgrader.api import Gradebook

from helpers.teach.notebooks import exercise, modules, solution

MODULES = modules()


@pytest.fixture(scope="module")
def graded(course_copy):
    """Submit a copy of each solution (student 'full') and each untouched exercise ('blank'), then autograde."""
    for module in MODULES:
        for student, source in (("full", solution(module)), ("blank", exercise(module))):
            dest = course_copy / "submitted" / student / module
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, dest / f"{module}.ipynb")
        run_nbgrader(["autograde", module, "--force"], cwd=course_copy)
    with Gradebook(f"sqlite:///{course_copy / 'gradebook.db'}") as gb:
        yield {
            (m, s): (gb.find_submission(m, s).score, gb.find_submission(m, s).max_score)
            for m in MODULES
            for s in ("full", "blank")
        }


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("module", MODULES)
def test_solution_scores_full_marks(module, graded):
    score, max_score = graded[(module, "full")]
    assert max_score > 0 and score == max_score, f"{module}: the solution scored {score}/{max_score}"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("module", MODULES)
def test_untouched_exercise_scores_zero(module, graded):
    score, max_score = graded[(module, "blank")]
    assert score == 0 and max_score > 0, f"{module}: the untouched exercise scored {score}/{max_score}"
