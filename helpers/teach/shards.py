"""Grading past one machine: each shard grades a fixed share of the class, and ``merge`` puts the shards together.

``--shard K/N`` grades every N-th student (by sorted id, from the K-th) of the whole download into the
``--course`` folder of that run, and records which in ``shard_<module>.json``. An existing engine runs the N
shards (a Kubernetes Indexed Job, a Slurm job array: see deploy/), each in the same sandbox as one machine.
``python -m helpers.teach.classroom merge SHARD_FOLDER ...`` then checks that the shards are one class's,
one module's and all there, and merges them with nbgrader's own API into one gradebook, ``grades.csv``,
feedback folder and summary, the same, student by student, as grading the class on one machine.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import shutil
from pathlib import Path

from nbgrader.api import Gradebook

from helpers.teach.intake import Submission
from helpers.teach.jobs import merge, nbgrader
from helpers.teach.notebooks import ROOT


def parse_shard(text: str) -> tuple[int, int]:
    """``--shard K/N`` as (K, N), or an error showing the form."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not found or not 1 <= int(found[1]) <= int(found[2]):
        raise SystemExit(f"--shard {text!r}: write K/N with 1 <= K <= N, for example --shard 2/4 (the second of four).")
    return int(found[1]), int(found[2])


def select(submissions: list[Submission], shard: tuple[int, int], course: Path, module: str) -> list[Submission]:
    """This shard's students' submissions (every N-th id, sorted, from the K-th); records them in the manifest."""
    k, n = shard
    students = sorted({s.student for s in submissions})
    if n > len(students):
        raise SystemExit(
            f"--shard {k}/{n}: {n} shards for a class of {len(students)} students would leave a shard with nobody "
            f"to grade; use at most {len(students)} shards."
        )
    mine = students[k - 1 :: n]
    manifest = {
        "module": module,
        "shard": k,
        "of": n,
        "class": hashlib.sha256("\n".join(students).encode()).hexdigest()[:16],
        "students": mine,
    }
    course.mkdir(parents=True, exist_ok=True)
    (course / f"shard_{module}.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return [s for s in submissions if s.student in set(mine)]


def _manifests(folders: list[Path]) -> list[tuple[Path, dict]]:
    found = []
    for folder in folders:
        paths = sorted(folder.glob("shard_*.json"))
        if not paths:
            raise SystemExit(f"{folder} holds no shard_<module>.json: give the --course folders of --shard runs.")
        found += [(folder, json.loads(p.read_text(encoding="utf-8"))) for p in paths]
    return found


def check_shards(folders: list[Path]) -> tuple[str, list[tuple[Path, dict]]]:
    """The module and the shards, once each checked to be one module's, one class's, and complete."""
    shards = _manifests(folders)
    modules = sorted({m["module"] for _, m in shards})
    if len(modules) > 1:
        listed = "; ".join(f"{m}: {', '.join(str(f) for f, s in shards if s['module'] == m)}" for m in modules)
        raise SystemExit(f"the shards are of different modules ({listed}); merge one module's shards at a time.")
    runs = {(m["of"], m["class"]) for _, m in shards}
    if len(runs) > 1:
        raise SystemExit(
            "the shards come from different splits or downloads (their N or class differ); grade every shard of one "
            "download with the same --shard K/N and merge those."
        )
    (n, _), got = runs.pop(), sorted(m["shard"] for _, m in shards)
    if missing := sorted(set(range(1, n + 1)) - set(got)):
        raise SystemExit(
            f"shard(s) {', '.join(map(str, missing))} of {n} missing: grade them (--shard K/{n}) and give their "
            "folders too. Nothing was merged."
        )
    if len(got) != len(set(got)):
        raise SystemExit(f"a shard was given twice ({got}); give each shard's folder once. Nothing was merged.")
    return modules[0], shards


def merge_shards(folders: list[Path], course: Path) -> list[str]:
    """Merge the shards into ``course``: gradebook, autograded/, submitted/, feedback/, summary, grades.csv."""
    module, shards = check_shards([f.resolve() for f in folders])
    result = nbgrader(["generate_assignment", module, "--force"], course, 600)  # the target's graded cells
    if result.returncode:
        raise SystemExit(f"nbgrader generate_assignment failed in {course}:\n{result.stderr[-2000:]}")
    rows, header = [], None
    for folder, manifest in sorted(shards, key=lambda s: s[1]["shard"]):
        with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gb:
            graded = [s.student.id for s in gb.find_assignment(module).submissions]
        for student in graded:
            merge(folder, course, module, student, flagged=False)  # keeps each notebook's own flag
        for part in ("submitted", "feedback"):
            for student in manifest["students"]:
                src = folder / part / student / module
                if src.is_dir():
                    shutil.copytree(src, course / part / student / module, dirs_exist_ok=True)
        with (folder / f"summary_{module}.csv").open(encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows += list(reader)
    with (course / f"summary_{module}.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *sorted(rows)])
    nbgrader(["export", f"--to={course / 'grades.csv'}", f"--assignment={module}"], course, 600)
    return [
        f"merged {len(shards)} shards of {module}: {len(rows)} files; {course / 'grades.csv'}, "
        f"{course / f'summary_{module}.csv'}, {course / 'feedback'}"
    ]


def merge_main(argv: list[str]) -> None:
    """``python -m helpers.teach.classroom merge SHARD_FOLDER ... [--course FOLDER]``."""
    p = argparse.ArgumentParser(
        prog="python -m helpers.teach.classroom merge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("shards", type=Path, nargs="+", help="the --course folders of the shard runs")
    p.add_argument("--course", type=Path, default=ROOT, help="where to merge (default: this repository)")
    args = p.parse_args(argv)
    print("\n".join(merge_shards(args.shards, args.course.resolve())))
