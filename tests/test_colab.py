"""`python -m helpers colab OWNER/NAME` points every badge and setup cell at a fork; the setup cell is inert locally."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from helpers.teach.colab import BRANCH, DEFAULT_REPO, badge, point_at, setup_cell
from helpers.teach.notebooks import ROOT, kernel_env, modules

FORK = "my-school/diffusion-course.2026"
FOLDERS = ("notebooks", "solutions", "exercises")
PATTERNS = ("notebooks/*.ipynb", "solutions/*/*.ipynb", "exercises/*/*.ipynb")


OTHER_LINK = "https://github.com/huggingface/diffusers/blob/main/src/diffusers/schedulers/scheduling_ddpm.py"


@pytest.fixture
def course(tmp_path) -> Path:
    """A scratch copy of the course's notebooks, as a fork's clone would hold them."""
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, tmp_path / folder)
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    return tmp_path


def notebooks(root: Path) -> list[Path]:
    return [p for pattern in PATTERNS for p in sorted(root.glob(pattern))]


def cells(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def badge_target(path: Path, root: Path) -> str:
    """The notebook a badge opens: a graded notebook's badge opens the student version in exercises/."""
    return path.relative_to(root).as_posix().replace("solutions/", "exercises/")


def snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in notebooks(root)}


def test_committed_notebooks_use_the_generated_badge_and_setup_cell(course):
    for path in notebooks(course):
        assert cells(path)[:2] == [badge(badge_target(path, course)), setup_cell()], path


def test_point_at_rewrites_every_badge_and_setup_cell(course):
    before = snapshot(course)
    changed = point_at(FORK, course)
    assert sorted(changed) == sorted(before)
    for path in notebooks(course):
        assert cells(path)[:2] == [badge(badge_target(path, course), FORK), setup_cell(FORK)], path
        assert DEFAULT_REPO not in path.read_text(encoding="utf-8")


def test_point_at_rewrites_the_pip_url_and_nothing_past_the_setup_cell(course):
    before = {p: json.loads(p.read_text(encoding="utf-8")) for p in notebooks(course)}
    point_at(FORK, course)
    for path, old in before.items():
        new = json.loads(path.read_text(encoding="utf-8"))
        assert "".join(new["cells"][1]["source"]) == setup_cell(FORK)
        assert f"git+https://github.com/{FORK}.git@{BRANCH}" in "".join(new["cells"][1]["source"])
        assert new["cells"][2:] == old["cells"][2:] and new["metadata"] == old["metadata"], path


def test_point_at_leaves_links_to_other_repositories_alone(course):
    nb = course / "notebooks" / "02_forward_process.ipynb"
    data = json.loads(nb.read_text(encoding="utf-8"))
    data["cells"].append(
        {"cell_type": "markdown", "metadata": {}, "source": [f"The [DDPM scheduler]({OTHER_LINK}).\n"]}
    )
    nb.write_text(json.dumps(data, indent=1), encoding="utf-8")
    point_at(FORK, course)
    assert OTHER_LINK in cells(nb)[-1]


def test_point_at_is_idempotent_and_reversible(course):
    original = snapshot(course)
    point_at(FORK, course)
    once = snapshot(course)
    assert point_at(FORK, course) == []
    assert snapshot(course) == once
    point_at(DEFAULT_REPO, course)
    assert snapshot(course) == original, (
        "pointing back at the course's repository must restore every file byte for byte"
    )


@pytest.mark.parametrize(
    "repo",
    [
        "my-school",
        "my-school/course/extra",
        "https://github.com/my-school/course",
        "my school/course",
        "",
        "/course",
        "my-school/",
    ],
)
def test_point_at_rejects_a_malformed_repository_name(course, repo):
    before = snapshot(course)
    with pytest.raises(ValueError, match="OWNER/NAME"):
        point_at(repo, course)
    assert snapshot(course) == before


@pytest.mark.parametrize("module", [m for m in modules() if (ROOT / "exercises" / m).is_dir()])
def test_solutions_and_exercises_are_rewritten_alike(course, module):
    solution = course / "solutions" / module / f"{module}.ipynb"
    exercise = course / "exercises" / module / f"{module}.ipynb"
    point_at(FORK, course)
    assert cells(solution)[:2] == cells(exercise)[:2]
    assert f"github.com/{FORK}.git" in cells(exercise)[1]


@pytest.mark.timeout(600)
def test_exercise_is_still_what_generate_assignment_makes(course):
    """nbgrader's own check of the exercises/ twin, run on the fork: one module is enough, the rewrite is uniform."""
    module = modules()[0]
    point_at(FORK, course)
    rewritten = (course / "exercises" / module / f"{module}.ipynb").read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", module, "--force"],
        cwd=course,
        env=kernel_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (course / "exercises" / module / f"{module}.ipynb").read_bytes() == rewritten


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers", "colab", *args],
        cwd=ROOT,
        env=kernel_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_colab_command_points_a_clone_at_its_fork(course):
    result = run_cli(FORK, "--root", str(course))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notebooks/02_forward_process.ipynb" in result.stdout and FORK in result.stdout
    assert all(cells(p)[:2] == [badge(badge_target(p, course), FORK), setup_cell(FORK)] for p in notebooks(course))


def test_colab_command_refuses_a_badge_it_could_not_rewrite(course):
    """Whatever point_at does, the command checks its result: a badge left on the old repository is an error."""
    nb = course / "notebooks" / "02_forward_process.ipynb"
    data = json.loads(nb.read_text(encoding="utf-8"))
    data["cells"][0]["source"] = "An unusual first cell, without a badge"
    nb.write_text(json.dumps(data, indent=1), encoding="utf-8")
    result = run_cli(FORK, "--root", str(course))
    assert result.returncode == 1 and "notebooks/02_forward_process.ipynb" in result.stderr


def test_colab_command_explains_a_malformed_name_and_a_wrong_folder(course, tmp_path):
    bad = run_cli("my-school", "--root", str(course))
    assert bad.returncode == 2 and "OWNER/NAME" in bad.stderr
    empty = run_cli(FORK, "--root", str(tmp_path / "nowhere"))
    assert empty.returncode == 2 and "no notebooks" in empty.stderr


def setup_sources() -> list[str]:
    """The setup cell as helpers.teach.colab writes it, and as every committed notebook holds it."""
    return [setup_cell()] + [cells(p)[1] for p in notebooks(ROOT)]


@pytest.mark.parametrize(
    "source", setup_sources(), ids=["helpers.teach.colab"] + [str(p.relative_to(ROOT)) for p in notebooks(ROOT)]
)
def test_setup_cell_does_nothing_locally(source, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"the setup cell ran {args} outside Colab")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    namespace: dict = {}
    exec(compile(source, "<setup cell>", "exec"), namespace)
    assert "output" not in namespace  # the widget manager branch did not run either


def fake_colab(monkeypatch) -> list:
    """Make the setup cell believe it runs on Colab; return the log of what it did."""
    calls: list = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("widgets"))
    colab = types.ModuleType("google.colab")
    colab.output = output
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(subprocess, "run", lambda args, **kwargs: calls.append((args, kwargs)))
    return calls


def test_setup_cell_installs_the_course_and_enables_widgets_on_colab(monkeypatch, course):
    """The control for the test above: under a fake google.colab the same cell installs from the right repository."""
    point_at(FORK, course)
    for source, repo in [
        (setup_cell(), DEFAULT_REPO),
        (cells(course / "notebooks" / "02_forward_process.ipynb")[1], FORK),
    ]:
        calls = fake_colab(monkeypatch)
        exec(compile(source, "<setup cell>", "exec"), {})
        (args, kwargs), widgets = calls
        assert args[:4] == [sys.executable, "-m", "pip", "install"] and kwargs == {"check": True}
        assert args[-1] == f"diffusion-course[colab] @ git+https://github.com/{repo}.git@{BRANCH}"
        assert widgets == "widgets"
