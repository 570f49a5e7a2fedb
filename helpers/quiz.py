"""Interactive knowledge checks whose answers are not in the notebook: ``quiz("02_forward_process")`` shows one.

The questions live in helpers/quizzes/<lesson>.json, so the lesson's cell holds one line and no
answer. Pick an option and press Check: the feedback explains that option, right or wrong, and
the score counts the first answer to each question. Where no kernel runs the widget (a static
page, GitHub, a reloaded notebook exported to HTML), the same questions show as plain HTML with
each answer behind a "Show the answer" fold.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import ipywidgets as widgets

QUIZ_DIR = "quizzes"


@dataclass(frozen=True)
class Question:
    """One multiple-choice question; ``explanations[i]`` says why option i is right or wrong."""

    prompt: str
    options: tuple[str, ...]
    answer: int
    explanations: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.options) != len(self.explanations):
            raise ValueError(
                f"{self.prompt!r}: {len(self.options)} options but {len(self.explanations)} explanations; "
                "give one explanation per option."
            )
        if not 0 <= self.answer < len(self.options):
            raise ValueError(
                f"{self.prompt!r}: answer index {self.answer} is not one of the {len(self.options)} options."
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Question:
        return cls(data["prompt"], tuple(data["options"]), data["answer"], tuple(data["explanations"]))

    def feedback(self, choice: int) -> str:
        """The text shown after choosing option ``choice``."""
        verdict = "✅ Correct." if choice == self.answer else "❌ Not quite."
        return f"{verdict} {self.explanations[choice]}"


def quiz_path(lesson: str) -> Path:
    """The question file of a lesson, e.g. "04_sampling" -> helpers/quizzes/04_sampling.json."""
    return Path(str(resources.files("helpers") / QUIZ_DIR / f"{lesson}.json"))


def lesson_quizzes() -> list[str]:
    """The lessons that have a quiz file, in order."""
    return sorted(
        p.name.removesuffix(".json")
        for p in resources.files("helpers").joinpath(QUIZ_DIR).iterdir()
        if p.name.endswith(".json")
    )


class Quiz:
    """A short quiz rendered with ipywidgets, with a static HTML twin; put it last in a cell to show it."""

    def __init__(self, questions: list[Question], title: str = "Knowledge check") -> None:
        self.questions, self.title = questions, title
        self.first: dict[int, int] = {}  # question -> the first option picked

    @classmethod
    def for_lesson(cls, lesson: str) -> Quiz:
        path = quiz_path(lesson)
        if not path.exists():
            raise ValueError(f"no quiz for {lesson!r}; the lessons with one are {lesson_quizzes()}.")
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls([Question.from_dict(q) for q in data["questions"]], data.get("title", "Knowledge check"))

    def answer(self, number: int, choice: int) -> str:
        """Record option ``choice`` for question ``number`` (both from 0), if it is the first; return its feedback."""
        self.first.setdefault(number, choice)
        return self.questions[number].feedback(choice)

    @property
    def score(self) -> int:
        """How many questions were right at the first answer."""
        return sum(self.questions[n].answer == c for n, c in self.first.items())

    def _tally_html(self) -> str:
        answered = len(self.first)
        return (
            f"<b>Score: {self.score}/{len(self.questions)}</b>, counting your first answer to each question "
            f"({answered} of {len(self.questions)} answered)"
        )

    def _question_widget(self, number: int, question: Question, tally: widgets.HTML) -> widgets.VBox:
        radio = widgets.RadioButtons(
            options=[(text, i) for i, text in enumerate(question.options)],
            value=None,
            layout=widgets.Layout(width="auto"),
        )
        button = widgets.Button(description="Check", button_style="primary")
        result = widgets.HTML()

        def on_check(_) -> None:
            if radio.value is None:
                result.value = "<i>Pick an answer first.</i>"
                return
            result.value = html.escape(self.answer(number, radio.value))
            tally.value = self._tally_html()

        button.on_click(on_check)
        header = widgets.HTML(f"<b>Question {number + 1} of {len(self.questions)}.</b> {html.escape(question.prompt)}")
        for w, name in ((radio, "options"), (button, "check"), (result, "feedback")):
            w.add_class(f"quiz-{name}")
        return widgets.VBox([header, radio, button, result])

    def widget(self) -> widgets.VBox:
        """Build the quiz as one ipywidgets box."""
        tally = widgets.HTML(self._tally_html())
        tally.add_class("quiz-score")
        boxes = [self._question_widget(n, q, tally) for n, q in enumerate(self.questions)]
        box = widgets.VBox([widgets.HTML(f"<h3>{html.escape(self.title)}</h3>"), *boxes, tally])
        box.add_class("quiz")
        return box

    def static_html(self) -> str:
        """The quiz for readers without a kernel: the questions, with each answer in a fold to open."""
        parts = [f"<div class='quiz-static'><h3>{html.escape(self.title)}</h3>"]
        for n, q in enumerate(self.questions):
            options = "".join(f"<li>{chr(97 + i)}) {html.escape(o)}</li>" for i, o in enumerate(q.options))
            parts.append(
                f"<p><b>Question {n + 1} of {len(self.questions)}.</b> {html.escape(q.prompt)}</p>"
                f"<ul style='list-style: none'>{options}</ul><details><summary>Show the answer</summary><p>"
                f"{chr(97 + q.answer)}) {html.escape(q.options[q.answer])}. {html.escape(q.explanations[q.answer])}"
                "</p></details>"
            )
        return "".join(parts) + "<p><i>Run the notebook to check your answers interactively.</i></p></div>"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        """The live widget for JupyterLab and Colab, plus the static HTML for every front end without a kernel."""
        bundle = self.widget()._repr_mimebundle_()
        return {**bundle, "text/html": self.static_html(), "text/plain": repr(self)}

    def __repr__(self) -> str:  # what plain-text front ends show
        lines = [self.title]
        for n, q in enumerate(self.questions):
            lines.append(f"{n + 1}. {q.prompt}")
            lines += [f"   {chr(97 + i)}) {o}" for i, o in enumerate(q.options)]
        return "\n".join(lines)


def quiz(lesson: str) -> Quiz:
    """The knowledge check of ``lesson`` (e.g. "02_forward_process"), read from the package; last in a cell shows it."""
    return Quiz.for_lesson(lesson)
