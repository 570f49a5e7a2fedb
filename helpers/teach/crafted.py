"""A crafted class: the solution, the blank exercise, and one submission per broken or hostile case.

``craft_class(module, dest, targets)`` writes them with platform-style file names and returns
{case: file name}. The tests grade it and check each outcome; ``python -m benchmarks.grading``
prints its summary. ``targets`` names the real paths an attacker would aim at (the course, the
repository, the teacher's HOME, the downloads), so each attack is tried with full knowledge.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from helpers.teach.attacks import ON_WRONG_LETTERS, SANDBOX_ATTACKS, SURVIVING, TAMPERING, Targets, library_patch
from helpers.teach.honest import honest_cases
from helpers.teach.notebooks import exercise, solution


def _cells(nb: dict, grade_id: str) -> list[int]:
    return [i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id]


def _first(nb: dict, kind: str) -> int:
    """Index of the first graded answer cell ("answer") with blanks, or the first graded test cell ("test")."""
    for i, c in enumerate(nb["cells"]):
        meta = c["metadata"].get("nbgrader", {})
        if (
            kind == "answer"
            and meta.get("solution")
            and c["cell_type"] == "code"
            and "# BLANK:" in "".join(c["source"])
        ):
            return i
        if kind == "test" and meta.get("grade") and not meta.get("solution"):
            return i
    raise ValueError(f"no {kind} cell")


def _prepend(cell: dict, code: str) -> None:
    cell["source"] = code + "\n" + "".join(cell["source"])


def _with_cell(nb: dict, code: str) -> dict:
    """A copy of ``nb`` with a learner's own code cell right after the blanks import."""
    nb = copy.deepcopy(nb)
    at = _cells(nb, "setup")[0] + 1 if _cells(nb, "setup") else 2
    nb["cells"].insert(
        at,
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"learner-{at}",
            "metadata": {},
            "outputs": [],
            "source": code,
        },
    )
    return nb


def _edited(sol: dict, kind: str, change) -> dict:
    """A copy of the solution with ``change(cells, index)`` applied at its first answer or test cell."""
    nb = copy.deepcopy(sol)
    change(nb["cells"], _first(nb, kind))
    return nb


def _retype(cells: list, i: int) -> None:
    cells[i]["cell_type"] = "markdown"
    cells[i].pop("outputs", None), cells[i].pop("execution_count", None)


def _restored_cases(sol: dict, name: str) -> dict[str, tuple[str, object]]:
    """Changes to graded cells that nbgrader puts back."""
    return {
        "edited test cell": (f"editor_1003_{name}", _edited(sol, "test", lambda c, i: c[i].update(source="pass"))),
        "deleted test cell": (f"deleter_1004_{name}", _edited(sol, "test", lambda c, i: c.pop(i))),
        "changed cell type": (f"retyper_1005_{name}", _edited(sol, "test", _retype)),
        "duplicated graded cell": (
            f"duplicator_1006_{name}",
            _edited(sol, "answer", lambda c, i: c.insert(i + 1, copy.deepcopy(c[i]))),
        ),
    }


def _runtime_cases(sol: dict, name: str) -> dict[str, tuple[str, object]]:
    """Notebooks that loop, crash, are not JSON, or write to stderr."""
    chatter = (
        "import sys, threading, time\ndef _chatter():\n    for _ in range(400):\n"
        "        print('debug noise', file=sys.stderr); time.sleep(0.02)\n"
        "threading.Thread(target=_chatter, daemon=True).start()"
    )
    return {
        "infinite loop": (
            f"looper_1007_{name}",
            _edited(sol, "answer", lambda c, i: _prepend(c[i], "while True:\n    pass")),
        ),
        "kernel crash": (
            f"crasher_1008_{name}",
            _edited(sol, "answer", lambda c, i: _prepend(c[i], "import os\nos._exit(1)")),
        ),
        "invalid JSON": (f"broken_1009_{name}", '{"cells": [ this is not json'),
        "stderr noise": (f"chatty_1012_{name}", _with_cell(sol, chatter)),
    }


def _partly_blank(sol: dict, ex: dict) -> dict:
    """The exercise with every blank cell but the first filled with the solution's code."""
    nb, gid = copy.deepcopy(ex), sol["cells"][_first(sol, "answer")]["metadata"]["nbgrader"]["grade_id"]
    for c in nb["cells"]:
        meta = c["metadata"].get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") != gid:
            c["source"] = sol["cells"][_cells(sol, meta["grade_id"])[0]]["source"]
    return nb


def _always_right(sol: dict) -> dict:
    """Knowledge-check answers that fool the visible tests only: a str subclass equal to everything."""
    nb = copy.deepcopy(sol)
    for c in nb["cells"]:
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "knowledge_check":
            questions = [line.split("=")[0].strip() for line in "".join(c["source"]).splitlines() if "=" in line]
            c["source"] = (
                "class AlwaysRight(str):\n    __eq__ = lambda self, other: True\n    __hash__ = str.__hash__\n"
                + "\n".join(f"{q} = AlwaysRight('z')" for q in questions)
            )
    return nb


def wrong_letters(sol: dict) -> dict:
    """The solution with every knowledge-check answer replaced by another valid letter."""
    nb = copy.deepcopy(sol)
    other = lambda m: f'{m[1]} = "{"b" if m[2] == "a" else "a"}"'
    for c in nb["cells"]:
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "knowledge_check":
            c["source"] = re.sub(r'^(q\d+) = "([a-d])".*$', other, "".join(c["source"]), flags=re.M)
    return nb


def _classic_cases(module: str, sol: dict, ex: dict, name: str) -> dict[str, tuple[str, object]]:
    """The broken and hostile cases of a platform download (restored cells, loops, crashes, names)."""
    return {
        "solution": (f"Ada Lovelace_1001_assignsubmission_file_{name}", sol),
        "blank exercise": (f"Blank Student_1002_assignsubmission_file_{name}", ex),
        **_restored_cases(sol, name),
        **_runtime_cases(sol, name),
        "renamed (Copy of, in a student folder)": (f"grace_1010/Copy of {name}", sol),
        "renamed (no module in the name)": ("s1011_my_homework.ipynb", sol),
        "unfilled blanks": (f"forgetful_1013_{name}", _partly_blank(sol, ex)),
        "redefined equality": (f"cheater_1014_{name}", _always_right(sol)),
    }


def _identity_cases(sol: dict, name: str) -> dict[str, tuple[str, object]]:
    """Names in other scripts, noise words inside names, and one student's resubmission."""
    return {
        "name in Cyrillic": (f"Мария Иванова_2001_assignsubmission_file_{name}", sol),
        "name in Chinese": (f"张伟_2002_assignsubmission_file_{name}", sol),
        "noise word inside a name": (f"Inflated Plateau_2003_assignsubmission_file_{name}", sol),
        "resubmission (older)": (f"Jo March_2004_assignsubmission_file_{name}", sol),
        "resubmission (newer)": (f"Jo March_2004_assignsubmission_file_{name.replace('.ipynb', ' (1).ipynb')}", sol),
    }


def craft_class(module: str, dest: Path, targets: Targets | None = None) -> dict[str, str]:
    """Write one submission per case into ``dest``; return {case: file name relative to dest}."""
    sol = json.loads(solution(module).read_text(encoding="utf-8"))
    ex = json.loads(exercise(module).read_text(encoding="utf-8"))
    name = f"{module}.ipynb"
    cases = _classic_cases(module, sol, ex, name)
    cases.update(_identity_cases(sol, name))
    for k, (case, code) in enumerate({**TAMPERING, "patched library function": library_patch(module)}.items()):
        base = wrong_letters(sol) if case in ON_WRONG_LETTERS else ex
        cases[f"tampering: {case}"] = (f"tamperer_{1201 + k}_{name}", _with_cell(base, code))
    for k, (case, code) in enumerate(SURVIVING.items()):
        cases[f"surviving: {case}"] = (f"survivor_{1401 + k}_{name}", _with_cell(ex, code))
    if module.startswith("01"):
        files = {}  # one file per honest learner: habits that share a notebook share its file
        for case, nb in honest_cases(sol).items():
            files.setdefault(id(nb), f"honest_{1501 + len(files)}_{name}")
            cases[case] = (files[id(nb)], nb)
    cases["honest helper code"] = (
        f"honest_1301_{name}",
        _with_cell(
            sol,
            (
                "import math, time\nfrom tqdm.auto import tqdm\n"
                "for _ in tqdm(range(3), disable=True):\n    time.sleep(0.01)\n"
                "print('my own check:', math.sqrt(2))"
            ),
        ),
    )
    if targets is not None:
        for case, (student, attack) in SANDBOX_ATTACKS.items():
            cases[f"sandbox: {case}"] = (f"{student}_{name}", _with_cell(sol, attack(targets, module)))
    for filename, nb in cases.values():
        path = dest / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nb if isinstance(nb, str) else json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    _age_older_resubmission(dest, cases)
    return {case: filename for case, (filename, _) in cases.items()}


def _age_older_resubmission(dest: Path, cases: dict[str, tuple[str, object]]) -> None:
    import os

    older = dest / cases["resubmission (older)"][0]
    newer = dest / cases["resubmission (newer)"][0]
    stat = newer.stat()
    os.utime(older, (stat.st_atime - 60, stat.st_mtime - 60))
