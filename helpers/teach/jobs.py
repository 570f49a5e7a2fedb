"""One submission, graded alone: a private copy of the course, its own nbgrader process, merged back after.

Only the teacher's process writes the course's gradebook: each job's grades are copied into it
with nbgrader's own API, one job at a time, so parallel jobs cannot corrupt it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook

from helpers.paths import ROOT
from helpers.teach.intake import MAX_ARCHIVE_BYTES, MAX_ARCHIVE_FILES, Submission, copy_submission
from helpers.teach.notebooks import kernel_env
from helpers.teach.sandbox import GIB


@dataclass(frozen=True)
class Settings:
    """How to grade: per-cell time limit, parallel jobs, sandbox, and the limits of each kernel and of the input."""

    timeout: int = 60
    jobs: int = 1
    sandbox: bool = True
    memory_limit: int = 4 * GIB
    max_bytes: int = MAX_ARCHIVE_BYTES
    max_files: int = MAX_ARCHIVE_FILES
    shard: tuple[int, int] | None = None  # (K, N): grade only the K-th of N shares of the class (helpers.teach.shards)


def cpu_count() -> int:
    """The CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def nbgrader(
    args: list[str],
    course: Path,
    timeout: float,
    cpus: set[int] | None = None,
    nice: int = 0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run one nbgrader command in ``course``; ``cpus`` pins it (and the kernel it starts) to those cores, ``nice``
    lowers its priority (and its kernel's), so that it takes only CPU time nothing else wants, and ``env`` replaces
    the environment it would take from this process (``kernel_env()``)."""

    def start() -> None:
        if cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cpus)
        if nice:
            os.nice(nice)

    return subprocess.run(
        [sys.executable, "-m", "helpers.teach.nbgrader_cli", *args],
        cwd=course,
        env=kernel_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=start if cpus or nice else None,
    )


def scratch_course(dest: Path, modules: list[str] | None = None) -> Path:
    """A copy of the course's nbgrader config and solutions in ``dest``, so grading leaves the repository untouched."""
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
    args = [
        "autograde",
        module,
        f"--student={student}",
        "--force",
        f"--Execute.timeout={settings.timeout}",
        f"--SandboxedKernelManager.memory_limit={settings.memory_limit}",
    ]
    return args + ([] if settings.sandbox else ["--SandboxedExecute.sandbox=False"])


def grade_one(
    course: Path, module: str, sub: Submission, scratch: Path, settings: Settings, limit: float, cpus: set[int] | None
) -> tuple[Path, str]:
    """Autograde one submission in its own job course; return the job folder and nbgrader's log."""
    job = job_course(course, module, sub, scratch)
    try:
        run = nbgrader(_autograde_args(module, sub.student, settings), job, limit, cpus)
        return job, run.stdout + run.stderr
    except subprocess.TimeoutExpired:
        return job, "the whole notebook ran past its time limit"


def merge(job: Path, course: Path, module: str, student: str, flagged: bool) -> None:
    """Copy one job's grades into the course gradebook with nbgrader's API, and its graded notebook into autograded/."""
    with (
        warnings.catch_warnings(),
        Gradebook(f"sqlite:///{job / 'gradebook.db'}") as src,
        Gradebook(f"sqlite:///{course / 'gradebook.db'}") as dst,
    ):
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
