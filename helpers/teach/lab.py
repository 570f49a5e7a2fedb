"""``python -m helpers lab``: JupyterLab at the repository root, on lesson 01, with the learner's tools only.

The file browser shows ``notebooks/``, ``exercises/`` and the README, so every lesson's "Next" link
opens. nbgrader's teacher tools (its menu, "Create Assignment", "Validate") are switched off for the
learner through the config folder ``helpers/teach/learner_config`` (JupyterLab's own
``disabledExtensions`` and jupyter_server's ``jpserver_extensions``); ``--teacher`` keeps them.
JupyterLab's settings are otherwise its defaults. Extra arguments go to ``jupyter lab``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.paths import ROOT

LEARNER_CONFIG = Path(__file__).with_name("learner_config")
FIRST_LESSON = "notebooks/01_toy_signal.ipynb"


def lab_command(extra: list[str] | None = None, root: Path = ROOT) -> list[str]:
    """The ``jupyter lab`` command line: served from ``root``, opening lesson 01 (as root: --allow-root)."""
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI run as root; Jupyter refuses without this
        command.append("--allow-root")
    return [*command, *(extra or []), str(root / FIRST_LESSON)]


def lab_environment(teacher: bool = False, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for JupyterLab: the learner config folder first on JUPYTER_CONFIG_PATH, unless ``teacher``."""
    env = dict(os.environ if base is None else base)
    if not teacher:
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
            p for p in (str(LEARNER_CONFIG), env.get("JUPYTER_CONFIG_PATH")) if p
        )
    return env


def main(argv: list[str]) -> int:
    """Run JupyterLab in the foreground; ``--teacher`` keeps nbgrader's tools."""
    teacher = "--teacher" in argv
    extra = [a for a in argv if a != "--teacher"]
    return subprocess.call(lab_command(extra), cwd=ROOT, env=lab_environment(teacher))
