"""The hostile class, graded once per test session: helpers.teach.crafted's every case, from a zip, in the sandbox.

It is graded by helpers.teach.classroom.grade (the function behind the teacher's command) in a process of its own,
with three jobs and a fake teacher HOME, from a thread beside the browser lessons; the machine's state is hashed
before and after. tests/test_classroom.py and tests/test_classroom_cases.py read the outcome.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import socket
import subprocess
import sys
import threading
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers.teach.attacks import MARKER, Targets
from helpers.teach.classroom import scratch_course
from helpers.teach.crafted import craft_class
from helpers.teach.notebooks import ROOT, solution
from helpers.teach.sandbox import sandbox_problem

MODULE = "01_toy_signal"
SECRET = "teacher-secret-7f3a"
needs_sandbox = pytest.mark.skipif(
    sandbox_problem() is not None and not os.environ.get("COURSE_REQUIRE_SANDBOX"),
    reason=f"no grading sandbox here: {sandbox_problem()}",
)


def _file_digest(path: Path) -> str:
    if path.is_symlink():
        return "link:" + os.readlink(path)
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _tree_digest(root: Path, files: list[Path] | None = None) -> dict[str, str]:
    """sha256 of every file under root (or of ``files``), keyed by path; links by their target.

    Hashed by a few threads at once (hashlib lets go of the GIL): the virtual environment alone is 56,000 files.
    """
    paths = [p for p in (files if files is not None else sorted(root.rglob("*"))) if p.is_symlink() or p.is_file()]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(map(str, paths), pool.map(_file_digest, paths, chunksize=256)))


def _tracked(repo: Path) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, text=True, check=True).stdout
    return [repo / p for p in out.split("\0") if p]


def _machine(repo: Path, home: Path, real_home: Path) -> dict[str, dict[str, str]]:
    real_ipython = real_home / ".ipython"
    return {
        "course": _tree_digest(repo, _tracked(repo)),
        "venv": _tree_digest(Path(sys.prefix)),
        "home": _tree_digest(home),
        "real ~/.ipython": _tree_digest(real_ipython) if real_ipython.exists() else {},
    }


def zip_folder(folder: Path, archive: Path, extra: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
        for name, text in (extra or {}).items():
            zf.writestr(name, text)
    return archive


def teacher_home(tmp: Path) -> Path:
    """A teacher's HOME with a secret and an IPython profile, as a hostile notebook would find one."""
    home = tmp / "home"
    (home / ".ipython" / "profile_default" / "startup").mkdir(parents=True)
    (home / "secret.txt").write_text(SECRET)
    (home / ".jupyter").mkdir()
    (home / ".jupyter" / "migrated").write_text("")  # what any earlier Jupyter command leaves in a teacher's HOME
    return home


def listening_server() -> tuple[socket.socket, list]:
    """A TCP server on the grading machine's loopback; the list fills with any connection it accepts."""
    server, connections = socket.create_server(("127.0.0.1", 0)), []
    threading.Thread(target=lambda: connections.append(server.accept()), daemon=True).start()
    return server, connections


def grade_as_teacher(archive: Path, course: Path, home: Path, env: dict[str, str]) -> list:
    """Grade with classroom.grade, the function behind the teacher's command, in a process of its own whose
    environment is the one a teacher's shell would give the command: HOME is the teacher's home and a secret is in
    it. This process's own environment stays as it is for the tests that run meanwhile. The command's own output is
    a summary CSV; the tests read each Submission, so the child hands them back pickled."""
    out = archive.with_suffix(".pickle")
    code = (
        "import pickle, sys; from pathlib import Path; from helpers.teach.classroom import Settings, grade; "
        "subs = grade(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Settings(timeout=10, jobs=3)); "
        "Path(sys.argv[4]).write_bytes(pickle.dumps(subs))"
    )  # three jobs: one more than CI's cores
    teacher = {**env, "HOME": str(home), "COURSE_TEST_SECRET": SECRET}
    run = subprocess.run(
        [sys.executable, "-c", code, MODULE, str(archive), str(course), str(out)],
        cwd=ROOT,
        env=teacher,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, f"grading the hostile class failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    return pickle.loads(out.read_bytes())


def grade_hostile_class(tmp: Path, env: dict[str, str], real_home: Path) -> dict:
    """Craft the class, hash the machine, grade the class as the teacher, hash the machine again."""
    course, home = scratch_course(tmp / "course"), teacher_home(tmp)
    server, connections = listening_server()
    targets = Targets(
        course=course,
        repo=ROOT,
        home=home,
        downloads=tmp / "downloads",
        venv=Path(sys.prefix),
        port=server.getsockname()[1],
    )
    cases = craft_class(MODULE, tmp / "downloads", targets)
    escapes = {"../escaped-by-dots.txt": "x", "/tmp/escaped-absolute.txt": "x"}
    archive = zip_folder(tmp / "downloads", tmp / "submissions.zip", escapes)
    before = _machine(ROOT, home, real_home)
    submissions = grade_as_teacher(archive, course, home, env)
    after = _machine(ROOT, home, real_home)
    left = subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True).stdout.split()
    server.close()
    by_file = {s.source.name: s for s in submissions}
    subs = {case: by_file[Path(name).name] for case, name in cases.items()}
    return {
        "subs": subs,
        "course": course,
        "tmp": tmp,
        "before": before,
        "after": after,
        "left": left,
        "connections": connections,
        "all": submissions,
    }


@pytest.fixture(scope="session")
def hostile_grading(tmp_path_factory, request) -> Future:
    """The hostile class's grading, begun in a thread of its own (tests/conftest.py begins it first).

    Sandboxed, it runs while the browser lessons run (their JupyterLab keeps its own IPython folder:
    tests/browser_lab.py); tests/conftest.py holds every other test until it is done, as they may write
    to what it hashes. Unsandboxed, the course's graders' kernels write to ~/.ipython, which it hashes:
    it waits for them first.
    """
    wait = None
    if sandbox_problem() and any("graded" in item.fixturenames for item in request.session.items):
        wait = request.getfixturevalue("graded").wait
    tmp, env, real_home = tmp_path_factory.mktemp("classroom"), dict(os.environ), Path.home()

    def run() -> dict:
        if wait:
            wait()
        return grade_hostile_class(tmp, env, real_home)

    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(run)


@pytest.fixture(scope="session")
def hostile(hostile_grading) -> dict:
    return hostile_grading.result()


def full_marks(hostile) -> float:
    return hostile["subs"]["solution"].max_score


def knowledge_check_points() -> float:
    """The points of the module's letter questions (test cells test_q1, test_q2, ...)."""
    cells = json.loads(solution(MODULE).read_text(encoding="utf-8"))["cells"]
    graded = [c["metadata"]["nbgrader"] for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    return sum(g["points"] for g in graded if g["grade_id"].startswith("test_q"))


def outputs(hostile, case: str) -> str:
    """Everything the graded notebook's cells printed (not their source)."""
    sub = hostile["subs"][case]
    nb = json.loads(
        (hostile["course"] / "autograded" / sub.student / MODULE / f"{MODULE}.ipynb").read_text(encoding="utf-8")
    )
    text = lambda value: "".join(value) if isinstance(value, list) else value
    return "".join(
        text(o.get("text", "")) + o.get("evalue", "") + json.dumps(o.get("data", {}))
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    )


def feedback(hostile, case: str) -> str:
    sub = hostile["subs"][case]
    return (hostile["course"] / "feedback" / sub.student / MODULE / f"{MODULE}.html").read_text(encoding="utf-8")
