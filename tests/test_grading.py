"""The grading round trip through nbgrader: the solution and every correct alternative answer score full marks,
the untouched exercise 0."""

from __future__ import annotations

import nbformat
import pytest
from alternatives import all_cases, alternatives, answer_cells, notebook
from conftest import run_nbgrader
from nbgrader.api import Gradebook
from test_mistakes import MISTAKES, with_mistake

from helpers.teach.notebooks import exercise, modules, solution

MODULES = modules()


def _mistakes(module: str) -> list:
    return [m for m in MISTAKES if m.module == module]


def _students(module: str) -> list[str]:
    alts = [f"alt{k}" for k in range(len(alternatives(module)))]
    return ["full", "blank", *alts, *(f"mistake{k}" for k in range(len(_mistakes(module))))]


def _submission(module: str, student: str) -> nbformat.NotebookNode:
    if student.startswith("alt"):
        return notebook(module, list(alternatives(module))[int(student[3:])])
    if student.startswith("mistake"):
        return with_mistake(_mistakes(module)[int(student[7:])])
    return nbformat.read(solution(module) if student == "full" else exercise(module), as_version=4)


@pytest.fixture(scope="module")
def graded(course_copy):
    """Submit each solution ('full'), each untouched exercise ('blank'), each correct alternative ('altK') and
    each plausible mistake ('mistakeK'), then autograde each module with the teacher's plain nbgrader command.

    Yields {(module, student): (score, max score, {grade id of a test cell: score})}.
    """
    for module in MODULES:
        for student in _students(module):
            dest = course_copy / "submitted" / student / module
            dest.mkdir(parents=True, exist_ok=True)
            nbformat.write(_submission(module, student), dest / f"{module}.ipynb")
        run_nbgrader(["autograde", module, "--force"], cwd=course_copy)
    with Gradebook(f"sqlite:///{course_copy / 'gradebook.db'}") as gb:
        results = {}
        for m in MODULES:
            for s in _students(m):
                sub = gb.find_submission_notebook(m, m, s)
                cells = {g.name: g.score for g in sub.grades if g.cell_type == "code"}
                results[(m, s)] = (sub.score, sub.max_score, cells)
        yield results


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("module", MODULES)
def test_solution_scores_full_marks(module, graded):
    score, max_score, _ = graded[(module, "full")]
    assert max_score > 0 and score == max_score, f"{module}: the solution scored {score}/{max_score}"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("module", MODULES)
def test_untouched_exercise_scores_zero(module, graded):
    score, max_score, _ = graded[(module, "blank")]
    assert score == 0 and max_score > 0, f"{module}: the untouched exercise scored {score}/{max_score}"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize(("module", "name"), all_cases(), ids=lambda v: v.replace(" ", "-"))
def test_correct_answers_written_differently_score_full_marks(module, name, graded):
    score, max_score, _ = graded[(module, f"alt{list(alternatives(module)).index(name)}")]
    assert max_score > 0 and score == max_score, f"{module}, {name}: {score}/{max_score}"


@pytest.mark.parametrize("module", MODULES)
def test_every_answer_cell_has_two_correct_alternatives(module):
    counts = {cell: sum(cell in alt for alt in alternatives(module).values()) for cell in answer_cells(module)}
    assert counts and all(n >= 2 for n in counts.values()), f"{module}: alternatives per answer cell {counts}"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.module}-{m.cell}-{m.wrong[:24]}")
def test_a_wrong_answer_loses_exactly_the_points_of_its_own_cell(mistake, graded):
    _, _, full = graded[(mistake.module, "full")]
    _, _, cells = graded[(mistake.module, f"mistake{_mistakes(mistake.module).index(mistake)}")]
    lost = sorted(g for g in full if cells[g] < full[g])
    assert lost == [mistake.test], f"{mistake.module}: {mistake.wrong!r} lost the points of {lost}"
