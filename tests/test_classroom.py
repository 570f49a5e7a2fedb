"""The teacher's one command grades a hostile class in the sandbox: nothing is lost, nothing leaks, tampering gains
nothing, and the honest learners in the same class keep full marks.

The class is graded once per session by tests/classroom_fixture.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from classroom_fixture import MODULE, SECRET, feedback, full_marks, knowledge_check_points, needs_sandbox, outputs

from helpers.teach.attacks import ON_WRONG_LETTERS, SANDBOX_ATTACKS, SURVIVING, TAMPERING
from helpers.teach.honest import HABITS, honest_cases, learner_of
from helpers.teach.notebooks import solution

pytestmark = needs_sandbox


# --- Nothing lost ------------------------------------------------------------------------------


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("part", ["course", "venv", "home", "real ~/.ipython"])
def test_machine_is_byte_identical_after_grading(part, hostile):
    before, after = hostile["before"][part], hostile["after"][part]
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"grading the hostile class changed {part}: {changed[:10]}"


def test_no_process_is_left_running(hostile):
    assert not hostile["left"], f"processes left behind: {hostile['left']}"


def test_downloads_are_never_modified_and_zip_entries_stay_inside(hostile):
    tmp = hostile["tmp"]
    assert not (tmp / "escaped-by-dots.txt").exists() and not Path("/tmp/escaped-absolute.txt").exists()
    assert all(s.source.is_relative_to(Path("/")) for s in hostile["all"])


# --- Isolation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [f"sandbox: {c}" for c in SANDBOX_ATTACKS])
def test_sandbox_attacks_are_graded_normally(case, hostile):
    sub = hostile["subs"][case]
    assert sub.score == full_marks(hostile), (case, sub)


def test_nothing_private_can_be_read(hostile):
    text = outputs(hostile, "sandbox: reads private files")
    assert "blocked" in text and "FOUND" not in text
    assert SECRET not in text and "BEGIN HIDDEN TESTS" not in text
    assert hostile["subs"]["sandbox: reads private files"].status == "graded"


def test_nothing_outside_its_folder_can_be_written(hostile):
    text = outputs(hostile, "sandbox: writes outside its folder")
    assert text.count("blocked") >= 8 and "WROTE" not in text and "DELETED" not in text
    course = hostile["course"]
    assert (course / "solutions" / MODULE / f"{MODULE}.ipynb").exists() and not (course / "planted.txt").exists()


def test_there_is_no_network(hostile):
    text = outputs(hostile, "sandbox: uses the network")
    assert "CONNECTED" not in text and text.count("blocked") == 3
    assert not hostile["connections"], "the sandboxed kernel reached a server on the grading machine"


def test_memory_and_output_limits_become_the_status(hostile):
    assert hostile["subs"]["sandbox: runs out of memory"].status.startswith("ran out of memory in cell ")
    assert hostile["subs"]["sandbox: floods the output"].status.startswith("output limit exceeded in cell ")
    flood = outputs(hostile, "sandbox: floods the output")
    assert len(flood) < 40 * 2**20 and "output limit reached" in flood


# --- Tampering -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [*TAMPERING, "patched library function"])
def test_each_tampering_family_is_set_aside_and_gains_nothing(case, hostile):
    sub = hostile["subs"][f"tampering: {case}"]
    assert sub.status == "graded", (case, sub)  # set aside before every test: nothing left to flag
    if case in ON_WRONG_LETTERS:  # wrong knowledge-check letters, which the cheat would have made right
        assert sub.score == full_marks(hostile) - knowledge_check_points(), (case, sub)
    else:  # the untouched exercise, whose failures the hook would have hidden
        assert sub.score == 0, (case, sub)
        assert any(n.startswith("set aside while the tests ran") for n in sub.notes), (case, sub.notes)


@pytest.mark.parametrize("case", [f"surviving: {c}" for c in SURVIVING])
def test_a_hook_that_comes_back_while_a_test_runs_is_flagged(case, hostile):
    sub = hostile["subs"][case]
    assert sub.status == "kernel tampered with: needs review" and sub.score == 0, (case, sub)
    page = feedback(hostile, case)
    assert "Needs review" in page and "KernelTampered" in page


def test_the_gradebook_flags_exactly_the_tampered_notebooks(hostile):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{hostile['course'] / 'gradebook.db'}") as gb:
        flagged = {
            s.student: gb.find_submission_notebook(MODULE, MODULE, s.student).flagged
            for s in hostile["subs"].values()
            if s.score is not None
        }
    tampered = {s.student for s in hostile["subs"].values() if s.status.startswith("kernel tampered")}
    assert {s for s, f in flagged.items() if f} == tampered
    assert {hostile["subs"][f"surviving: {c}"].student for c in SURVIVING} <= tampered


HONEST = [
    "solution",
    "honest helper code",
    "stderr noise",
    "renamed (no module in the name)",
    "name in Cyrillic",
    "name in Chinese",
    "noise word inside a name",
    *[f"habit: {h}" for h in HABITS],
    "habit: variables named like builtins",
    "habit: extra cells and markdown notes",
]


@pytest.mark.parametrize("case", HONEST)
def test_honest_submissions_keep_full_marks_unflagged(case, hostile):
    sub = hostile["subs"][case]
    assert sub.status == "graded" and sub.score == full_marks(hostile) > 0, (case, sub)
    assert not any("set aside" in n for n in sub.notes), (case, sub.notes)


def test_each_habit_is_in_its_learners_notebook_and_the_warning_filter_hides_no_warning():
    cases = honest_cases(json.loads(solution(MODULE).read_text(encoding="utf-8")))
    for habit, code in HABITS.items():
        cells = [c["source"] for c in cases[f"habit: {habit}"]["cells"]]
        assert cells.count(code) == 1, habit
    assert learner_of("warning filter") != learner_of("a warning raised")


def test_the_honest_class_covers_the_everyday_habits():
    assert len(HONEST) - 7 >= 25
    words = " ".join(HABITS.values())
    for habit in ("%config", "display(", "%pip", "!pip", "autoreload", "tqdm", "warnings", "plt.", "stderr", "seed"):
        assert habit in words, habit
