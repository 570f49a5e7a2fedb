"""A teacher's term: late work, the LMS round trip (Canvas and Moodle gradebook CSVs), and the term's table.

The two gradebook samples are written here by us, after the layouts each LMS documents for its export
(Canvas: Grades > Export; Moodle: Grades > Export > Plain text file) and imports back.
"""

from __future__ import annotations

import csv
import os
import time
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from classroom_fixture import needs_sandbox

from helpers.teach import classroom
from helpers.teach.classroom import scratch_course
from helpers.teach.intake import Submission
from helpers.teach.late import LateError, Penalty, days_late, parse_due, parse_penalty
from helpers.teach.notebooks import exercise, solution
from helpers.teach.roster import RosterError, export, match, module_column, read_roster

CANVAS = (
    "Student,ID,SIS User ID,SIS Login ID,Section,01 toy signal (8101),02 forward process (8102),"
    "Current Score,Final Score\r\n"
    "    Points Possible,,,,,10,10,(read only),(read only)\r\n"
    '"Doe, Jane",12345,S001,jdoe,Diffusion 101,,,,\r\n'
    '"Roe, Mary",501,S002,mroe,Diffusion 101,,,,\r\n'
    '"Poe, Edgar",777,S003,epoe,Diffusion 101,,,,\r\n'
    '"Student, Test",999,,,Diffusion 101,,,,\r\n'
)
MOODLE = (
    "First name,Last name,ID number,Institution,Department,Email address,"
    "Assignment: 01 toy signal (Real),Course total (Real),Last downloaded from this course\n"
    "Jane,Doe,,,,jane.doe@example.org,-,-,1796540000\n"
    "Мария,Иванова,,,,maria@example.org,-,-,1796540000\n"
    "Ada,Lovelace,,,,ada@example.org,-,-,1796540000\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path / name


def _sub(name: str, student: str, platform: str, score: float = 7.0) -> Submission:
    sub = Submission(Path(f"{name}.ipynb"), name=name, student=student, platform=platform)
    sub.score, sub.max_score = score, 10.0
    return sub


# --- Rosters -----------------------------------------------------------------------------------------------


def test_canvas_and_moodle_rosters_are_told_apart_and_keyed_as_their_downloads(tmp_path):
    canvas = read_roster(_write(tmp_path, "canvas.csv", "\ufeff" + CANVAS))
    assert canvas.platform == "canvas" and set(canvas.learners) == {"12345", "501", "777"}  # no points row, no test
    moodle = read_roster(_write(tmp_path, "moodle.csv", MOODLE))
    assert moodle.platform == "moodle" and set(moodle.learners) == {"jane doe", "мария иванова", "ada lovelace"}
    assert module_column(canvas, "01_toy_signal") == 5 and module_column(moodle, "01_toy_signal") == 6


@pytest.mark.parametrize(
    "text, problem",
    [
        ("name,score\nJane,3\n", r"not a gradebook export.*Student, ID, SIS User ID.*First name, Last name.*Export"),
        (CANVAS + '"Doe, Jane",12345,S001,jdoe,Diffusion 101,,,,\r\n', r"user id 12345 twice.*Remove the duplicate"),
        (MOODLE + "Jane,Doe,,,,jane2@example.org,-,-,1\n", r"the name Jane Doe twice.*cannot be told apart"),
    ],
)
def test_a_roster_that_cannot_be_used_is_refused_with_the_fix(tmp_path, text, problem):
    with pytest.raises(RosterError, match=problem):
        read_roster(_write(tmp_path, "roster.csv", text))


def test_a_module_without_its_column_names_the_fix(tmp_path):
    moodle = read_roster(_write(tmp_path, "moodle.csv", MOODLE))
    with pytest.raises(RosterError, match=r"no column for 02_forward_process.*Create the assignment in Moodle.*column"):
        module_column(moodle, "02_forward_process")
    assert module_column(moodle, "02_forward_process", "Course total (Real)") == 7
    with pytest.raises(RosterError, match=r"no column 'Week 2'"):
        module_column(moodle, "02_forward_process", "Week 2")


def test_missing_students_and_strangers_are_reported_and_another_course_is_refused(tmp_path):
    canvas = read_roster(_write(tmp_path, "canvas.csv", CANVAS))
    subs = [_sub("doejane", "doejane_12345", "canvas"), _sub("smithjo", "smithjo_4242", "canvas")]
    found = match(canvas, subs)
    assert list(found.matched) == ["12345"] and [s.student for s in found.unknown] == ["smithjo_4242"]
    assert found.missing == ["Roe, Mary (id 501)", "Poe, Edgar (id 777)"]
    moodle = read_roster(_write(tmp_path, "moodle.csv", MOODLE))
    namesakes = [_sub("Jane Doe", "Jane_Doe_11", "moodle"), _sub("Jane Doe", "Jane_Doe_12", "moodle")]
    found = match(moodle, [*namesakes, _sub("Ada Lovelace", "Ada_Lovelace", "moodle")])
    assert list(found.matched) == ["ada lovelace"] and found.unknown == namesakes  # neither takes Jane Doe's row
    assert all("fill it by hand" in " ".join(s.notes) for s in namesakes)
    with pytest.raises(RosterError, match=r"none of the 1 submissions.*another course"):
        match(canvas, [_sub("smithjo", "smithjo_4242", "canvas")])


@pytest.mark.parametrize("platform, text", [("canvas", "\ufeff" + CANVAS), ("moodle", MOODLE)])
def test_the_export_is_the_roster_with_only_this_modules_column_filled(tmp_path, platform, text):
    roster = read_roster(_write(tmp_path, "roster.csv", text))
    subs = (
        [_sub("doejane", "doejane_12345", "canvas", 9.5)]
        if platform == "canvas"
        else [_sub("Jane Doe", "Jane_Doe", "moodle", 9.5), _sub("Мария Иванова", "Мария_Иванова", "moodle", 4)]
    )
    found = match(roster, subs)
    column = module_column(roster, "01_toy_signal")
    scores = {key: sub.score for key, sub in found.matched.items()}
    assert export(roster, found, column, scores, tmp_path / "import.csv") == len(subs)
    written = (tmp_path / "import.csv").read_bytes().decode("utf-8")
    assert written.startswith("\ufeff") == (platform == "canvas")  # as each LMS wrote it
    before = list(csv.reader(text.removeprefix("\ufeff").splitlines()))
    after = list(csv.reader(written.removeprefix("\ufeff").splitlines()))
    assert len(after) == len(before) and after[0] == before[0]
    changed = {(i, j) for i, (a, b) in enumerate(zip(before, after)) for j, (x, y) in enumerate(zip(a, b)) if x != y}
    assert {j for _, j in changed} == {column} and len(changed) == len(subs)
    assert after[roster.learners[next(iter(found.matched))]][column] == "9.5"


# --- Late work ---------------------------------------------------------------------------------------------


def test_due_and_penalty_are_read_or_refused_with_the_form_to_use():
    assert parse_due("2026-12-06 23:59") == parse_due("2026-12-06T23:59") == datetime(2026, 12, 6, 23, 59)
    with pytest.raises(LateError, match=r"write it as 2026-12-06 23:59"):
        parse_due("06/12/2026")
    assert parse_penalty("10,50") == Penalty(10, 50) and parse_penalty("5%") == Penalty(5, 100)
    with pytest.raises(LateError, match=r"--late-penalty 10,50"):
        parse_penalty("ten percent")
    policy = Penalty(10, 50)
    assert [policy.final(8.0, d) for d in (None, 0, 1, 3, 9)] == [8.0, 8.0, 7.2, 5.6, 4.0]  # capped at 50 %


def test_days_late_count_started_days_after_the_deadline(tmp_path):
    due = datetime(2026, 12, 6, 23, 59)
    path = tmp_path / "a.ipynb"
    path.write_text("{}")
    for stamp, days in ((due.timestamp() - 60, 0), (due.timestamp() + 60, 1), (due.timestamp() + 86400 * 2.5, 3)):
        os.utime(path, (stamp, stamp))
        assert days_late(Submission(path), due) == days
    assert days_late(Submission(path), None) is None


# --- A term, graded for real --------------------------------------------------------------------------------


def _canvas_zip(path: Path, files: dict[str, bytes], when: dict[str, float]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, time.localtime(when[name])[:6])
            zf.writestr(info, data)
    return path


@needs_sandbox
@pytest.mark.timeout(1200)
def test_a_two_module_canvas_term_round_trip(tmp_path, capsys):
    """Two modules from Canvas zips: one id per learner in both, LATE counted and penalised, the LMS file filled."""
    course, roster = scratch_course(tmp_path / "course"), _write(tmp_path, "canvas.csv", CANVAS)
    due = datetime(2026, 12, 6, 23, 59).timestamp()
    for module, submission in (("01_toy_signal", 70001), ("02_forward_process", 80001)):
        files = {
            f"doejane_12345_{submission}_{module}.ipynb": solution(module).read_bytes(),
            f"roemary_LATE_501_{submission + 1}_{module}.ipynb": solution(module).read_bytes(),
            f"strangerann_4242_{submission + 2}_{module}.ipynb": exercise(module).read_bytes(),
        }
        when = dict(zip(files, (due - 3600, due + 86400 * 1.5, due - 60)))
        archive = _canvas_zip(tmp_path / f"submissions_{module}.zip", files, when)
        options = ["--course", str(course), "--jobs", "2", "--timeout", "30", "--roster", str(roster)]
        options += ["--export", str(tmp_path / f"import_{module}.csv"), "--due", "2026-12-06 23:59"]
        classroom.main([module, str(archive), *options, "--late-penalty", "10,50", "--similarity"])
    printed = capsys.readouterr().out
    # two learners who wrote the model answer, and a blank: nothing of their own in common, so no pair
    assert "similarity: 0 pair(s) above 50% among 3 submissions" in printed
    assert (course / "similarity_02_forward_process.html").is_file()
    assert "missing (no submission): Poe, Edgar (id 777)" in printed and "not on the roster: strangerann" in printed
    summary = {r["student"]: r for r in csv.DictReader((course / "summary_02_forward_process.csv").open())}
    late = summary["roemary_501"]
    assert late["late"] == "late (2 days)" and float(late["final"]) == pytest.approx(0.8 * float(late["score"]))
    assert float(summary["doejane_12345"]["final"]) == float(summary["doejane_12345"]["score"]) > 0
    filled = list(csv.DictReader((tmp_path / "import_02_forward_process.csv").open(encoding="utf-8-sig")))
    by_id = {r["ID"]: r["02 forward process (8102)"] for r in filled}
    assert float(by_id["501"]) == float(late["final"]) and by_id["777"] == "" and by_id["999"] == ""
    assert "Canvas gives '02 forward process (8102)' 10 points possible, the module 18" in printed
    classroom.main(["term", "--course", str(course)])
    term = {r["student"]: r for r in csv.DictReader((course / "term.csv").open(encoding="utf-8"))}
    assert set(term) == {"doejane_12345", "roemary_501", "strangerann_4242"}  # one row per learner, both modules
    assert all(term[s]["01_toy_signal"] and term[s]["02_forward_process"] for s in term)
    assert "02_forward_process: late (2 days)" in term["roemary_501"]["late"]


# --- Similarity ---------------------------------------------------------------------------------------------


def _renamed(source: str) -> str:
    """A copy dressed up: names changed, comments rewritten, spacing moved."""
    for old, new in (
        ("signal", "values"),
        ("steps", "n_iter"),
        ("step", "i"),
        ("leftover", "rest"),
        ("ends", "finals"),
        ("position", "pos"),
        ("trial", "t"),
        ("denoised", "cleaned"),
        ("actual", "real"),
    ):
        source = source.replace(old, new)
    return "\n".join(
        line.split("#")[0].rstrip() + ("  # my own work" if "=" in line else "") for line in source.split("\n")
    )


def test_similarity_lists_the_copied_pair_and_not_the_independent_solution(tmp_path):
    import copy

    import nbformat
    from alternatives import notebook

    from helpers.teach import similarity

    module = "01_toy_signal"
    course = tmp_path / "course"
    for folder, path in (("solutions", solution(module)), ("exercises", exercise(module))):
        (course / folder / module).mkdir(parents=True)
        (course / folder / module / path.name).write_bytes(path.read_bytes())
    original = notebook(module, "numpy arrays and numpy scalars")
    disguised = copy.deepcopy(original)
    for cell in disguised.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = _renamed(cell.source)
    independent = notebook(module, "tuples, loops and another formula")  # the same task, the same shape, own work
    reference = nbformat.read(solution(module), as_version=4)  # the model answer, as many honest learners write it
    class_ = {"ada": original, "bob": disguised, "cy": independent, "dee": reference, "eve": copy.deepcopy(reference)}
    subs = []
    for student, nb in class_.items():
        (course / "submitted" / student / module).mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / module / f"{module}.ipynb")
        subs.append(Submission(Path(f"{student}.ipynb"), name=student, student=student, score=5.0, max_score=10.0))
    out, lines = similarity.report(module, subs, course)
    listed = {frozenset(line.split(":")[0].strip().split(" and ")) for line in lines[1:-1]}
    assert listed == {frozenset({"ada", "bob"})}, lines
    page = out.read_text(encoding="utf-8")
    assert "a reason to look, not proof" in page and "No score was changed" in page and "ada.py" in page
    assert [s.score for s in subs] == [5.0] * 5
