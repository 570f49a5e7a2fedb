"""``python -m helpers lab``: JupyterLab at the repository root on lesson 01, without nbgrader's tools for learners."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers.paths import ROOT
from helpers.teach.lab import LEARNER_CONFIG, lab_command, lab_environment


def test_the_command_serves_the_repository_root_and_opens_lesson_01():
    command = lab_command(["--port=9999"])
    assert f"--ServerApp.root_dir={ROOT}" in command and command[-1] == str(ROOT / "notebooks" / "01_toy_signal.ipynb")
    assert command[1:4] == ["-m", "jupyter", "lab"] and "--port=9999" in command
    assert ("--allow-root" in command) == (os.geteuid() == 0)


def test_learners_get_the_config_that_switches_nbgrader_off_and_teachers_do_not():
    learner = lab_environment(base={"JUPYTER_CONFIG_PATH": "/elsewhere"})
    assert learner["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(LEARNER_CONFIG), "/elsewhere"]
    assert "JUPYTER_CONFIG_PATH" not in lab_environment(teacher=True, base={})
    page = json.loads((LEARNER_CONFIG / "labconfig" / "page_config.json").read_text())
    server = json.loads((LEARNER_CONFIG / "jupyter_server_config.json").read_text())
    assert page["disabledExtensions"] == {"@jupyter/nbgrader": True}
    assert set(server["ServerApp"]["jpserver_extensions"].values()) == {False}


def test_jupyterlab_itself_reads_the_learner_config():
    """jupyter labextension list, with the learner environment, reports nbgrader's extension disabled."""
    run = lambda env: subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True, env=env, timeout=120
    )
    learner, teacher = run(lab_environment()), run(lab_environment(teacher=True))
    line = lambda out: next(x for x in (out.stdout + out.stderr).splitlines() if "@jupyter/nbgrader" in x and "v0" in x)
    assert "disabled" in line(learner) and "enabled" in line(teacher) and "disabled" not in line(teacher)


def test_the_readme_command_takes_teacher_and_jupyter_arguments_in_their_order(monkeypatch):
    """`python -m helpers lab --teacher --port 8890`, as the README writes it: every argument reaches the lab."""
    import helpers.__main__ as cli
    import helpers.teach.lab as lab

    calls = []
    monkeypatch.setattr(lab.subprocess, "call", lambda command, cwd, env: calls.append((command, env)) or 0)
    for argv, teacher in (
        (["lab", "--teacher", "--port", "8890"], True),
        (["lab", "--port=8891", "--no-browser"], False),
    ):
        assert cli.main(argv) == 0
        command, env = calls[-1]
        assert command == lab_command([a for a in argv[1:] if a != "--teacher"])
        assert (str(LEARNER_CONFIG) in env.get("JUPYTER_CONFIG_PATH", "")) != teacher
    real = subprocess.run(
        [sys.executable, "-m", "helpers", "lab", "--teacher", "--port", "8890", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # the real command line, down to jupyter lab, which prints its version and exits
    assert real.returncode == 0 and real.stdout.strip()[:1].isdigit(), real.stderr
    other = subprocess.run([sys.executable, "-m", "helpers", "doctor", "--port", "1"], capture_output=True, text=True)
    assert other.returncode == 2 and "unrecognized arguments: --port 1" in other.stderr
