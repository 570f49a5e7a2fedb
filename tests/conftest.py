"""Shared fixtures: the repository root, the tiny SD pipeline, and nbgrader run in a scratch copy of the course."""

from __future__ import annotations

import os
import subprocess
from concurrent import futures
from concurrent.futures import Future
from pathlib import Path

import pytest
import torch

from helpers import sd
from helpers.teach.classroom import nbgrader, scratch_course
from helpers.teach.notebooks import ROOT, modules
from helpers.teach.sandbox import sandbox_problem

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub lookup fails at once instead of retrying


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="module")
def pipe():
    """The tiny offline Stable Diffusion pipeline, loaded once per test module and run on one torch thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny pipeline's tensors are small; one thread avoids oversubscribing a shared CPU
    sd.quiet()
    pipe, _ = sd.load_pipeline(prefer="tiny", progress=False)
    yield pipe
    torch.set_num_threads(before)


def run_nbgrader(
    args: list[str], cwd: Path, check: bool = True, nice: int = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``cwd`` as the classroom command does; fail the test with nbgrader's log.

    Where bubblewrap cannot run (a contributor's Mac, say) autograde runs unsandboxed, unless
    COURSE_REQUIRE_SANDBOX is set, as CI sets it, to make that a failure. ``nice`` lowers its priority (and its
    kernels'); ``env`` is the environment it runs in (by default this process's, as the teacher's command takes it).
    """
    if args[:1] == ["autograde"] and sandbox_problem() and not os.environ.get("COURSE_REQUIRE_SANDBOX"):
        args = [*args, "--SandboxedExecute.sandbox=False"]
    result = nbgrader(args, cwd, timeout=3600, nice=nice, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def executed_lessons():
    """Every lesson, run once per session (the browser test's saved run, or nbclient on first use): see executed.py."""
    from executed import ExecutedLessons

    return ExecutedLessons()


@pytest.fixture(scope="session")
def course_copy(tmp_path_factory) -> Path:
    """A scratch copy of the course's nbgrader config and solutions; tests/graded_fixture.py generates each
    assignment into it when it first needs it (``GradedCourse.generated``)."""
    return scratch_course(tmp_path_factory.mktemp("course"))


from classroom_fixture import hostile, hostile_grading  # noqa: E402,F401 (the hostile class, graded once per session)
from graded_fixture import graded  # noqa: E402,F401 (every graded notebook, autograded once per session)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser lessons first, the tests that read the course's autograding last (otherwise in file order): the
    lessons take one core while the hostile class and the course's autograding take the other, and the autograding
    fills what the tests in between leave idle, instead of running alone at the end."""
    items.sort(key=lambda item: ("graded" in item.fixturenames, item.get_closest_marker("browser") is None))


@pytest.fixture(scope="session", autouse=True)
def _heavy_work_first(request) -> Future | None:
    """The suite's two big gradings, begun before any test so that the two cores never idle while there is work.

    Every graded notebook is queued first, in the background at low priority (graded_fixture.NICE):
    it takes the CPU that the hostile class, the lessons and the other tests leave idle, and each test
    that reads a module's outcome waits only for that module. Then the hostile class's grading begins
    in a thread, at normal priority, beside the browser lessons. It hashes the course, the venv and
    ~/.ipython before and after, so every other test waits for it (``_after_the_hostile_class``); the
    background graders write only in their own scratch course and their sandboxes' HOME, and the
    lessons' JupyterLab keeps its own IPython folder. Without a sandbox it is graded before any test.
    """
    used = {name for item in request.session.items for name in item.fixturenames}
    if "graded" in used:  # a run narrowed to some modules (-k 09_text) grades only those
        readers = [item.nodeid for item in request.session.items if "graded" in item.fixturenames]
        named = [{m for m in modules() if m in nodeid} for nodeid in readers]
        request.getfixturevalue("graded").start(only=set().union(*named) if all(named) else None)
    if "hostile" not in used:
        return None
    grading = request.getfixturevalue("hostile_grading")
    if sandbox_problem():
        futures.wait([grading])
    return grading


@pytest.fixture(autouse=True)
def _after_the_hostile_class(request, _heavy_work_first) -> None:
    """Every test but the browser lessons starts once the hostile class is graded (its failure is its tests')."""
    if _heavy_work_first is not None and request.node.get_closest_marker("browser") is None:
        futures.wait([_heavy_work_first])
