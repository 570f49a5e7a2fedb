"""The environment files agree, and CI runs exactly the README's test command."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers.teach.jobs import scratch_course
from helpers.teach.notebooks import ROOT
from helpers.teach.sandbox import sandbox_problem


def _requirement_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_requirements_pin_exact_versions():
    lines = _requirement_lines((ROOT / "requirements.txt").read_text())
    pins = [line for line in lines if line != "-e ."]
    assert "-e ." in lines, "requirements.txt must install the course package itself"
    unpinned = [line for line in pins if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.+]+", line)]
    assert not unpinned, f"these requirements are not pinned with ==: {unpinned}"
    names = {line.split("==")[0].lower() for line in pins}
    needed = {
        "jupyterlab",
        "ipywidgets",
        "numpy",
        "matplotlib",
        "torch",
        "diffusers",
        "transformers",
        "nbgrader",
        "nbclient",
        "pytest",
        "safetensors",
        "tqdm",
        "scikit-learn",
    }
    assert needed <= names, f"missing pins: {needed - names}"
    assert "torch==2.13.0" in pins


def test_environment_yml_matches_requirements():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*python=3\.11\s*$", text, re.M), "environment.yml must install Python 3.11"
    pip_section = text.split("- pip:", 1)[1]
    conda_pins = [re.sub(r"^\s*-\s*", "", line) for line in pip_section.splitlines() if line.strip()]
    assert conda_pins == _requirement_lines((ROOT / "requirements.txt").read_text())


def test_pyproject_installs_helpers_on_python_311():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert "torch" not in " ".join(project["optional-dependencies"]["colab"]), "the Colab extra must keep Colab's torch"


def quick_start_commands() -> list[str]:
    """The one-line commands in the README's Quick start section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", section, re.S)
    return [
        line.strip() for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")
    ]


def test_readme_quick_start_has_two_one_line_commands():
    commands = quick_start_commands()
    assert len(commands) == 2, f"the Quick start should hold exactly two commands, found {commands}"
    assert "python -m helpers lab" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    test_command = quick_start_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines, f".ci/run must run the README's test command as one line:\n{test_command}"


def test_ci_installs_the_debian_packages_the_tests_need():
    ci = (ROOT / ".ci" / "run").read_text()
    for command, package in (("chromium", "chromium"), ("bwrap", "bubblewrap")):
        assert f"command -v {command}" in ci and f"missing+=({package})" in ci, f".ci/run must install {package}"
    assert "COURSE_REQUIRE_SANDBOX=1" in ci and "COURSE_REQUIRE_BROWSER=1" in ci


@pytest.mark.timeout(600)
def test_readme_plain_nbgrader_commands_work_without_an_activated_environment(tmp_path):
    course = scratch_course(tmp_path / "course", ["01_toy_signal"])
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # as a teacher's shell has it: .venv/bin not on PATH
    nbgrader = str(Path(sys.executable).parent / "nbgrader")  # the README's `.venv/bin/nbgrader`
    unsandboxed = (
        ["--SandboxedExecute.sandbox=False"]
        if sandbox_problem() and not os.environ.get("COURSE_REQUIRE_SANDBOX")
        else []
    )
    submitted = course / "submitted" / "ada" / "01_toy_signal"
    for command in (
        ["generate_assignment", "01_toy_signal", "--force"],
        ["autograde", "01_toy_signal", *unsandboxed],
        ["generate_feedback", "01_toy_signal"],
        ["export"],
    ):
        if command[0] == "autograde":
            submitted.mkdir(parents=True)
            shutil.copy(course / "solutions" / "01_toy_signal" / "01_toy_signal.ipynb", submitted)
        done = subprocess.run([nbgrader, *command], cwd=course, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"nbgrader {' '.join(command)}:\n{done.stderr[-2000:]}"
    assert (course / "exercises" / "01_toy_signal" / "01_toy_signal.ipynb").is_file()
    assert (course / "feedback" / "ada" / "01_toy_signal" / "01_toy_signal.html").is_file()
    rows = list(csv.DictReader((course / "grades.csv").open(encoding="utf-8")))
    assert [(r["student_id"], float(r["score"]) == float(r["max_score"]) > 0) for r in rows] == [("ada", True)]
