"""The hostile class's other cases: restored cells, crashes, identity in any script, and zips graded like folders."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from classroom_fixture import MODULE, feedback, full_marks, knowledge_check_points, needs_sandbox, zip_folder

from helpers.teach import classroom
from helpers.teach.classroom import Settings, grade, print_summary, scratch_course, write_summary
from helpers.teach.notebooks import exercise, solution
from helpers.teach.preprocessors import hidden_lines
from helpers.teach.sandbox import bwrap_command, sandbox_problem

pytestmark = needs_sandbox


# --- The classic broken and hostile cases ---------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        "edited test cell",
        "deleted test cell",
        "changed cell type",
        "duplicated graded cell",
        "renamed (Copy of, in a student folder)",
    ],
)
def test_restored_cells_keep_full_marks_and_are_reported(case, hostile):
    sub = hostile["subs"][case]
    assert sub.status == "graded" and sub.score == full_marks(hostile), (case, sub)
    assert case.startswith("renamed") or any("restored" in n or "duplicated" in n for n in sub.notes), sub.notes


def test_blank_exercise_scores_zero_with_the_blank_error_in_feedback(hostile):
    blank = hostile["subs"]["blank exercise"]
    assert blank.score == 0 and blank.status == "graded"
    page = feedback(hostile, "blank exercise")
    assert "BlankError" in page and "Replace each ___ with your code" in page


def test_unfilled_blanks_and_loops_cost_only_their_cells(hostile):
    assert 0 < hostile["subs"]["unfilled blanks"].score < full_marks(hostile)
    loop = hostile["subs"]["infinite loop"]
    assert loop.status == "graded, cell timed out" and 0 < loop.score < full_marks(hostile)


def test_kernel_crash_and_invalid_json_are_reported_not_fatal(hostile):
    subs = hostile["subs"]
    assert subs["kernel crash"].status == "kernel crashed" and subs["kernel crash"].score is None
    assert subs["invalid JSON"].status == "not a valid notebook"
    for case in ("kernel crash", "invalid JSON"):
        assert subs[case].status in feedback(hostile, case)


def test_redefined_equality_is_caught_by_hidden_tests(hostile):
    letters = knowledge_check_points()  # the attack answers the knowledge check wrong and patches equality
    assert hostile["subs"]["redefined equality"].score == full_marks(hostile) - letters


# --- Feedback ---------------------------------------------------------------------------------------------


def _secret_lines() -> set[str]:
    """The lines of the hidden tests that appear nowhere else: not in the exercise, not in the solution's own code."""
    cells = (
        json.loads(solution(MODULE).read_text(encoding="utf-8"))["cells"]
        + json.loads(exercise(MODULE).read_text(encoding="utf-8"))["cells"]
    )
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    hidden = {line for source in sources for line in hidden_lines(source)}
    outside = [re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", s, flags=re.S) for s in sources]
    shown = {line.strip() for source in outside for line in source.splitlines()}
    return {line for line in hidden - shown if len(line) >= 8}


def _page_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))  # the text a browser shows, code highlighting undone


def test_feedback_pages_show_no_hidden_test_line(hostile):
    secret = _secret_lines()
    assert len(secret) >= 10, "too few hidden lines to check"
    pages = 0
    for case, sub in hostile["subs"].items():
        path = hostile["course"] / "feedback" / sub.student / MODULE / f"{MODULE}.html"
        if sub.status == "superseded" or not path.exists():
            continue
        pages += 1
        text = _page_text(path.read_text(encoding="utf-8"))
        leaked = sorted(line for line in secret if line in text)
        assert not leaked, f"{case}: the feedback page shows hidden test lines: {leaked[:3]}"
    assert pages >= len({sub.student for sub in hostile["subs"].values()}) - 5


def test_feedback_keeps_points_results_and_messages_and_the_teacher_keeps_the_tests(hostile):
    text = _page_text(feedback(hostile, "unfilled blanks"))
    assert "hidden tests: run when graded, not shown here" in text and "BlankError" in text
    assert re.search(r"Score: \d+(\.\d+)? / \d+", text), "the feedback page lost its points"
    sub = hostile["subs"]["solution"]
    teacher = json.loads((hostile["course"] / "autograded" / sub.student / MODULE / f"{MODULE}.ipynb").read_text())
    lines = {line.strip() for c in teacher["cells"] for line in "".join(c["source"]).splitlines()}
    assert _secret_lines() <= lines, "the teacher's autograded copy lost hidden tests"


# --- Identity -------------------------------------------------------------------------------------------


def test_students_in_any_script_get_distinct_ids_and_keep_their_names(hostile):
    subs = hostile["subs"]
    assert subs["name in Cyrillic"].student == "Мария_Иванова" and subs["name in Cyrillic"].name == "Мария Иванова"
    assert subs["name in Chinese"].student == "张伟"
    assert subs["noise word inside a name"].student == "Inflated_Plateau"
    ids = [s.student for s in hostile["all"] if s.status != "superseded"]
    assert len(ids) == len(set(ids)), "two graded files share one student id"


def test_a_resubmission_is_reported_not_silently_dropped(hostile):
    older, newer = hostile["subs"]["resubmission (older)"], hostile["subs"]["resubmission (newer)"]
    assert older.status == "superseded" and newer.status == "graded" and older.student == newer.student
    assert any("newer" in n for n in older.notes) and any("2 files" in n for n in newer.notes)


def test_summary_and_grades_csv_agree(hostile, tmp_path):
    write_summary(hostile["all"], tmp_path / "summary.csv")
    rows = list(csv.DictReader((tmp_path / "summary.csv").open(encoding="utf-8")))
    assert {r["name"] for r in rows} >= {"Мария Иванова", "张伟", "Inflated Plateau"}
    grades = {
        r["student_id"]: float(r["score"])
        for r in csv.DictReader((hostile["course"] / "grades.csv").open(encoding="utf-8"))
    }
    for s in hostile["all"]:
        if s.score is not None:
            assert grades[s.student] == s.score, s


# --- Input ---------------------------------------------------------------------------------------------------


def test_a_zip_is_graded_exactly_as_the_same_folder(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    sol = solution(MODULE).read_bytes()
    for name in (
        "Ada Lovelace_1_assignsubmission_file_01_toy_signal.ipynb",
        "张伟_2_assignsubmission_file_01_toy_signal.ipynb",
    ):
        (downloads / name).write_bytes(sol)
    (downloads / "broken_3_01_toy_signal.ipynb").write_text("{not json")
    results = {}
    for kind, source in (("folder", downloads), ("zip", zip_folder(downloads, tmp_path / "class.zip"))):
        subs = grade(MODULE, source, scratch_course(tmp_path / kind), Settings(timeout=10, jobs=2))
        results[kind] = sorted((s.student, s.name, s.score, s.max_score, s.status) for s in subs)
    assert results["zip"] == results["folder"]


def test_refuses_to_grade_without_a_sandbox_and_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(classroom, "sandbox_problem", lambda: "bubblewrap (bwrap) is not installed; install bubblewrap")
    with pytest.raises(SystemExit, match="refusing to grade: bubblewrap.*install bubblewrap"):
        grade(MODULE, tmp_path, scratch_course(tmp_path / "course"))


def test_no_sandbox_still_grades_and_warns(tmp_path, capsys):
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "Ada_1_01_toy_signal.ipynb").write_bytes(solution(MODULE).read_bytes())
    subs = grade(
        MODULE, tmp_path / "downloads", scratch_course(tmp_path / "course"), Settings(timeout=10, sandbox=False)
    )
    assert subs[0].score == subs[0].max_score > 0
    print_summary(subs, sandboxed=False)
    assert "WITHOUT the sandbox" in capsys.readouterr().out


# --- The same score on any machine --------------------------------------------------------------------


def _printed(path: Path) -> list[str]:
    """Every line a graded notebook printed, with timings masked: what must not depend on the machine."""
    nb = nbformat.read(path, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    return re.sub(r"\d+(\.\d+)? ?(s|ms|µs|seconds)\b", "<time>", text).splitlines()


@pytest.mark.timeout(1800)
def test_training_inside_graded_work_gives_the_same_notebook_with_any_jobs_and_load(tmp_path, graded):
    module = "07_flow_matching"  # trains a network in its mini challenge
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for k in (1, 2):
        (downloads / f"copy{k}_{k}_{module}.ipynb").write_bytes(solution(module).read_bytes())
    graded.start(first=module)
    # the load: one spinner per core at normal priority (the course's own autograding runs niced, so it is no load)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        loaded = grade(module, downloads, scratch_course(tmp_path / "loaded", [module]), Settings(timeout=300, jobs=2))
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    shared = graded[(module, "full")]  # the course's own autograde: plain nbgrader, one notebook at a time
    scores = {(shared.score, shared.max_score)} | {(s.score, s.max_score) for s in loaded}
    assert len(loaded) == 2 and scores == {(shared.max_score, shared.max_score)}, scores
    autograded = lambda s: tmp_path / "loaded" / "autograded" / s.student / module / f"{module}.ipynb"
    printed = [_printed(shared.path), *(_printed(autograded(s)) for s in loaded)]
    assert all(p == printed[0] for p in printed), "a graded notebook printed other numbers on a loaded machine"


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="this kernel has no scheduling autogroups")
def test_a_niced_grading_stays_niced_inside_the_sandbox(tmp_path):
    """bwrap --new-session starts a new scheduling group, which would take a fair share of the CPU whatever the nice
    value of the grading that started it; the sandbox gives the group that nice value, also when kernels start
    together (the kernel takes one such change per 100 ms from unprivileged processes and refuses the others)."""
    if sandbox_problem():
        pytest.skip(sandbox_problem())
    probe = [sys.executable, "-c", "import os; print(os.nice(0), open('/proc/self/autogroup').read().split()[-1])"]
    command = bwrap_command(probe, str(tmp_path), str(tmp_path))
    started = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.nice(7)
        )
        for _ in range(6)
    ]
    seen = [process.communicate(timeout=60) for process in started]
    assert all(out.split() == ["7", "7"] for out, _ in seen), seen
