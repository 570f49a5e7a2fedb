"""Grade a crafted class (every broken, tampering and sandbox-attacking case), then time normal classes.

    python -m benchmarks.grading                          # every module: crafted class, then the speed table
    python -m benchmarks.grading 05_guidance --speed-only --class-size 6
    python -m benchmarks.grading --determinism            # the same scores with 1 job, 2 jobs, and a loaded machine

The crafted class is helpers.teach.crafted's, graded with ``python -m helpers.teach.classroom``'s
code in a scratch copy of the course. The speed table grades ``--class-size`` copies of the
solution with and without the sandbox, with 1 job and with 2, side by side in one run, and
prints the seconds per submission and what a class of 100 would take.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.teach.attacks import Targets
from helpers.teach.classroom import Settings, grade, print_summary, scratch_course
from helpers.teach.crafted import craft_class
from helpers.teach.notebooks import ROOT, modules, solution


def _grade_in_scratch(module: str, fill, settings: Settings):
    """Grade the downloads that ``fill(folder, course)`` writes, in a scratch course; return (submissions, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        course = scratch_course(Path(tmp) / "course", [module])
        fill(Path(tmp) / "downloads", course)
        start = time.perf_counter()
        submissions = grade(module, Path(tmp) / "downloads", course, settings)
        return submissions, time.perf_counter() - start


def _crafted(module: str):
    def fill(folder: Path, course: Path) -> None:
        home = folder.parent / "home"
        home.mkdir()
        craft_class(
            module, folder, Targets(course=course, repo=ROOT, home=home, downloads=folder, venv=Path(sys.prefix))
        )

    return fill


def _copies_of_solution(module: str, n: int):
    def fill(folder: Path, course: Path) -> None:
        folder.mkdir(parents=True)
        for k in range(n):
            shutil.copy(solution(module), folder / f"student{k:03d}_{module}.ipynb")

    return fill


def speed_rows(module: str, class_size: int) -> list[tuple]:
    """(module, jobs, sandbox, total s, s per submission) for the four settings, in one run."""
    rows = []
    for jobs in (1, 2):
        for sandbox in (False, True):
            subs, seconds = _grade_in_scratch(
                module, _copies_of_solution(module, class_size), Settings(timeout=60, jobs=jobs, sandbox=sandbox)
            )
            assert all(s.score == s.max_score for s in subs), f"a copy of the solution lost points: {subs}"
            rows.append((module, jobs, sandbox, seconds, seconds / class_size))
            print(
                f"timed {module}: {jobs} job(s), sandbox {'on' if sandbox else 'off'}: {seconds:.1f} s", file=sys.stderr
            )
    return rows


@contextlib.contextmanager
def busy(processes: int):
    """Load the machine with ``processes`` spinning Python processes while the block runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def determinism_rows(module: str) -> tuple:
    """(module, per-cell scores with 1 job, with 2 jobs on a machine loaded by 2 busy processes, identical?)."""
    runs = []
    for jobs, load in ((1, 0), (2, 2)):
        with busy(load):
            subs, _ = _grade_in_scratch(module, _copies_of_solution(module, 2), Settings(timeout=60, jobs=jobs))
        runs.append(sorted((s.score, s.max_score) for s in subs))
    return module, runs[0], runs[1], runs[0] == runs[1]


def print_speed(rows: list[tuple], class_size: int) -> None:
    print(f"\nClasses of {class_size} copies of the solution (per-cell limit 60 s):\n")
    print("| module | jobs | sandbox | total s | s per submission | sandbox cost | 100 submissions, min |")
    print("| --- | ---:| --- | ---:| ---:| ---:| ---:|")
    base = {(m, j): per for m, j, sandbox, _, per in rows if not sandbox}
    for module, jobs, sandbox, total, per in rows:
        cost = f"{(per / base[(module, jobs)] - 1) * 100:+.0f}%" if sandbox else ""
        print(
            f"| {module} | {jobs} | {'on' if sandbox else 'off'} | {total:.1f} | {per:.2f} | {cost} "
            f"| {per * 100 / 60:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", default=None)
    parser.add_argument("--timeout", type=int, default=10, help="per-cell limit for the crafted infinite loop")
    parser.add_argument("--class-size", type=int, default=6, help="solution copies graded to time a normal class")
    parser.add_argument("--speed-only", action="store_true", help="skip the crafted class; only time normal classes")
    parser.add_argument("--determinism", action="store_true", help="only grade solutions with 1 and 2 jobs, loaded")
    args = parser.parse_args()
    if args.determinism:
        print("| module | 1 job, idle | 2 jobs, 2 busy processes | identical |\n| --- | --- | --- | --- |")
        for module in args.modules or modules():
            print("| {} | {} | {} | {} |".format(*determinism_rows(module)), flush=True)
        return
    rows = []
    for module in args.modules or modules():
        if not args.speed_only:
            crafted, seconds = _grade_in_scratch(module, _crafted(module), Settings(timeout=args.timeout, jobs=2))
            print(f"\n## {module}: the crafted class ({len(crafted)} files, {seconds:.0f} s with 2 jobs)\n")
            print_summary(crafted)
            sys.stdout.flush()
        rows += speed_rows(module, args.class_size)
    print_speed(rows, args.class_size)


if __name__ == "__main__":
    main()
