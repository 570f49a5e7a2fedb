"""Grade a crafted class (the solution, the blank exercise, and every hostile case) and time it.

    python -m benchmarks.grading                 # every module
    python -m benchmarks.grading 01_toy_signal

For each module it writes the crafted submissions as a platform would name them, grades
them with ``python -m helpers.classroom`` in a scratch copy of the course, prints the summary
table, and prints the seconds per submission and what a class of 100 would take.
"""
from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from helpers.classroom import grade, print_summary
from helpers.notebooks import ROOT, exercise, modules, solution


def _cells(nb: dict, grade_id: str) -> list[int]:
    return [i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id]


def _first(nb: dict, kind: str) -> int:
    """Index of the first graded answer cell ("answer") or test cell ("test") with code blanks or tests."""
    for i, c in enumerate(nb["cells"]):
        meta = c["metadata"].get("nbgrader", {})
        if kind == "answer" and meta.get("solution") and c["cell_type"] == "code" and "# BLANK:" in "".join(c["source"]):
            return i
        if kind == "test" and meta.get("grade") and not meta.get("solution"):
            return i
    raise ValueError(f"no {kind} cell")


def _prepend(cell: dict, code: str) -> None:
    cell["source"] = code + "\n" + "".join(cell["source"])


def craft_class(module: str, dest: Path) -> dict[str, str]:
    """Write one submission per case into ``dest``; return {case: file name}."""
    sol = json.loads(solution(module).read_text(encoding="utf-8"))
    name = f"{module}.ipynb"
    cases: dict[str, tuple[str, object]] = {}

    cases["solution"] = (f"Ada Lovelace_1001_assignsubmission_file_{name}", sol)
    cases["blank exercise"] = (f"Blank Student_1002_assignsubmission_file_{name}",
                               json.loads(exercise(module).read_text(encoding="utf-8")))

    edited = copy.deepcopy(sol)
    edited["cells"][_first(edited, "test")]["source"] = "pass  # the test is gone"
    cases["edited test cell"] = (f"editor_1003_{name}", edited)

    deleted = copy.deepcopy(sol)
    del deleted["cells"][_first(deleted, "test")]
    cases["deleted test cell"] = (f"deleter_1004_{name}", deleted)

    retyped = copy.deepcopy(sol)
    cell = retyped["cells"][_first(retyped, "test")]
    cell["cell_type"] = "markdown"
    cell.pop("outputs", None), cell.pop("execution_count", None)
    cases["changed cell type"] = (f"retyper_1005_{name}", retyped)

    duplicated = copy.deepcopy(sol)
    i = _first(duplicated, "answer")
    duplicated["cells"].insert(i + 1, copy.deepcopy(duplicated["cells"][i]))
    cases["duplicated graded cell"] = (f"duplicator_1006_{name}", duplicated)

    looping = copy.deepcopy(sol)
    _prepend(looping["cells"][_first(looping, "answer")], "while True:\n    pass")
    cases["infinite loop"] = (f"looper_1007_{name}", looping)

    crashing = copy.deepcopy(sol)
    _prepend(crashing["cells"][_first(crashing, "answer")], "import os\nos._exit(1)")
    cases["kernel crash"] = (f"crasher_1008_{name}", crashing)

    cases["invalid JSON"] = (f"broken_1009_{name}", "{\"cells\": [ this is not json")

    cases["renamed (Copy of, in a student folder)"] = (f"grace_1010/Copy of {name}", sol)
    cases["renamed (no module in the name)"] = ("s1011_my_homework.ipynb", sol)

    noisy = copy.deepcopy(sol)
    _prepend(noisy["cells"][_first(noisy, "answer")],
             "import sys, threading, time\n"
             "def _chatter():\n    for _ in range(400):\n        print('debug noise', file=sys.stderr); time.sleep(0.02)\n"
             "threading.Thread(target=_chatter, daemon=True).start()")
    cases["stderr noise"] = (f"chatty_1012_{name}", noisy)

    partly_blank = copy.deepcopy(json.loads(exercise(module).read_text(encoding="utf-8")))
    first_answer = _first(sol, "answer")
    gid = sol["cells"][first_answer]["metadata"]["nbgrader"]["grade_id"]
    for i, c in enumerate(partly_blank["cells"]):  # fill every blank cell but the first with the solution's code
        meta = c["metadata"].get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") != gid:
            c["source"] = sol["cells"][_cells(sol, meta["grade_id"])[0]]["source"]
    cases["unfilled blanks"] = (f"forgetful_1013_{name}", partly_blank)

    cheat = copy.deepcopy(sol)
    for i, c in enumerate(cheat["cells"]):  # answers that fool the visible tests only
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "knowledge_check":
            c["source"] = ("class AlwaysRight(str):\n    __eq__ = lambda self, other: True\n    __hash__ = str.__hash__\n"
                           + "\n".join(f"q{k} = AlwaysRight('z')" for k in range(1, 6)))
    cases["redefined equality"] = (f"cheater_1014_{name}", cheat)

    for case, (filename, nb) in cases.items():
        path = dest / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nb if isinstance(nb, str) else json.dumps(nb, indent=1), encoding="utf-8")
    return {case: filename for case, (filename, _) in cases.items()}


def scratch_course(dest: Path) -> Path:
    """A copy of the course's nbgrader folders, so grading leaves the repository untouched."""
    shutil.copy(ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(ROOT / "solutions", dest / "solutions")
    return dest


def _grade_in_scratch(module: str, fill, timeout: int):
    """Grade the downloads that ``fill(folder)`` writes, in a scratch course; return (submissions, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "course").mkdir()
        course = scratch_course(Path(tmp) / "course")
        fill(Path(tmp) / "downloads")
        start = time.perf_counter()
        submissions = grade(module, Path(tmp) / "downloads", course, timeout)
        return submissions, time.perf_counter() - start


def _copies_of_solution(module: str, n: int):
    def fill(folder: Path) -> None:
        folder.mkdir(parents=True)
        for k in range(n):
            shutil.copy(solution(module), folder / f"student{k:03d}_{module}.ipynb")
    return fill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", default=None)
    parser.add_argument("--timeout", type=int, default=10, help="per-cell limit for the crafted infinite loop")
    parser.add_argument("--class-size", type=int, default=10, help="solution copies graded to time a normal class")
    parser.add_argument("--speed-only", action="store_true", help="skip the crafted class; only time a normal class")
    args = parser.parse_args()
    rows = []
    for module in args.modules or modules():
        if not args.speed_only:
            crafted, _ = _grade_in_scratch(module, lambda folder: craft_class(module, folder), args.timeout)
            print(f"\n## {module}: the crafted class\n")
            print_summary(crafted)
            sys.stdout.flush()
        normal, seconds = _grade_in_scratch(module, _copies_of_solution(module, args.class_size), 60)
        assert all(s.score == s.max_score for s in normal), "a copy of the solution lost points"
        rows.append((module, len(normal), seconds, seconds / len(normal)))
    print(f"\n| module | class size | total s | s per submission | 100 submissions, min |")
    print("| --- | ---:| ---:| ---:| ---:|")
    for module, n, total, per in rows:
        print(f"| {module} | {n} | {total:.1f} | {per:.2f} | {per * 100 / 60:.1f} |")


if __name__ == "__main__":
    main()
