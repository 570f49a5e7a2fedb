"""Every graded notebook run once per test session, through the teacher's plain ``nbgrader autograde``.

For each module: the solution ('full'), the untouched exercise ('blank'), each correct alternative
answer ('altK', tests/alternatives/) and each plausible mistake ('mistakeK', tests/test_mistakes.py,
with a copy of its test cell's visible part just before the test, as an ungraded cell of the learner's).
tests/test_grading.py, test_notebooks.py, test_exercises.py and test_mistakes.py read the outcome;
none of them executes a graded notebook again.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import threading
import time
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from alternatives import alternatives, notebook
from nbgrader.api import Gradebook

from helpers.teach.classroom import warm_caches
from helpers.teach.notebooks import ROOT, exercise, grade_id, kernel_env, modules, solution

# The grading kernels are pinned to one thread (helpers.teach.sandbox.FIXED_THREADS); one worker more than the cores
# fills the gaps while a worker's nbgrader starts a kernel or writes its notebook.
JOBS = (os.cpu_count() or 1) + 1
# The course's autograding runs in the background for most of the session, niced: the foreground tests (the browser
# lessons above all) keep their speed, and the grading takes what they leave idle. Its kernels' hang guards are
# widened to match (a starved cell is slow, not hung): the suite's budgets catch hangs only.
NICE = 10
HANG_S = 900
# Seconds one solution notebook takes to execute on one thread, measured alone on 2 cores (December 2026); each
# graded copy costs about that plus START_S. A guide to the order (the longest work first, so that no core idles at the
# end while one long module finishes alone) and to the parts: a module whose copies cost more than PART_S is graded
# in several parts, each its own plain ``nbgrader autograde`` in its own folders and gradebook, that run side by side.
SECONDS = {"09": 21, "10": 14, "06": 13, "08": 12, "07": 11, "05": 9, "03": 6, "04": 6, "02": 1, "01": 1}
START_S = 2
PART_S = 120

ARTIFACTS = ROOT / "artifacts"


def mistakes(module: str) -> list:
    from test_mistakes import MISTAKES

    return [m for m in MISTAKES if m.module == module]


def students(module: str) -> list[str]:
    alts = [f"alt{k}" for k in range(len(alternatives(module)))]
    return ["full", "blank", *alts, *(f"mistake{k}" for k in range(len(mistakes(module))))]


def cost(module: str) -> float:
    """Estimated core-seconds to grade every copy of ``module`` (an unlisted module counts as longest)."""
    return (SECONDS.get(module[:2], 10**6) + START_S) * len(students(module))


def parts(module: str) -> list[tuple[str, ...]]:
    """The module's students in as few parts as keep each under PART_S core-seconds, 'full' and 'blank' apart."""
    everyone = students(module)
    n = min(len(everyone), math.ceil(cost(module) / PART_S))
    return [tuple(everyone[k::n]) for k in range(n)]


def with_visible_copy(nb: nbformat.NotebookNode, test: str) -> nbformat.NotebookNode:
    """The notebook with an ungraded copy of ``test``'s visible part right before it (id ending in -visible)."""
    ids = [grade_id(c) for c in nb.cells]
    at = ids.index(test)
    visible = copy.deepcopy(nb.cells[at])
    visible.source = visible.source.partition("### BEGIN HIDDEN TESTS")[0]
    visible.metadata, visible.id = {}, f"{visible.id}-visible"
    nb.cells.insert(at, visible)
    return nb


def submission(module: str, student: str) -> nbformat.NotebookNode:
    if student.startswith("alt"):
        return notebook(module, list(alternatives(module))[int(student[3:])])
    if student.startswith("mistake"):
        from test_mistakes import with_mistake

        mistake = mistakes(module)[int(student[7:])]
        return with_visible_copy(with_mistake(mistake), mistake.test)
    return nbformat.read(solution(module) if student == "full" else exercise(module), as_version=4)


@dataclass(frozen=True)
class Graded:
    """One graded submission: its scores, each test cell's score, and the graded notebook (the teacher's copy)."""

    score: float
    max_score: float
    cells: dict[str, float]
    path: Path

    def notebook(self) -> nbformat.NotebookNode:
        return nbformat.read(self.path, as_version=4)


class GradedCourse:
    """{(module, student): Graded}. Once started (tests/conftest.py starts it first, before the hostile class; a read
    starts it too) every module is queued for autograding in its parts, ``JOBS`` parts at once (each in its own
    folders and gradebook, as the grading kernels run on one thread each); a read waits for its own module, never for
    the whole course, so a pytest timeout there catches a hang, not a slow machine."""

    def __init__(self, course: Path) -> None:
        self.course, self.futures, self.times = course, {}, {}
        self.lock, self.ready = threading.Lock(), set()  # generate_assignment, one at a time; the modules it made
        self.pool = ThreadPoolExecutor(max_workers=JOBS)
        self.started = time.monotonic()
        # the environment as the session began: a test that changes os.environ for a while (monkeypatch.setenv) must
        # not reach the graders started meanwhile
        self.env = kernel_env()

    def __getitem__(self, key: tuple[str, str]) -> Graded:
        module, student = key
        self.start(first=module)
        if module not in self.futures:  # a module left out of a narrowed start, read after all
            for k, part in enumerate(parts(module)):
                self._queue(module, k, part)
        for part, future in self.futures[module].items():  # only the part that holds the student is waited for
            if student in part:
                return future.result()[student]
        raise KeyError(key)

    def start(self, first: str | None = None, only: set[str] | None = None) -> None:
        """Queue every module, or those in ``only``, once: ``first``'s parts at the head, then the costliest first."""
        if not self.futures:
            queued = [(m, k, part) for m in modules() if not only or m in only for k, part in enumerate(parts(m))]
            for m, k, part in sorted(queued, key=lambda q: (q[0] != first, -cost(q[0]) / len(parts(q[0])))):
                self._queue(m, k, part)

    def _queue(self, module: str, k: int, part: tuple[str, ...]) -> None:
        self.futures.setdefault(module, {})[part] = self.pool.submit(self._grade, module, k, part)

    def generated(self, module: str) -> Path:
        """The course copy, with ``module`` generated into it by ``nbgrader generate_assignment`` (once)."""
        with self.lock:
            self._generate(module)
        return self.course

    def _generate(self, module: str) -> None:
        """Generate ``module``'s assignment unless it is already; the caller holds ``self.lock``."""
        if module not in self.ready:
            from conftest import run_nbgrader

            run_nbgrader(["generate_assignment", module, "--force"], self.course, nice=NICE, env=self.env)
            warm_caches(self.course, module)
            self.ready.add(module)

    def wait(self) -> None:
        """Until every queued module is graded or has failed (its tests report a failure, not this wait)."""
        futures.wait([f for fs in self.futures.values() for f in fs.values()])

    def _grade(self, module: str, k: int, part: tuple[str, ...]) -> dict[str, Graded]:
        """One part of a module's students, through plain ``nbgrader autograde`` in folders and a gradebook of its
        own (SQLite takes one writer at a time)."""
        from conftest import run_nbgrader

        began = time.monotonic()
        submitted, autograded = f"submitted-{module}-{k}", f"autograded-{module}-{k}"
        for student in part:
            dest = self.course / submitted / student / module
            dest.mkdir(parents=True, exist_ok=True)
            nbformat.write(submission(module, student), dest / f"{module}.ipynb")
        db = self.course / f"gradebook-{module}-{k}.db"
        with self.lock:  # the part's own gradebook, copied once its module is in the course's
            self._generate(module)
            shutil.copyfile(self.course / "gradebook.db", db)
        folders = [
            f"--CourseDirectory.submitted_directory={submitted}",
            f"--CourseDirectory.autograded_directory={autograded}",
        ]
        hang = [f"--Execute.timeout={HANG_S}", f"--Execute.startup_timeout={HANG_S}"]
        run_nbgrader(
            ["autograde", module, "--force", f"--CourseDirectory.db_url=sqlite:///{db}", *folders, *hang],
            self.course,
            nice=NICE,
            env=self.env,
        )
        results = {}
        with Gradebook(f"sqlite:///{db}") as gb:
            for s in part:
                sub = gb.find_submission_notebook(module, module, s)
                cells = {g.name: g.score for g in sub.grades if g.cell_type == "code"}
                path = self.course / autograded / s / module / f"{module}.ipynb"
                results[s] = Graded(sub.score, sub.max_score, cells, path)
        self.times[f"{module} part {k + 1}"] = [round(began - self.started), round(time.monotonic() - self.started)]
        return results


@pytest.fixture(scope="session")
def graded(course_copy):
    """Every graded notebook of the course, autograded once per session, from the first read on."""
    course = GradedCourse(course_copy)
    yield course
    course.pool.shutdown(cancel_futures=True)
    # when each part started and ended, in seconds from the grading's start, and when the session ended
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    timeline = {"session end": round(time.monotonic() - course.started), **course.times}
    (ARTIFACTS / "grading-times.json").write_text(json.dumps(timeline, indent=1), encoding="utf-8")
