"""Grade a class's downloaded submissions for one module with one command, on nbgrader.

    python -m helpers.teach.classroom 01_toy_signal ~/Downloads/submissions.zip

The submissions are a folder or a platform zip (see :mod:`helpers.teach.intake`). Each one is
graded by its own ``nbgrader autograde`` process in a private copy of the course's nbgrader
folders, with its kernel in the bubblewrap sandbox (:mod:`helpers.teach.sandbox`) and the
tamper checks of :mod:`helpers.teach.integrity`; ``--jobs`` of them run at once. Only this
process writes the course's gradebook: each result is merged into it with nbgrader's own API.
Grades go to ``grades.csv`` (``nbgrader export``), feedback to HTML (``nbgrader generate_feedback``),
and a summary table is printed and written as ``summary_<module>.csv``. The downloads are only read.
"""
from __future__ import annotations

import argparse
import csv
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from helpers.teach.integrity import verdict_of
from helpers.teach.intake import (
    MAX_ARCHIVE_BYTES, MAX_ARCHIVE_FILES, ArchiveRefused, Submission, collect, copy_submission, grade_ids,
)
from helpers.teach.notebooks import ROOT, kernel_env
from helpers.teach.sandbox import GIB, sandbox_problem

NO_SANDBOX_WARNING = ("WARNING: graded WITHOUT the sandbox (--no-sandbox): every notebook ran with your permissions "
                      "and could read or change your files. Use this only for notebooks you trust.")


@dataclass(frozen=True)
class Settings:
    """How to grade: per-cell time limit, parallel jobs, sandbox, and the limits of each kernel and of the input."""

    timeout: int = 60
    jobs: int = 1
    sandbox: bool = True
    memory_limit: int = 4 * GIB
    max_bytes: int = MAX_ARCHIVE_BYTES
    max_files: int = MAX_ARCHIVE_FILES


def cpu_count() -> int:
    """The CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def nbgrader(args: list[str], course: Path, timeout: float, cpus: set[int] | None = None) -> subprocess.CompletedProcess:
    """Run one nbgrader command in ``course``; ``cpus`` pins it (and the kernel it starts) to those cores."""
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus and hasattr(os, "sched_setaffinity") else None
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=kernel_env(),
                          capture_output=True, text=True, timeout=timeout, preexec_fn=pin)


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


def scratch_course(dest: Path, modules: list[str] | None = None) -> Path:
    """A copy of the course's nbgrader folders (config and solutions) in ``dest``, so grading leaves the repository untouched."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    for module in modules or [p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()]:
        shutil.copytree(ROOT / "solutions" / module, dest / "solutions" / module)
    return dest


def job_course(course: Path, module: str, sub: Submission, scratch: Path) -> Path:
    """A private copy of the course's nbgrader folders holding this one submission (and a copy of the gradebook)."""
    job = Path(tempfile.mkdtemp(prefix="job-", dir=scratch))
    shutil.copy(course / "nbgrader_config.py", job / "nbgrader_config.py")
    (job / "solutions").mkdir()
    shutil.copytree(course / "solutions" / module, job / "solutions" / module)
    shutil.copy(course / "gradebook.db", job / "gradebook.db")
    copy_submission(sub, job, module)
    return job


def _autograde_args(module: str, student: str, settings: Settings) -> list[str]:
    args = ["autograde", module, f"--student={student}", "--force", f"--Execute.timeout={settings.timeout}",
            f"--SandboxedKernelManager.memory_limit={settings.memory_limit}"]
    return args + ([] if settings.sandbox else ["--SandboxedExecute.sandbox=False"])


def grade_one(course: Path, module: str, sub: Submission, scratch: Path, settings: Settings, limit: float,
              cpus: set[int] | None) -> tuple[Path, str]:
    """Autograde one submission in its own job course; return the job folder and nbgrader's log."""
    job = job_course(course, module, sub, scratch)
    try:
        run = nbgrader(_autograde_args(module, sub.student, settings), job, limit, cpus)
        return job, run.stdout + run.stderr
    except subprocess.TimeoutExpired:
        return job, "the whole notebook ran past its time limit"


def merge(job: Path, course: Path, module: str, student: str, flagged: bool) -> None:
    """Copy one job's grades into the course gradebook with nbgrader's API, and its graded notebook into autograded/."""
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{job / 'gradebook.db'}") as src, \
            Gradebook(f"sqlite:///{course / 'gradebook.db'}") as dst:
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes from inside nbgrader's API
        graded = src.find_submission(module, student)
        dst.update_or_create_student(student)
        dst.update_or_create_submission(module, student, timestamp=graded.timestamp)
        for notebook in graded.notebooks:
            for grade in notebook.grades:
                target = dst.find_grade(grade.name, notebook.name, module, student)
                target.auto_score, target.manual_score = grade.auto_score, grade.manual_score
                target.extra_credit, target.needs_manual_grade = grade.extra_credit, grade.needs_manual_grade
            for comment in notebook.comments:
                target = dst.find_comment(comment.name, notebook.name, module, student)
                target.auto_comment, target.manual_comment = comment.auto_comment, comment.manual_comment
            target_nb = dst.find_submission_notebook(notebook.name, module, student)
            target_nb.flagged = notebook.flagged or flagged
            target_nb.late_submission_penalty = notebook.late_submission_penalty
        dst.db.commit()
    dest = course / "autograded" / student / module
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(job / "autograded" / student / module, dest)


def _outcome(sub: Submission, graded: Path, log: str) -> bool:
    """Set the status from what autograde left; return True when there is a graded notebook."""
    if not graded.exists():
        crashed = "DeadKernelError" in log or "kernel died" in log.lower()
        sub.status = ("kernel crashed" if crashed else "notebook ran past its time limit"
                      if "time limit" in log else "autograde failed")
        last = [line for line in log.splitlines() if "Error" in line or "time limit" in line][-1:] or ["see the nbgrader log"]
        sub.notes.append(last[0].strip()[:200])
        return False
    nb = json.loads(graded.read_text(encoding="utf-8"))
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o["output_type"] == "error"]
    timeouts = sum(o.get("ename") == "CellTimeoutError" for o in errors)
    blanks = sum(o.get("ename") == "BlankError" for o in errors)
    verdict = verdict_of(nb)
    sub.status = verdict.get("status", "graded")
    if timeouts and sub.status == "graded":
        sub.status = "graded, cell timed out"
    if timeouts:
        sub.notes.append(f"{timeouts} cell(s) stopped at the time limit")
    if blanks:
        sub.notes.append(f"{blanks} cell(s) with unfilled blanks")
    sub.notes += verdict.get("evidence", [])[:3] + verdict.get("notes", [])
    if verdict.get("affected"):
        sub.notes.append(f"{len(verdict['affected'])} test(s) scored 0 pending review")
    return True


def _error_feedback(sub: Submission, path: Path) -> None:
    """A feedback page for a submission nbgrader could not grade."""
    path.parent.mkdir(parents=True, exist_ok=True)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in sub.notes)
    path.write_text(
        f"<html><body><h2>{html.escape(sub.source.name)}</h2><p>Status: <b>{html.escape(sub.status)}</b>. "
        f"Score: 0.</p><ul>{notes}</ul><p>Open the notebook in Jupyter, run it top to bottom, fix what "
        "fails, and submit it again.</p></body></html>", encoding="utf-8")


def warm_caches(course: Path, module: str) -> None:
    """Build what a sandboxed kernel cannot build for itself cheaply (the tiny Stable Diffusion pipeline)."""
    if "helpers.sd" in (course / "solutions" / module / f"{module}.ipynb").read_text(encoding="utf-8"):
        from helpers.sd import tiny_pipeline_dir

        tiny_pipeline_dir()


def _check_module(course: Path, module: str) -> None:
    if not (course / "solutions" / module / f"{module}.ipynb").exists():
        known = ", ".join(sorted(p.name for p in (course / "solutions").iterdir() if p.is_dir()))
        raise SystemExit(f"unknown module {module!r}; choose one of: {known}")


def _prepare(course: Path, module: str) -> tuple[dict, dict, set[str]]:
    result = nbgrader(["generate_assignment", module, "--force"], course, 600)  # records the graded cells
    if result.returncode:
        raise SystemExit(f"nbgrader generate_assignment failed:\n{result.stderr[-2000:]}")
    warm_caches(course, module)
    released = json.loads((course / "exercises" / module / f"{module}.ipynb").read_text(encoding="utf-8"))
    solved = json.loads((course / "solutions" / module / f"{module}.ipynb").read_text(encoding="utf-8"))
    return released, solved, grade_ids(solved)


def grade(module: str, source: Path, course: Path = ROOT, settings: Settings = Settings()) -> list[Submission]:
    """Grade every submission of ``module`` found in ``source``; return one record per file."""
    course = course.resolve()
    _check_module(course, module)
    if settings.sandbox and (problem := sandbox_problem()):
        raise SystemExit(f"refusing to grade: {problem}.")
    released, solved, expected = _prepare(course, module)
    with tempfile.TemporaryDirectory(prefix="course-grading-") as tmp:  # holds the unzipped downloads until the end
        scratch = Path(tmp)
        try:
            submissions = collect(source, module, expected, scratch, settings.max_bytes, settings.max_files)
        except ArchiveRefused as error:
            raise SystemExit(f"refusing the archive: {error}")
        gradable = [sub for sub in submissions if sub.status == "graded"]
        for sub in gradable:
            sub.notes += tampering(json.loads(sub.source.read_bytes()), released, solved)
            copy_submission(sub, course, module)
            shutil.rmtree(course / "autograded" / sub.student / module, ignore_errors=True)  # no stale result
        _grade_all(course, module, gradable, scratch, settings, sum(c["cell_type"] == "code" for c in solved["cells"]))
    _feedback_and_export(course, module, submissions)
    return submissions


def _grade_all(course: Path, module: str, gradable: list[Submission], scratch: Path, settings: Settings,
               code_cells: int) -> None:
    limit = settings.timeout * (code_cells + 10) + 120  # the whole notebook, sandbox start and nbgrader included
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    jobs = max(1, min(settings.jobs, len(gradable) or 1))
    slots = [{cores[i % len(cores)]} if jobs > 1 and cores else None for i in range(jobs)]
    free = list(range(jobs))

    def run(sub: Submission):
        slot = free.pop()
        try:
            return sub, grade_one(course, module, sub, scratch, settings, limit, slots[slot])
        finally:
            free.append(slot)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for sub, (job, log) in pool.map(run, gradable):  # results come back in order; merging is serial
            if _outcome(sub, job / "autograded" / sub.student / module / f"{module}.ipynb", log):
                merge(job, course, module, sub.student, flagged=sub.status.startswith("kernel tampered"))
            shutil.rmtree(job, ignore_errors=True)


def _feedback_and_export(course: Path, module: str, submissions: list[Submission]) -> None:
    graded = {id(s) for s in submissions if s.status not in ("superseded", "not this module", "not a valid notebook")
              and (course / "autograded" / s.student / module).exists()}
    nbgrader(["generate_feedback", module, "--force"], course, 600 + 30 * len(graded))
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in submissions:
            try:
                record = gb.find_submission(module, sub.student)
                if id(sub) in graded:
                    sub.score, sub.max_score = record.score, record.max_score
            except MissingEntry:
                pass
            if sub.score is None:
                sub.max_score = gb.find_assignment(module).max_score
                if sub.status != "superseded":
                    _error_feedback(sub, course / "feedback" / sub.student / module / f"{module}.html")
    nbgrader(["export", f"--to={course / 'grades.csv'}", f"--assignment={module}"], course, 600)


def write_summary(submissions: list[Submission], path: Path, sandboxed: bool = True) -> None:
    """The summary table as CSV: student, name (as the platform wrote it), score, max, status, notes, file, sandbox."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "name", "score", "max", "status", "notes", "file", "sandbox"])
        for s in submissions:
            writer.writerow([s.student, s.name, s.score if s.score is not None else 0, s.max_score, s.status,
                             "; ".join(s.notes), s.source.name, "yes" if sandboxed else "no"])


def print_summary(submissions: list[Submission], sandboxed: bool = True) -> None:
    """Print the summary table: student, name, score, max, status (and what happened)."""
    if not sandboxed:
        print(NO_SANDBOX_WARNING)
    width = max([len(s.student) for s in submissions] + [7])
    name_width = min(30, max([len(s.name) for s in submissions] + [4]))
    print(f"{'student':<{width}}  {'name':<{name_width}}  {'score':>6}  {'max':>5}  status")
    for s in sorted(submissions, key=lambda s: s.student):
        score = f"{s.score:g}" if s.score is not None else "0"
        extra = f" ({'; '.join(s.notes)})" if s.notes else ""
        print(f"{s.student:<{width}}  {s.name[:name_width]:<{name_width}}  {score:>6}  {s.max_score or 0:>5g}  {s.status}{extra}")
    if not sandboxed:
        print(NO_SANDBOX_WARNING)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m helpers.teach.classroom", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("module", help="the module to grade, e.g. 01_toy_signal")
    p.add_argument("submissions", type=Path, help="the folder or zip of downloaded notebooks")
    p.add_argument("--course", type=Path, default=ROOT, help="the course folder (default: this repository)")
    p.add_argument("--timeout", type=int, default=60, help="seconds a cell may run before it is stopped (default 60)")
    p.add_argument("--jobs", type=int, default=cpu_count(), help=f"submissions graded at once (default: the CPU count, {cpu_count()})")
    p.add_argument("--memory-gb", type=float, default=4.0, help="memory cap of each notebook's kernel, in GiB (default 4)")
    p.add_argument("--max-archive-mb", type=float, default=MAX_ARCHIVE_BYTES / 2**20,
                   help=f"largest unpacked zip accepted, in MiB (default {MAX_ARCHIVE_BYTES // 2**20})")
    p.add_argument("--max-files", type=int, default=MAX_ARCHIVE_FILES, help=f"most files a zip may hold (default {MAX_ARCHIVE_FILES})")
    p.add_argument("--no-sandbox", action="store_true", help="grade without isolation (only for notebooks you trust)")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.jobs < 1 or args.timeout < 1 or args.memory_gb <= 0:
        raise SystemExit("--jobs and --timeout must be at least 1, and --memory-gb positive.")
    settings = Settings(timeout=args.timeout, jobs=args.jobs, sandbox=not args.no_sandbox,
                        memory_limit=int(args.memory_gb * GIB), max_bytes=int(args.max_archive_mb * 2**20),
                        max_files=args.max_files)
    course = args.course.resolve()
    submissions = grade(args.module, args.submissions, course, settings)
    write_summary(submissions, course / f"summary_{args.module}.csv", settings.sandbox)
    print_summary(submissions, settings.sandbox)
    print(f"\ngrades: {course / 'grades.csv'}\nsummary: {course / f'summary_{args.module}.csv'}\n"
          f"feedback: {course / 'feedback'}/<student>/{args.module}/{args.module}.html")


if __name__ == "__main__":
    main()
