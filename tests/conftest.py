"""Shared fixtures: the repository root, its modules, and nbgrader run in a scratch copy of the course."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.notebooks import ROOT, kernel_env, modules

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub lookup fails at once instead of retrying


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def run_nbgrader(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``cwd`` with this Python (its alembic on PATH, as gradebook creation needs)."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=kernel_env(),
                            capture_output=True, text=True, timeout=1800)
    if check and result.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def course_copy(tmp_path_factory) -> Path:
    """A scratch copy of the course's nbgrader folders, with every assignment generated into it."""
    dest = tmp_path_factory.mktemp("course")
    for name in ("nbgrader_config.py", "solutions"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    for module in modules():
        run_nbgrader(["generate_assignment", module, "--force"], cwd=dest)
    return dest
