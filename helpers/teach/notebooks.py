"""Find and execute the course's notebooks with nbclient, as a learner's fresh kernel would run them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from helpers.paths import ROOT


def committed_notebooks(root: Path = ROOT) -> list[Path]:
    """Every notebook the repository holds: lessons, then solutions, then exercises (the one home of these globs)."""
    return (
        sorted(root.glob("notebooks/*.ipynb"))
        + sorted(root.glob("solutions/*/*.ipynb"))
        + sorted(root.glob("exercises/*/*.ipynb"))
    )


def lessons(root: Path = ROOT) -> list[Path]:
    """The lesson notebooks, in module order."""
    return sorted(root.glob("notebooks/[0-9][0-9]_*.ipynb"))


def modules(root: Path = ROOT) -> list[str]:
    """The graded modules' names (the folders of solutions/), in order."""
    return sorted(p.name for p in root.glob("solutions/[0-9][0-9]_*") if p.is_dir())


def solution(module: str, root: Path = ROOT) -> Path:
    return root / "solutions" / module / f"{module}.ipynb"


def exercise(module: str, root: Path = ROOT) -> Path:
    return root / "exercises" / module / f"{module}.ipynb"


def grade_id(cell: dict) -> str | None:
    """The nbgrader grade id of a notebook cell (a dict or a NotebookNode), or None for an ungraded cell."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def kernel_env() -> dict[str, str]:
    """The environment for kernels and nbgrader: this Python's scripts first on PATH, hub lookups offline."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silences a debugger warning on stderr
    return env


def execute(path: Path, timeout: int = 900, allow_errors: bool = False) -> nbformat.NotebookNode:
    """Execute the notebook at ``path`` in a fresh python3 kernel, in its own folder; return it with outputs."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=kernel_env())
    return nb


def cell_seconds(cell: nbformat.NotebookNode) -> float | None:
    """Wall seconds an executed cell took, from nbclient's timing metadata."""
    from datetime import datetime

    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
    return (parse(end) - parse(start)).total_seconds()


def errors(nb: nbformat.NotebookNode) -> list[tuple[int, str, str]]:
    """(cell index, error name, error value) for every error output of an executed notebook."""
    return [
        (i, out.get("ename", ""), out.get("evalue", ""))
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
