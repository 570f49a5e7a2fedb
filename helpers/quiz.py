"""Interactive knowledge checks: pick an answer, press Check, and a wrong answer explains itself."""
from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
from IPython.display import display


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
            raise ValueError(f"{self.prompt!r}: answer index {self.answer} is not one of the {len(self.options)} options.")

    def feedback(self, choice: int) -> str:
        """The text shown after choosing option ``choice``."""
        verdict = "✅ Correct." if choice == self.answer else "❌ Not quite."
        return f"{verdict} {self.explanations[choice]}"


class Quiz:
    """A short quiz rendered with ipywidgets; ``Quiz(questions)`` as a cell's last line shows it."""

    def __init__(self, questions: list[Question], title: str = "Knowledge check") -> None:
        self.questions = questions
        self.title = title
        self.choices: dict[int, int] = {}

    def answer(self, number: int, choice: int) -> str:
        """Record option ``choice`` for question ``number`` (both from 0) and return its feedback."""
        self.choices[number] = choice
        return self.questions[number].feedback(choice)

    @property
    def score(self) -> int:
        """How many recorded answers are right."""
        return sum(self.questions[n].answer == c for n, c in self.choices.items())

    def _question_widget(self, number: int, question: Question, tally: widgets.HTML) -> widgets.VBox:
        radio = widgets.RadioButtons(options=[(text, i) for i, text in enumerate(question.options)], value=None,
                                     layout=widgets.Layout(width="auto"))
        button = widgets.Button(description="Check", button_style="primary")
        result = widgets.HTML()

        def on_check(_) -> None:
            if radio.value is None:
                result.value = "<i>Pick an answer first.</i>"
                return
            result.value = self.answer(number, radio.value)
            tally.value = self._tally_html()

        button.on_click(on_check)
        header = widgets.HTML(f"<b>Question {number + 1} of {len(self.questions)}.</b> {question.prompt}")
        return widgets.VBox([header, radio, button, result])

    def _tally_html(self) -> str:
        return f"<b>Score: {self.score}/{len(self.questions)}</b> (aim for {max(1, len(self.questions) - 1)})"

    def widget(self) -> widgets.VBox:
        """Build the quiz as one ipywidgets box."""
        tally = widgets.HTML(self._tally_html())
        boxes = [self._question_widget(n, q, tally) for n, q in enumerate(self.questions)]
        return widgets.VBox([widgets.HTML(f"<h3>{self.title}</h3>"), *boxes, tally])

    def _ipython_display_(self) -> None:
        display(self.widget())

    def __repr__(self) -> str:  # what plain-text front ends (GitHub, exported HTML) show
        lines = [self.title]
        for n, q in enumerate(self.questions):
            lines.append(f"{n + 1}. {q.prompt}")
            lines += [f"   {chr(97 + i)}) {o}" for i, o in enumerate(q.options)]
        return "\n".join(lines)
