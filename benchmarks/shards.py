"""Grade a synthetic class in shards, as an engine's machines would, then merge: per-shard and merge times.

    python -m benchmarks.shards                      # 1,000 submissions of 01_toy_signal in 4 shards
    python -m benchmarks.shards --students 40 --shards 4

The class is Moodle-named files, the solution and the untouched exercise in turn (a graded notebook and
one that stops at its first blank). The shards run one after another on this machine, each with every
core (``--jobs`` = the CPU count), exactly as ``--shard K/N`` runs on its own machine; the table gives
each one's wall time, so the slowest shard plus the merge is what N such machines would take.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.teach.jobs import cpu_count, scratch_course
from helpers.teach.notebooks import exercise, solution


def make_class(folder: Path, module: str, students: int) -> Path:
    """``students`` files named as Moodle names them: the solution and the exercise in turn."""
    folder.mkdir(parents=True)
    kinds = (solution(module).read_bytes(), exercise(module).read_bytes())
    for i in range(students):
        name = f"Learner {i:04d}_{10000 + i}_assignsubmission_file_{module}.ipynb"
        (folder / name).write_bytes(kinds[i % 2])
    return folder


def _classroom(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "helpers.teach.classroom", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--module", default="01_toy_signal")
    p.add_argument("--students", type=int, default=1000)
    p.add_argument("--shards", type=int, default=4)
    args = p.parse_args(argv)
    jobs = cpu_count()
    print(f"{args.students} submissions of {args.module} in {args.shards} shards, each with --jobs {jobs}")
    with tempfile.TemporaryDirectory(prefix="shards-benchmark-") as tmp:
        downloads = make_class(Path(tmp) / "downloads", args.module, args.students)
        print(f"{'shard':>7} {'students':>9} {'seconds':>9} {'s / submission':>15}")
        seconds, folders = [], []
        for k in range(1, args.shards + 1):
            course = scratch_course(Path(tmp) / f"shard{k}", [args.module])
            took = _classroom(
                args.module,
                str(downloads),
                "--course",
                str(course),
                "--jobs",
                str(jobs),
                "--shard",
                f"{k}/{args.shards}",
            )
            with (course / f"summary_{args.module}.csv").open(encoding="utf-8") as f:
                n = sum(1 for _ in csv.DictReader(f))
            print(f"{k:>4}/{args.shards:<2} {n:>9} {took:>9.1f} {took / n:>15.2f}", flush=True)
            seconds.append(took)
            folders.append(str(course))
        merged = scratch_course(Path(tmp) / "merged", [args.module])
        merge = _classroom("merge", *folders, "--course", str(merged))
        with (merged / "grades.csv").open(encoding="utf-8") as f:
            graded = sum(1 for _ in csv.DictReader(f))
    print(f"{'merge':>7} {graded:>9} {merge:>9.1f}")
    print(
        f"one machine, shards in turn: {sum(seconds) + merge:.0f} s; {args.shards} machines at once: "
        f"{max(seconds) + merge:.0f} s (the slowest shard, then the merge)"
    )


if __name__ == "__main__":
    main()
