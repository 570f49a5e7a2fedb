"""helpers.quiz: questions kept out of the notebooks, the first answer counts, answers that can't be guessed from form.

The balance tests measure, over every lesson quiz and every graded knowledge check, where the
correct option sits and whether it is the longest: no position holds more than 40% of a module's
answers, and the correct option is the longest in at most a third of the questions. Letter answers carry at most
a fifth of each graded exercise's points; the rest is code.
"""

from __future__ import annotations

import json
import re

import pytest

from helpers.quiz import Question, Quiz, lesson_quizzes, quiz
from helpers.teach.notebooks import lessons, modules, solution

MAX_POSITION_SHARE, MAX_LONGEST_SHARE, MAX_LETTER_POINTS = 0.40, 1 / 3, 0.20


def test_every_lesson_has_a_quiz_and_its_cell_holds_no_answer():
    assert [p.stem for p in lessons()] == lesson_quizzes()
    for path in lessons():
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        quiz_cells = [c for c in cells if c["cell_type"] == "code" and "quiz(" in "".join(c["source"])]
        assert len(quiz_cells) == 1, path.name
        source = "".join(quiz_cells[0]["source"])
        assert "Question(" not in source and "Yes:" not in source and "answer" not in source.split("#")[0], path.name


def test_the_first_answer_counts():
    q = Question("2 + 2?", ("3", "4"), 1, ("3 is one short.", "Four."))
    wrong_first, right_first = Quiz([q]), Quiz([q])
    assert wrong_first.answer(0, 0).startswith("❌") and "one short" in wrong_first.answer(0, 0)
    assert wrong_first.answer(0, 1).startswith("✅")  # the explanation still appears
    assert wrong_first.score == 0  # wrong then right is still wrong
    right_first.answer(0, 1)
    right_first.answer(0, 0)
    assert right_first.score == 1


def test_the_widget_and_its_static_twin():
    qz = quiz("02_forward_process")
    box = qz.widget()
    assert len(box.children) == len(qz.questions) + 2 and "Question 1 of 5" in box.children[1].children[0].value
    bundle = qz._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    static = bundle["text/html"]
    assert static.count("<details>") == len(qz.questions) and "Show the answer" in static and "<script" not in static


def test_a_question_needs_one_explanation_per_option_and_a_real_answer():
    with pytest.raises(ValueError, match="one explanation per option"):
        Question("?", ("a", "b"), 0, ("only one",))
    with pytest.raises(ValueError, match="answer index 2"):
        Question("?", ("a", "b"), 2, ("x", "y"))
    with pytest.raises(ValueError, match="no quiz for '99_nothing'"):
        quiz("99_nothing")


def _graded_questions(module: str) -> list[tuple[list[str], int]]:
    """(options, answer index) of each graded knowledge-check question, read from the solution's markdown and tests."""
    cells = json.loads(solution(module).read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells)
    found = []
    for number, body in re.findall(r"\*\*q(\d)\.\*\*[^\n]*\n(.+)", text):
        options = [o.strip() for o in re.split(r"\s*·\s*", body)]
        options = [re.sub(r"^[a-d]\)\s*", "", o) for o in options]
        answer = re.search(rf"str\.__eq__\(q{number}, '([a-d])'\)", text).group(1)
        found.append((options, "abcd".index(answer)))
    return found


def _all_questions() -> dict[str, list[tuple[list[str], int]]]:
    sets = {f"lesson {name}": [(list(q.options), q.answer) for q in quiz(name).questions] for name in lesson_quizzes()}
    sets.update({f"graded {m}": _graded_questions(m) for m in modules()})
    return sets


def test_graded_knowledge_checks_are_read():
    assert all(len(qs) >= 3 for name, qs in _all_questions().items() if name.startswith("graded")), _all_questions()


@pytest.mark.parametrize("name", list(_all_questions()))
def test_correct_options_are_spread_over_the_positions(name):
    answers = [a for _, a in _all_questions()[name]]
    worst = max(answers.count(p) for p in set(answers)) / len(answers)
    assert worst <= MAX_POSITION_SHARE, f"{name}: one position holds {worst:.0%} of the answers ({answers})"


def test_the_correct_option_is_rarely_the_longest():
    questions = [q for qs in _all_questions().values() for q in qs]
    longest = [opts for opts, a in questions if len(opts[a]) == max(len(o) for o in opts)]
    share = len(longest) / len(questions)
    assert share <= MAX_LONGEST_SHARE, f"the correct option is the longest in {share:.0%} of {len(questions)} questions"


@pytest.mark.parametrize("module", modules())
def test_letter_answers_carry_at_most_a_fifth_of_the_points(module):
    cells = json.loads(solution(module).read_text(encoding="utf-8"))["cells"]
    graded = [c["metadata"]["nbgrader"] for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    letters = sum(g["points"] for g in graded if g["grade_id"].startswith("test_q"))
    total = sum(g["points"] for g in graded)
    assert letters and letters / total <= MAX_LETTER_POINTS, f"{module}: letters carry {letters} of {total} points"
