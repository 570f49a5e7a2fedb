"""The teacher's one command grades a hostile class in the sandbox: nothing is lost, nothing leaks, tampering is caught.

The class is graded once per session by tests/classroom_fixture.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from classroom_fixture import MODULE, SECRET, feedback, full_marks, needs_sandbox, outputs

from helpers.teach.attacks import SANDBOX_ATTACKS, TAMPERING

pytestmark = needs_sandbox


# --- Nothing lost ------------------------------------------------------------------------------


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("part", ["course", "venv", "home", "real ~/.ipython"])
def test_machine_is_byte_identical_after_grading(part, hostile):
    before, after = hostile["before"][part], hostile["after"][part]
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"grading the hostile class changed {part}: {changed[:10]}"


def test_no_process_is_left_running(hostile):
    assert not hostile["left"], f"processes left behind: {hostile['left']}"


def test_downloads_are_never_modified_and_zip_entries_stay_inside(hostile):
    tmp = hostile["tmp"]
    assert not (tmp / "escaped-by-dots.txt").exists() and not Path("/tmp/escaped-absolute.txt").exists()
    assert all(s.source.is_relative_to(Path("/")) for s in hostile["all"])


# --- Isolation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [f"sandbox: {c}" for c in SANDBOX_ATTACKS])
def test_sandbox_attacks_are_graded_normally(case, hostile):
    sub = hostile["subs"][case]
    assert sub.score == full_marks(hostile), (case, sub)


def test_nothing_private_can_be_read(hostile):
    text = outputs(hostile, "sandbox: reads private files")
    assert "blocked" in text and "FOUND" not in text
    assert SECRET not in text and "BEGIN HIDDEN TESTS" not in text
    assert hostile["subs"]["sandbox: reads private files"].status == "graded"


def test_nothing_outside_its_folder_can_be_written(hostile):
    text = outputs(hostile, "sandbox: writes outside its folder")
    assert text.count("blocked") >= 8 and "WROTE" not in text and "DELETED" not in text
    course = hostile["course"]
    assert (course / "solutions" / MODULE / f"{MODULE}.ipynb").exists() and not (course / "planted.txt").exists()


def test_there_is_no_network(hostile):
    text = outputs(hostile, "sandbox: uses the network")
    assert "CONNECTED" not in text and text.count("blocked") == 3
    assert not hostile["connections"], "the sandboxed kernel reached a server on the grading machine"


def test_memory_and_output_limits_become_the_status(hostile):
    assert hostile["subs"]["sandbox: runs out of memory"].status.startswith("ran out of memory in cell ")
    assert hostile["subs"]["sandbox: floods the output"].status.startswith("output limit exceeded in cell ")
    flood = outputs(hostile, "sandbox: floods the output")
    assert len(flood) < 40 * 2**20 and "output limit reached" in flood


# --- Tampering -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [f"tampering: {c}" for c in [*TAMPERING, "patched library function"]])
def test_each_tampering_family_is_caught(case, hostile):
    sub = hostile["subs"][case]
    assert sub.status == "kernel tampered with: needs review", (case, sub)
    assert sub.score == 0, (case, sub)
    page = feedback(hostile, case)
    assert "Needs review" in page and "KernelTampered" in page


def test_the_gradebook_flags_tampered_notebooks(hostile):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{hostile['course'] / 'gradebook.db'}") as gb:
        flagged = {
            s.student: gb.find_submission_notebook(MODULE, MODULE, s.student).flagged
            for s in hostile["subs"].values()
            if s.score is not None
        }
    tampered = {s.student for c, s in hostile["subs"].items() if c.startswith("tampering")}
    assert {s for s, f in flagged.items() if f} == tampered


@pytest.mark.parametrize(
    "case",
    [
        "solution",
        "honest helper code",
        "stderr noise",
        "renamed (no module in the name)",
        "name in Cyrillic",
        "name in Chinese",
        "noise word inside a name",
    ],
)
def test_honest_submissions_are_never_flagged(case, hostile):
    sub = hostile["subs"][case]
    assert sub.status == "graded" and sub.score == full_marks(hostile) > 0, (case, sub)
