"""The teacher's one command grades a crafted class of hostile submissions, and exercises/ leaks nothing."""
from __future__ import annotations

import csv
import hashlib
import json
import re

import pytest

from benchmarks.grading import craft_class, scratch_course
from helpers.classroom import grade, student_from_name
from helpers.grading import split_marked_line
from helpers.notebooks import ROOT, exercise, modules, solution

MODULE = "01_toy_signal"


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("classroom")
    (tmp / "course").mkdir()
    course = scratch_course(tmp / "course")
    cases = craft_class(MODULE, tmp / "downloads")
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp / "downloads").rglob("*") if p.is_file()}
    submissions = grade(MODULE, tmp / "downloads", course, timeout=10)
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp / "downloads").rglob("*") if p.is_file()}
    by_file = {str(s.source.relative_to(tmp / "downloads")): s for s in submissions}
    return {case: by_file[name] for case, name in cases.items()}, course, before, after


def _full(subs):
    return subs["solution"].max_score


@pytest.mark.timeout(1800)
def test_submitted_files_are_never_modified(graded_class):
    _, _, before, after = graded_class
    assert before == after


@pytest.mark.parametrize("case", [
    "solution", "edited test cell", "deleted test cell", "changed cell type", "duplicated graded cell",
    "renamed (Copy of, in a student folder)", "renamed (no module in the name)", "stderr noise",
])
def test_cases_that_keep_full_marks(case, graded_class):
    subs, *_ = graded_class
    assert subs[case].status == "graded" and subs[case].score == _full(subs) > 0, (case, subs[case])


def test_restorations_are_reported(graded_class):
    subs, *_ = graded_class
    assert any("restored" in n and "test_" in n for n in subs["edited test cell"].notes)
    assert any("deleted cell" in n for n in subs["deleted test cell"].notes)
    assert any("changed cell type" in n for n in subs["changed cell type"].notes)
    assert any("duplicated" in n for n in subs["duplicated graded cell"].notes)


def test_renamed_files_map_to_the_student(graded_class):
    subs, *_ = graded_class
    assert subs["renamed (Copy of, in a student folder)"].student == "grace_1010"
    assert subs["solution"].student == "Ada_Lovelace_1001"


def test_blank_exercise_scores_zero_with_the_blank_error_in_feedback(graded_class):
    subs, course, *_ = graded_class
    blank = subs["blank exercise"]
    assert blank.score == 0 and blank.status == "graded"
    feedback = (course / "feedback" / blank.student / MODULE / f"{MODULE}.html").read_text()
    assert "BlankError" in feedback and "Replace each ___ with your code" in feedback


def test_unfilled_blanks_cost_only_their_cells(graded_class):
    subs, *_ = graded_class
    assert 0 < subs["unfilled blanks"].score < _full(subs)


def test_infinite_loop_times_out_and_costs_only_its_cell(graded_class):
    subs, *_ = graded_class
    loop = subs["infinite loop"]
    assert loop.status == "graded, cell timed out" and 0 < loop.score < _full(subs)


def test_kernel_crash_and_invalid_json_are_reported_not_fatal(graded_class):
    subs, course, *_ = graded_class
    assert subs["kernel crash"].status == "kernel crashed" and subs["kernel crash"].score is None
    assert subs["invalid JSON"].status == "not a valid notebook"
    for case in ("kernel crash", "invalid JSON"):
        page = course / "feedback" / subs[case].student / MODULE / f"{MODULE}.html"
        assert subs[case].status in page.read_text()


def test_redefined_equality_is_caught_by_hidden_tests(graded_class):
    subs, *_ = graded_class
    assert subs["redefined equality"].score == _full(subs) - 5  # the 5 knowledge-check points


def test_stderr_noise_reached_a_test_cell_and_cost_nothing(graded_class):
    subs, course, *_ = graded_class
    nb = (course / "autograded" / subs["stderr noise"].student / MODULE / f"{MODULE}.ipynb").read_text()
    assert "[stderr from your code]" in nb


def test_grades_csv_and_feedback_for_every_graded_student(graded_class):
    subs, course, *_ = graded_class
    rows = list(csv.DictReader((course / "grades.csv").open()))
    graded = {s.student for s in subs.values() if s.score is not None}
    assert graded <= {r["student_id"] for r in rows}
    for s in subs.values():
        assert (course / "feedback" / s.student / MODULE / f"{MODULE}.html").exists(), s.student


@pytest.mark.parametrize("name, student", [
    ("Jane Doe_1234567_assignsubmission_file_01_toy_signal.ipynb", "Jane_Doe_1234567"),
    ("doejane_LATE_12345_67890_01_toy_signal-1.ipynb", "doejane_12345_67890"),
    ("Jane Doe - 01_toy_signal (1).ipynb", "Jane_Doe"),
])
def test_student_from_platform_file_names(name, student, tmp_path):
    assert student_from_name(tmp_path / name, MODULE, tmp_path) == student


# --- integrity: exercises/ never contains solution code or hidden tests ---------------------

def _split_lines(nb: dict) -> tuple[set[str], set[str]]:
    """(secret, open) lines of a solution notebook: solution regions, filled blanks and hidden tests, vs the rest."""
    secret, open_, inside = set(), set(), False
    for cell in nb["cells"]:
        for line in "".join(cell["source"]).split("\n"):
            stripped = line.strip()
            if re.search(r"### (BEGIN|END) (SOLUTION|HIDDEN TESTS)", stripped):
                inside = "BEGIN" in stripped
                continue
            marked = split_marked_line(line)
            if marked:
                secret.add(marked[0].strip())
            elif stripped:
                (secret if inside else open_).add(stripped)
    return secret, open_


@pytest.mark.parametrize("module", modules())
def test_exercises_hold_no_solution_or_hidden_test_line(module):
    secret, open_ = _split_lines(json.loads(solution(module).read_text(encoding="utf-8")))
    public = set()
    for cell in json.loads(exercise(module).read_text(encoding="utf-8"))["cells"]:
        public |= {line.strip() for line in "".join(cell["source"]).split("\n")}
    leaked = (secret - open_) & public  # a line the solution also shows openly (an import, say) is no secret
    assert not leaked, f"exercises/{module} contains solution or hidden-test lines: {sorted(leaked)[:5]}"
    text = exercise(module).read_text()
    assert "BEGIN HIDDEN TESTS" not in text and "# BLANK:" not in text and "BEGIN SOLUTION" not in text
