"""Grade a class's downloaded submissions for one module with one command, on nbgrader.

    python -m helpers.classroom 01_toy_signal ~/Downloads/submissions.zip

The submissions are a folder or a zip, with file names as a learning platform writes them
("Jane Doe_1234_assignsubmission_file_01_toy_signal.ipynb", "Copy of 01_toy_signal.ipynb"
inside a per-student folder, ...). Each is copied into nbgrader's ``submitted/`` folder of
the course and graded by its own ``nbgrader autograde`` process, so one broken or hostile
notebook never stops the others; the originals are only read. Scores come from nbgrader's
gradebook; grades go to ``grades.csv`` (``nbgrader export``) and feedback to HTML
(``nbgrader generate_feedback``). A summary table is printed and written as ``summary.csv``.
"""
from __future__ import annotations

import argparse
import csv
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from helpers.notebooks import ROOT, kernel_env

PLATFORM_NOISE = re.compile(
    r"(copy of|assignsubmission_file|onlinetext|late|\(\d+\)|-\d+$)", re.IGNORECASE
)


@dataclass
class Submission:
    """One file found among the downloads, and what became of it."""

    source: Path
    student: str = ""
    status: str = "graded"
    notes: list[str] = field(default_factory=list)
    score: float | None = None
    max_score: float | None = None


def _slug(text: str) -> str:
    """A student id nbgrader accepts as a folder name and glob: letters, digits, '-' and '_'."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_-") or "unknown"


def student_from_name(path: Path, module: str, top: Path) -> str:
    """The student id that a platform's file name (or per-student folder) carries."""
    stem = PLATFORM_NOISE.sub(" ", path.stem.replace(module, " ").strip())
    student = _slug(re.sub(r"[\s_-]+", "_", stem))
    if student != "unknown":
        return student
    if path.parent != top:  # "Copy of 01_toy_signal.ipynb" inside a folder named for the student
        return _slug(path.parent.relative_to(top).parts[0])
    return student


def grade_ids(nb: dict) -> set[str]:
    """The nbgrader grade ids of a notebook's cells."""
    return {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.get("cells", [])} - {None}


def collect(source: Path, module: str, expected_ids: set[str], scratch: Path) -> list[Submission]:
    """Find every notebook in the folder or zip and map it to a student, or say why not."""
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            archive.extractall(scratch / "unzipped")
        top = scratch / "unzipped"
    elif source.is_dir():
        top = source
    else:
        raise SystemExit(f"{source} is neither a folder nor a zip file; pass the folder or zip your platform gave you.")
    files = sorted(p for p in top.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and "__MACOSX" not in p.parts)
    if not files:
        raise SystemExit(f"no .ipynb files under {source}; is this the right download?")
    found = []
    for path in files:
        sub = Submission(path)
        try:
            nb = json.loads(path.read_bytes())
            nbformat.validate(nbformat.from_dict(nb))
        except Exception as error:  # not JSON, or JSON that is not a notebook
            sub.status, sub.student = "not a valid notebook", student_from_name(path, module, top)
            sub.notes.append(f"{type(error).__name__}: {str(error).splitlines()[0][:160]}")
            found.append(sub)
            continue
        sub.student = student_from_name(path, module, top)
        if module not in path.name and not (grade_ids(nb) & expected_ids):
            sub.status = "not this module"
            sub.notes.append(f"the file name lacks {module!r} and none of its graded cells belong to {module}")
        elif module not in path.name:
            sub.notes.append(f"renamed file; recognised as {module} by its graded cells")
        found.append(sub)
    _drop_resubmissions(found)
    return found


def _drop_resubmissions(found: list[Submission]) -> None:
    """When one student has several gradable files, grade the newest and report the rest."""
    by_student: dict[str, list[Submission]] = {}
    for sub in found:
        if sub.status == "graded":
            by_student.setdefault(sub.student, []).append(sub)
    for subs in by_student.values():
        subs.sort(key=lambda s: s.source.stat().st_mtime)
        for older in subs[:-1]:
            older.status = "superseded"
            older.notes.append(f"{subs[-1].source.name} is newer and was graded instead")


def nbgrader(args: list[str], course: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run one nbgrader command in the course folder."""
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=kernel_env(),
                          capture_output=True, text=True, timeout=timeout)


def _cells_by_id(nb: dict) -> dict[str, list[dict]]:
    cells: dict[str, list[dict]] = {}
    for c in nb.get("cells", []):
        gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid:
            cells.setdefault(gid, []).append(c)
    return cells


def tampering(submitted: dict, released: dict, solved: dict) -> list[str]:
    """What the learner changed in graded cells that nbgrader will put back (for the report only)."""
    notes = []
    mine, theirs, ours = _cells_by_id(submitted), _cells_by_id(released), _cells_by_id(solved)
    if any(len(v) > 1 for v in mine.values()):
        notes.append("duplicated graded cell: the last copy was graded")
    for gid, (cell,) in ((g, v[:1]) for g, v in theirs.items()):
        if gid not in mine:
            notes.append(f"deleted cell {gid} restored")
            continue
        if mine[gid][-1]["cell_type"] != cell["cell_type"]:
            notes.append(f"changed cell type of {gid} restored")
        elif cell["metadata"]["nbgrader"].get("locked") and "".join(mine[gid][-1]["source"]) not in (
                "".join(cell["source"]), "".join(ours[gid][0]["source"])):
            notes.append(f"edited locked cell {gid} restored")
    return notes


def _outcome(sub: Submission, course: Path, module: str, log: str) -> None:
    """Read what autograde left (the executed notebook) to name timeouts, crashes and blanks."""
    graded = course / "autograded" / sub.student / module / f"{module}.ipynb"
    if not graded.exists():
        crashed = "DeadKernelError" in log or "kernel died" in log.lower()
        sub.status = "kernel crashed" if crashed else "autograde failed"
        last = [line for line in log.splitlines() if "Error" in line][-1:] or ["see the nbgrader log"]
        sub.notes.append(last[0].strip()[:200])
        return
    nb = json.loads(graded.read_text(encoding="utf-8"))
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o["output_type"] == "error"]
    timeouts = sum(o.get("ename") == "CellTimeoutError" for o in errors)
    blanks = sum(o.get("ename") == "BlankError" for o in errors)
    if timeouts:
        sub.status = "graded, cell timed out"
        sub.notes.append(f"{timeouts} cell(s) stopped at the time limit")
    if blanks:
        sub.notes.append(f"{blanks} cell(s) with unfilled blanks")


def _error_feedback(sub: Submission, path: Path) -> None:
    """A feedback page for a submission nbgrader could not grade."""
    path.parent.mkdir(parents=True, exist_ok=True)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in sub.notes)
    path.write_text(
        f"<html><body><h2>{html.escape(sub.source.name)}</h2><p>Status: <b>{html.escape(sub.status)}</b>. "
        f"Score: 0.</p><ul>{notes}</ul><p>Open the notebook in Jupyter, run it top to bottom, fix what "
        "fails, and submit it again.</p></body></html>", encoding="utf-8")


def grade(module: str, source: Path, course: Path = ROOT, timeout: int = 60) -> list[Submission]:
    """Grade every submission of ``module`` found in ``source``; return one record per file."""
    course = course.resolve()
    if not (course / "solutions" / module / f"{module}.ipynb").exists():
        known = ", ".join(sorted(p.name for p in (course / "solutions").iterdir() if p.is_dir()))
        raise SystemExit(f"unknown module {module!r}; choose one of: {known}")
    result = nbgrader(["generate_assignment", module, "--force"], course, 600)  # records the graded cells in the gradebook
    if result.returncode:
        raise SystemExit(f"nbgrader generate_assignment failed:\n{result.stderr[-2000:]}")
    expected = grade_ids(json.loads((course / "solutions" / module / f"{module}.ipynb").read_text()))
    with tempfile.TemporaryDirectory() as scratch:
        submissions = collect(source, module, expected, Path(scratch))
        for sub in submissions:
            if sub.status != "graded":
                continue
            dest = course / "submitted" / sub.student / module
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            shutil.copyfile(sub.source, dest / f"{module}.ipynb")  # a copy: the download is never modified
    released = json.loads((course / "exercises" / module / f"{module}.ipynb").read_text(encoding="utf-8"))
    solved = json.loads((course / "solutions" / module / f"{module}.ipynb").read_text(encoding="utf-8"))
    gradable = [sub for sub in submissions if sub.status == "graded"]
    for sub in gradable:
        sub.notes += tampering(json.loads(sub.source.read_bytes()), released, solved)
    # One nbgrader process grades them all; nbgrader isolates each student's failure, and a student
    # it could not grade is graded again on their own, so their log says why.
    per_cell = f"--Execute.timeout={timeout}"
    batch_limit = (timeout * 40 + 120) * max(1, len(gradable))
    try:
        nbgrader(["autograde", module, "--force", per_cell], course, batch_limit)
    except subprocess.TimeoutExpired:
        pass
    for sub in gradable:
        if not (course / "autograded" / sub.student / module).exists():
            try:
                run = nbgrader(["autograde", module, f"--student={sub.student}", "--force", per_cell], course, timeout * 40 + 120)
                log = run.stdout + run.stderr
            except subprocess.TimeoutExpired:
                log = "the whole notebook ran past its time limit"
        else:
            log = ""
        _outcome(sub, course, module, log)
    nbgrader(["generate_feedback", module, "--force"], course, 600 + 30 * len(gradable))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in submissions:
            try:
                record = gb.find_submission(module, sub.student)
                if (course / "autograded" / sub.student / module).exists() and sub.status.startswith("graded"):
                    sub.score, sub.max_score = record.score, record.max_score
            except MissingEntry:
                pass
            if sub.score is None:
                sub.max_score = gb.find_assignment(module).max_score
                _error_feedback(sub, course / "feedback" / sub.student / module / f"{module}.html")
    nbgrader(["export", f"--to={course / 'grades.csv'}", f"--assignment={module}"], course, 600)
    return submissions


def write_summary(submissions: list[Submission], path: Path) -> None:
    """The summary table as CSV: student, score, max, status, notes, file."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "score", "max", "status", "notes", "file"])
        for s in submissions:
            writer.writerow([s.student, s.score if s.score is not None else 0, s.max_score, s.status, "; ".join(s.notes), s.source.name])


def print_summary(submissions: list[Submission]) -> None:
    """Print the summary table: student, score, max, status (and what happened)."""
    width = max([len(s.student) for s in submissions] + [7])
    print(f"{'student':<{width}}  {'score':>6}  {'max':>5}  status")
    for s in sorted(submissions, key=lambda s: s.student):
        score = f"{s.score:g}" if s.score is not None else "0"
        extra = f" ({'; '.join(s.notes)})" if s.notes else ""
        print(f"{s.student:<{width}}  {score:>6}  {s.max_score or 0:>5g}  {s.status}{extra}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.classroom", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("module", help="the module to grade, e.g. 01_toy_signal")
    parser.add_argument("submissions", type=Path, help="the folder or zip of downloaded notebooks")
    parser.add_argument("--course", type=Path, default=ROOT, help="the course folder (default: this repository)")
    parser.add_argument("--timeout", type=int, default=60, help="seconds a cell may run before it is stopped (default 60)")
    args = parser.parse_args(argv)
    submissions = grade(args.module, args.submissions, args.course, args.timeout)
    write_summary(submissions, args.course.resolve() / f"summary_{args.module}.csv")
    print_summary(submissions)
    print(f"\ngrades: {args.course.resolve() / 'grades.csv'}\nsummary: {args.course.resolve() / f'summary_{args.module}.csv'}\n"
          f"feedback: {args.course.resolve() / 'feedback'}/<student>/{args.module}/{args.module}.html")


if __name__ == "__main__":
    main()
