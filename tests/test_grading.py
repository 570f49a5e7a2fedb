"""The grading round trip through nbgrader: the solution and every correct alternative answer score full marks,
the untouched exercise 0 (graded once per session by tests/graded_fixture.py)."""

from __future__ import annotations

import pytest
from alternatives import all_cases, alternatives, answer_cells

from helpers.teach.notebooks import modules

MODULES = modules()


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("module", MODULES)
def test_solution_scores_full_marks(module, graded):
    score, max_score = graded[(module, "full")].score, graded[(module, "full")].max_score
    assert max_score > 0 and score == max_score, f"{module}: the solution scored {score}/{max_score}"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("module", MODULES)
def test_untouched_exercise_scores_zero(module, graded):
    score, max_score = graded[(module, "blank")].score, graded[(module, "blank")].max_score
    assert score == 0 and max_score > 0, f"{module}: the untouched exercise scored {score}/{max_score}"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize(("module", "name"), all_cases(), ids=lambda v: v.replace(" ", "-"))
def test_correct_answers_written_differently_score_full_marks(module, name, graded):
    result = graded[(module, f"alt{list(alternatives(module)).index(name)}")]
    score, max_score = result.score, result.max_score
    assert max_score > 0 and score == max_score, f"{module}, {name}: {score}/{max_score}"


@pytest.mark.parametrize("module", MODULES)
def test_every_answer_cell_has_two_correct_alternatives(module):
    counts = {cell: sum(cell in alt for alt in alternatives(module).values()) for cell in answer_cells(module)}
    assert counts and all(n >= 2 for n in counts.values()), f"{module}: alternatives per answer cell {counts}"
