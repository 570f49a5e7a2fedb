"""The teacher's one command grades a hostile class from a platform zip, in the sandbox, and loses nothing.

One fixture grades the crafted class of helpers.teach.crafted (every broken, tampering and
sandbox-attacking case) from a zip, with two jobs, the sandbox on, and a fake teacher HOME;
the tests then check each case's outcome and that the machine is byte-identical afterwards.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import socket
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest

from helpers.teach import classroom
from helpers.teach.classroom import Settings, grade, print_summary, scratch_course, write_summary
from helpers.teach.crafted import MARKER, SANDBOX_ATTACKS, TAMPERING, Targets, craft_class
from helpers.teach.notebooks import ROOT, solution
from helpers.teach.sandbox import sandbox_problem

MODULE = "01_toy_signal"
SECRET = "teacher-secret-7f3a"
pytestmark = pytest.mark.skipif(sandbox_problem() is not None and not os.environ.get("COURSE_REQUIRE_SANDBOX"),
                                reason=f"no grading sandbox here: {sandbox_problem()}")


def _tree_digest(root: Path, files: list[Path] | None = None) -> dict[str, str]:
    """sha256 of every file under root (or of ``files``), keyed by path; links by their target."""
    digests = {}
    for path in files if files is not None else sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        if path.is_symlink():
            digests[str(path)] = "link:" + os.readlink(path)
        elif path.is_file():
            with path.open("rb") as f:
                digests[str(path)] = hashlib.file_digest(f, "sha256").hexdigest()
    return digests


def _tracked(repo: Path) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, text=True, check=True).stdout
    return [repo / p for p in out.split("\0") if p]


def _machine(repo: Path, home: Path) -> dict[str, dict[str, str]]:
    real_ipython = Path(os.path.expanduser("~")) / ".ipython"
    return {"course": _tree_digest(repo, _tracked(repo)), "venv": _tree_digest(Path(os.sys.prefix)),
            "home": _tree_digest(home), "real ~/.ipython": _tree_digest(real_ipython) if real_ipython.exists() else {}}


def _zip(folder: Path, archive: Path, extra: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
        for name, text in (extra or {}).items():
            zf.writestr(name, text)
    return archive


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("classroom")
    course = scratch_course(tmp / "course")
    home = tmp / "home"
    (home / ".ipython" / "profile_default" / "startup").mkdir(parents=True)
    (home / "secret.txt").write_text(SECRET)
    (home / ".jupyter").mkdir()
    (home / ".jupyter" / "migrated").write_text("")  # what any earlier Jupyter command leaves in a teacher's HOME
    server = socket.create_server(("127.0.0.1", 0))
    connections: list = []
    threading.Thread(target=lambda: connections.append(server.accept()), daemon=True).start()
    targets = Targets(course=course, repo=ROOT, home=home, downloads=tmp / "downloads", venv=Path(os.sys.prefix),
                      port=server.getsockname()[1])
    cases = craft_class(MODULE, tmp / "downloads", targets)
    archive = _zip(tmp / "downloads", tmp / "submissions.zip",
                   {"../escaped-by-dots.txt": "x", "/tmp/escaped-absolute.txt": "x"})
    before = _machine(ROOT, home)
    saved = {k: os.environ.get(k) for k in ("HOME", "COURSE_TEST_SECRET")}
    os.environ.update(HOME=str(home), COURSE_TEST_SECRET=SECRET)
    try:
        submissions = grade(MODULE, archive, course, Settings(timeout=10, jobs=2))
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    after = _machine(ROOT, home)
    left = subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True).stdout.split()
    server.close()
    by_file = {s.source.name: s for s in submissions}
    subs = {case: by_file[Path(name).name] for case, name in cases.items()}
    return {"subs": subs, "course": course, "tmp": tmp, "before": before, "after": after, "left": left,
            "connections": connections, "all": submissions}


def _full(hostile) -> float:
    return hostile["subs"]["solution"].max_score


def _outputs(hostile, case: str) -> str:
    """Everything the graded notebook's cells printed (not their source)."""
    sub = hostile["subs"][case]
    nb = json.loads((hostile["course"] / "autograded" / sub.student / MODULE / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
    text = lambda value: "".join(value) if isinstance(value, list) else value
    return "".join(text(o.get("text", "")) + o.get("evalue", "") + json.dumps(o.get("data", {}))
                   for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))


def _feedback(hostile, case: str) -> str:
    sub = hostile["subs"][case]
    return (hostile["course"] / "feedback" / sub.student / MODULE / f"{MODULE}.html").read_text(encoding="utf-8")


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
    assert sub.score == _full(hostile), (case, sub)


def test_nothing_private_can_be_read(hostile):
    text = _outputs(hostile, "sandbox: reads private files")
    assert "blocked" in text and "FOUND" not in text
    assert SECRET not in text and "BEGIN HIDDEN TESTS" not in text
    assert hostile["subs"]["sandbox: reads private files"].status == "graded"


def test_nothing_outside_its_folder_can_be_written(hostile):
    text = _outputs(hostile, "sandbox: writes outside its folder")
    assert text.count("blocked") >= 8 and "WROTE" not in text and "DELETED" not in text
    course = hostile["course"]
    assert (course / "solutions" / MODULE / f"{MODULE}.ipynb").exists() and not (course / "planted.txt").exists()


def test_there_is_no_network(hostile):
    text = _outputs(hostile, "sandbox: uses the network")
    assert "CONNECTED" not in text and text.count("blocked") == 3
    assert not hostile["connections"], "the sandboxed kernel reached a server on the grading machine"


def test_memory_and_output_limits_become_the_status(hostile):
    assert hostile["subs"]["sandbox: runs out of memory"].status.startswith("ran out of memory in cell ")
    assert hostile["subs"]["sandbox: floods the output"].status.startswith("output limit exceeded in cell ")
    flood = _outputs(hostile, "sandbox: floods the output")
    assert len(flood) < 40 * 2**20 and "output limit reached" in flood


# --- Tampering -------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", [f"tampering: {c}" for c in [*TAMPERING, "patched library function"]])
def test_each_tampering_family_is_caught(case, hostile):
    sub = hostile["subs"][case]
    assert sub.status == "kernel tampered with: needs review", (case, sub)
    assert sub.score == 0, (case, sub)
    feedback = _feedback(hostile, case)
    assert "Needs review" in feedback and "KernelTampered" in feedback


def test_the_gradebook_flags_tampered_notebooks(hostile):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{hostile['course'] / 'gradebook.db'}") as gb:
        flagged = {s.student: gb.find_submission_notebook(MODULE, MODULE, s.student).flagged
                   for s in hostile["subs"].values() if s.score is not None}
    tampered = {s.student for c, s in hostile["subs"].items() if c.startswith("tampering")}
    assert {s for s, f in flagged.items() if f} == tampered


@pytest.mark.parametrize("case", ["solution", "honest helper code", "stderr noise", "renamed (no module in the name)",
                                  "name in Cyrillic", "name in Chinese", "noise word inside a name"])
def test_honest_submissions_are_never_flagged(case, hostile):
    sub = hostile["subs"][case]
    assert sub.status == "graded" and sub.score == _full(hostile) > 0, (case, sub)


# --- The classic broken and hostile cases ---------------------------------------------------------------

@pytest.mark.parametrize("case", ["edited test cell", "deleted test cell", "changed cell type", "duplicated graded cell",
                                  "renamed (Copy of, in a student folder)"])
def test_restored_cells_keep_full_marks_and_are_reported(case, hostile):
    sub = hostile["subs"][case]
    assert sub.status == "graded" and sub.score == _full(hostile), (case, sub)
    assert case.startswith("renamed") or any("restored" in n or "duplicated" in n for n in sub.notes), sub.notes


def test_blank_exercise_scores_zero_with_the_blank_error_in_feedback(hostile):
    blank = hostile["subs"]["blank exercise"]
    assert blank.score == 0 and blank.status == "graded"
    feedback = _feedback(hostile, "blank exercise")
    assert "BlankError" in feedback and "Replace each ___ with your code" in feedback


def test_unfilled_blanks_and_loops_cost_only_their_cells(hostile):
    assert 0 < hostile["subs"]["unfilled blanks"].score < _full(hostile)
    loop = hostile["subs"]["infinite loop"]
    assert loop.status == "graded, cell timed out" and 0 < loop.score < _full(hostile)


def test_kernel_crash_and_invalid_json_are_reported_not_fatal(hostile):
    subs = hostile["subs"]
    assert subs["kernel crash"].status == "kernel crashed" and subs["kernel crash"].score is None
    assert subs["invalid JSON"].status == "not a valid notebook"
    for case in ("kernel crash", "invalid JSON"):
        assert subs[case].status in _feedback(hostile, case)


def test_redefined_equality_is_caught_by_hidden_tests(hostile):
    assert hostile["subs"]["redefined equality"].score == _full(hostile) - 5  # the 5 knowledge-check points


# --- Identity -------------------------------------------------------------------------------------------

def test_students_in_any_script_get_distinct_ids_and_keep_their_names(hostile):
    subs = hostile["subs"]
    assert subs["name in Cyrillic"].student == "Мария_Иванова_2001" and subs["name in Cyrillic"].name == "Мария Иванова_2001"
    assert subs["name in Chinese"].student == "张伟_2002"
    assert subs["noise word inside a name"].student == "Inflated_Plateau_2003"
    ids = [s.student for s in hostile["all"] if s.status != "superseded"]
    assert len(ids) == len(set(ids)), "two graded files share one student id"


def test_a_resubmission_is_reported_not_silently_dropped(hostile):
    older, newer = hostile["subs"]["resubmission (older)"], hostile["subs"]["resubmission (newer)"]
    assert older.status == "superseded" and newer.status == "graded" and older.student == newer.student
    assert any("newer" in n for n in older.notes) and any("2 files" in n for n in newer.notes)


def test_summary_and_grades_csv_agree(hostile, tmp_path):
    write_summary(hostile["all"], tmp_path / "summary.csv")
    rows = list(csv.DictReader((tmp_path / "summary.csv").open(encoding="utf-8")))
    assert {r["name"] for r in rows} >= {"Мария Иванова_2001", "张伟_2002", "Inflated Plateau_2003"}
    grades = {r["student_id"]: float(r["score"]) for r in csv.DictReader((hostile["course"] / "grades.csv").open(encoding="utf-8"))}
    for s in hostile["all"]:
        if s.score is not None:
            assert grades[s.student] == s.score, s


# --- Input ---------------------------------------------------------------------------------------------------

def test_a_zip_is_graded_exactly_as_the_same_folder(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    sol = solution(MODULE).read_bytes()
    for name in ("Ada Lovelace_1_assignsubmission_file_01_toy_signal.ipynb", "张伟_2_assignsubmission_file_01_toy_signal.ipynb"):
        (downloads / name).write_bytes(sol)
    (downloads / "broken_3_01_toy_signal.ipynb").write_text("{not json")
    results = {}
    for kind, source in (("folder", downloads), ("zip", _zip(downloads, tmp_path / "class.zip"))):
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
    subs = grade(MODULE, tmp_path / "downloads", scratch_course(tmp_path / "course"), Settings(timeout=10, sandbox=False))
    assert subs[0].score == subs[0].max_score > 0
    print_summary(subs, sandboxed=False)
    assert "WITHOUT the sandbox" in capsys.readouterr().out
