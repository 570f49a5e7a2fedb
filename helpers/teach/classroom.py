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
import json
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from helpers.teach import similarity
from helpers.teach.intake import (
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_FILES,
    ArchiveRefused,
    Submission,
    collect,
    copy_submission,
    grade_ids,
)
from helpers.teach.integrity import verdict_of
from helpers.teach.jobs import Settings, cpu_count, grade_one, merge, nbgrader, scratch_course  # noqa: F401
from helpers.teach.notebooks import ROOT
from helpers.teach.report import NO_SANDBOX_WARNING, error_feedback, print_summary, write_summary  # noqa: F401
from helpers.teach.sandbox import GIB, sandbox_problem
from helpers.teach.shards import merge_main, parse_shard, select
from helpers.teach.term import add_term_options, after_grading, check_options, term_main


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
            "".join(cell["source"]),
            "".join(ours[gid][0]["source"]),
        ):
            notes.append(f"edited locked cell {gid} restored")
    return notes


def _outcome(sub: Submission, graded: Path, log: str) -> bool:
    """Set the status from what autograde left; return True when there is a graded notebook."""
    if not graded.exists():
        crashed = "DeadKernelError" in log or "kernel died" in log.lower()
        sub.status = (
            "kernel crashed"
            if crashed
            else "notebook ran past its time limit"
            if "time limit" in log
            else "autograde failed"
        )
        last = [line for line in log.splitlines() if "Error" in line or "time limit" in line][-1:] or [
            "see the nbgrader log"
        ]
        sub.notes.append(last[0].strip()[:200])
        return False
    nb = json.loads(graded.read_text(encoding="utf-8"))
    errors = [
        o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
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


def grade(module: str, source: Path, course: Path = ROOT, settings: Settings | None = None) -> list[Submission]:
    """Grade every submission of ``module`` found in ``source``; return one record per file."""
    course, settings = course.resolve(), settings or Settings()
    _check_module(course, module)
    if settings.sandbox and (problem := sandbox_problem()):
        raise SystemExit(f"refusing to grade: {problem}.")
    released, solved, expected = _prepare(course, module)
    with tempfile.TemporaryDirectory(prefix="course-grading-") as tmp:  # holds the unzipped downloads until the end
        scratch = Path(tmp)
        try:
            submissions = collect(source, module, expected, scratch, settings.max_bytes, settings.max_files)
        except ArchiveRefused as error:
            raise SystemExit(f"refusing the archive: {error}") from None
        if settings.shard:
            submissions = select(submissions, settings.shard, course, module)
        gradable = [sub for sub in submissions if sub.status == "graded"]
        for sub in gradable:
            sub.notes += tampering(json.loads(sub.source.read_bytes()), released, solved)
            copy_submission(sub, course, module)
            shutil.rmtree(course / "autograded" / sub.student / module, ignore_errors=True)  # no stale result
        _grade_all(course, module, gradable, scratch, settings, sum(c["cell_type"] == "code" for c in solved["cells"]))
    _feedback_and_export(course, module, submissions)
    return submissions


def _grade_all(
    course: Path, module: str, gradable: list[Submission], scratch: Path, settings: Settings, code_cells: int
) -> None:
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
    graded = {
        id(s)
        for s in submissions
        if s.status not in ("superseded", "not this module", "not a valid notebook")
        and (course / "autograded" / s.student / module).exists()
    }
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
                    error_feedback(sub, course / "feedback" / sub.student / module / f"{module}.html")
    nbgrader(["export", f"--to={course / 'grades.csv'}", f"--assignment={module}"], course, 600)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m helpers.teach.classroom",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("module", help="the module to grade, e.g. 01_toy_signal")
    p.add_argument("submissions", type=Path, help="the folder or zip of downloaded notebooks")
    p.add_argument("--course", type=Path, default=ROOT, help="the course folder (default: this repository)")
    p.add_argument("--timeout", type=int, default=60, help="seconds a cell may run before it is stopped (default 60)")
    p.add_argument(
        "--jobs",
        type=int,
        default=cpu_count(),
        help=f"submissions graded at once (default: the CPU count, {cpu_count()})",
    )
    p.add_argument(
        "--memory-gb", type=float, default=4.0, help="memory cap of each notebook's kernel, in GiB (default 4)"
    )
    p.add_argument(
        "--max-archive-mb",
        type=float,
        default=MAX_ARCHIVE_BYTES / 2**20,
        help=f"largest unpacked zip accepted, in MiB (default {MAX_ARCHIVE_BYTES // 2**20})",
    )
    p.add_argument(
        "--max-files",
        type=int,
        default=MAX_ARCHIVE_FILES,
        help=f"most files a zip may hold (default {MAX_ARCHIVE_FILES})",
    )
    p.add_argument("--no-sandbox", action="store_true", help="grade without isolation (only for notebooks you trust)")
    add_term_options(p)
    return p


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["term"]:
        return term_main(argv[1:])
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    args = parser().parse_args(argv)
    if args.jobs < 1 or args.timeout < 1 or args.memory_gb <= 0:
        raise SystemExit("--jobs and --timeout must be at least 1, and --memory-gb positive.")
    settings = Settings(
        timeout=args.timeout,
        jobs=args.jobs,
        sandbox=not args.no_sandbox,
        memory_limit=int(args.memory_gb * GIB),
        max_bytes=int(args.max_archive_mb * 2**20),
        max_files=args.max_files,
        shard=parse_shard(args.shard) if args.shard else None,
    )
    course = args.course.resolve()
    options = check_options(args, args.module)  # before grading: a bad --due or roster costs nothing
    submissions = grade(args.module, args.submissions, course, settings)
    lines = after_grading(submissions, options, args.export)
    if args.similarity:
        lines += similarity.report(args.module, submissions, course)[1]
    write_summary(submissions, course / f"summary_{args.module}.csv", settings.sandbox)
    print_summary(submissions, settings.sandbox)
    print("\n".join(["", *lines]) if lines else "", end="\n" if lines else "")
    print(
        f"\ngrades: {course / 'grades.csv'}\nsummary: {course / f'summary_{args.module}.csv'}\n"
        f"feedback: {course / 'feedback'}/<student>/{args.module}/{args.module}.html"
    )


if __name__ == "__main__":
    main()
