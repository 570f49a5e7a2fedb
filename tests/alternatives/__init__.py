"""Correct answers written differently from the solution: each must keep full marks when graded.

One file per module, ``mNN.py``, holds ``ALTERNATIVES = {name: {grade_id: cell source}}``: a name
saying how the answers differ ("numpy instead of torch", "loops instead of vectorised code",
"numpy scalars", "another but equal formula"), and the whole new source of each graded answer cell it
rewrites. Every graded answer cell of the module is rewritten by at least two alternatives
(tests/test_grading.py checks it), and each alternative notebook is graded with the teacher's
command and must keep full marks.

Check one module quickly, without the grader (runs each alternative top to bottom and lists the cells
that raised):

    .venv/bin/python tests/alternatives/__init__.py 05_guidance
"""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from helpers.teach.notebooks import grade_id, modules, solution  # noqa: E402


def answer_cells(module: str) -> list[str]:
    """The grade ids of the module's graded answer cells (nbgrader solution cells)."""
    nb = nbformat.read(solution(module), as_version=4)
    return [grade_id(c) for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def alternatives(module: str) -> dict[str, dict[str, str]]:
    """{name: {grade_id: source}} for ``module`` (empty when the module has no file yet)."""
    try:
        return importlib.import_module(f"alternatives.m{module[:2]}").ALTERNATIVES
    except ModuleNotFoundError:
        return {}


def notebook(module: str, name: str) -> nbformat.NotebookNode:
    """The solution with the alternative's cells in place of the solution's."""
    nb = copy.deepcopy(nbformat.read(solution(module), as_version=4))
    cells = {grade_id(c): c for c in nb.cells}
    for gid, source in alternatives(module)[name].items():
        cell = cells.get(gid)
        if cell is None or not cell.metadata["nbgrader"].get("solution"):
            raise KeyError(f"{module}: {gid!r} is not a graded answer cell")
        cell.source = source.strip("\n")
    return nb


def all_cases() -> list[tuple[str, str]]:
    """(module, alternative name) for every module."""
    return [(m, name) for m in modules() for name in alternatives(m)]


def _check(module: str) -> int:
    from helpers.teach.notebooks import execute

    failures = 0
    for name in alternatives(module):
        path = Path(f"/tmp/alternative-{module}.ipynb")
        nbformat.write(notebook(module, name), path)
        ran = execute(path, allow_errors=True)
        bad = [
            f"[{i}] {grade_id(c)}: {o.get('ename')}: {o.get('evalue', '')[:300]}"
            for i, c in enumerate(ran.cells)
            for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        failures += bool(bad)
        print(f"{module} / {name}: " + ("ok" if not bad else "FAILED\n  " + "\n  ".join(bad)))
    covered = {g: sum(g in alt for alt in alternatives(module).values()) for g in answer_cells(module)}
    thin = {g: n for g, n in covered.items() if n < 2}
    print(f"{module}: cells rewritten by fewer than two alternatives: {thin or 'none'}")
    return failures + bool(thin)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(sum(_check(m) for m in sys.argv[1:]))
