"""Unit tests of the fill-in-the-blank mechanism and the quiz."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from IPython.core.interactiveshell import InteractiveShell

from helpers.blanks import BlankError, ___
from helpers.teach.preprocessors import blank_line, blank_source, fill_stub, has_blanks, split_marked_line


@pytest.mark.parametrize(
    "use",
    [
        lambda: 1 + ___,
        lambda: ___ - 1,
        lambda: [1, 2][___],
        lambda: float(___),
        lambda: str(___),
        lambda: np.sqrt(___),
        lambda: torch.ones(2) * ___,
        lambda: torch.sqrt(___),
        lambda: ___.mean(),
        lambda: ___(),
        lambda: list(___),
        lambda: ___ == 1,
        lambda: bool(___),
    ],
)
def test_every_use_of_an_unfilled_blank_raises(use):
    with pytest.raises(BlankError, match="blank ___ to fill"):
        use()


def test_blank_stays_introspectable():
    assert not hasattr(___, "_repr_html_")  # IPython's display machinery must not crash on it
    assert repr(___) == "___" and isinstance(hash(___), int)


@pytest.fixture
def shell():
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    yield sh
    InteractiveShell.clear_instance()


def test_ipython_does_not_overwrite_the_sentinel_and_a_cell_with_a_blank_stops(shell):
    shell.run_cell("from helpers.blanks import ___")
    for value in ("1", "2", "3", "4"):  # without the import, ___ would become the output from three cells ago
        shell.run_cell(value, store_history=True)
    assert shell.user_ns["___"] is ___
    result = shell.run_cell("x = 5\ny = x + ___", store_history=True)
    assert isinstance(result.error_in_exec, BlankError)
    assert "line 2" in str(result.error_in_exec)
    assert "x" not in shell.user_ns, "a cell with a blank must stop before its first line runs"
    assert shell.run_cell("z = 1 + 1").success and shell.user_ns["z"] == 2


def test_without_the_sentinel_ipython_would_run_a_blank_silently(shell):
    """The trap the mechanism exists for: ___ is IPython's third-last output."""
    for value in ("10", "20", "30"):
        shell.run_cell(value, store_history=True)
    result = shell.run_cell("y = 1 + ___", store_history=True)
    assert result.success and shell.user_ns["y"] == 11


@pytest.mark.parametrize(
    "solution, student",
    [
        (
            "x = [v + random.gauss(0, 0.1) for v in x]  # BLANK: random.gauss(0, 0.1)",
            "x = [v + ___ for v in x]  # 👉 replace ___",
        ),
        ("    d = a - b  # BLANK: a ;; b", "    d = ___ - ___  # 👉 replace ___"),
        ('q1 = "b"  # BLANK: "b"', "q1 = ___  # 👉 replace ___"),
        ("y = f(x)  # 👉 call f  # BLANK: f(x)", "y = ___  # 👉 call f"),
        ("plain = line  # a comment", "plain = line  # a comment"),
    ],
)
def test_blank_line_derivation(solution, student):
    assert blank_line(solution) == student


def test_blank_answers_fill_back_to_the_solution():
    line = "alpha_bar = np.cumprod(1 - beta)  # BLANK: np.cumprod ;; 1 - beta"
    code, answers = split_marked_line(line)
    assert fill_stub(blank_line(line), answers) == code


def test_a_marker_whose_answer_is_not_on_the_line_is_an_error():
    with pytest.raises(ValueError, match="does not occur"):
        blank_line("x = 1  # BLANK: 2")


def test_blank_source_keeps_unmarked_lines():
    src = "a = 1\nb = a + 2  # BLANK: 2\nprint(b)"
    assert blank_source(src) == "a = 1\nb = a + ___  # 👉 replace ___\nprint(b)"
    assert has_blanks(src) and not has_blanks("a = 1")
