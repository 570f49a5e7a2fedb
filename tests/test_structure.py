"""The structure of the helpers package: no import circles, teacher tools apart, one home per formula, small pieces.

Concept modules (the lessons' own code) may import each other and third-party libraries, never
helpers.teach; helpers.teach may import anything. Every public function and class of a concept
module names the lesson section that derives it, and that section exists.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.paths import ROOT
from helpers.teach.notebooks import committed_notebooks, lessons

PACKAGE = ROOT / "helpers"
TEACHER_LIBRARIES = {"nbgrader", "nbclient", "jupyter_client", "nbconvert", "nbformat", "traitlets", "playwright"}
# Learner tools: used by notebooks, not derived in a lesson (they carry no "Derived in" line).
LEARNER_TOOLS = {
    "helpers.blanks",
    "helpers.quiz",
    "helpers.device",
    "helpers.paths",
    "helpers.__main__",
    "helpers",
    "helpers.sd",
}
MAX_FILE_LINES, MAX_FUNCTION_LINES = 300, 40  # a function's body, docstring included


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
CONCEPTS = {n: p for n, p in MODULES.items() if not n.startswith("helpers.teach") and n not in LEARNER_TOOLS}


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at top level?) for every import in a file, with relative imports resolved."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
            found += [
                (f"{node.module}.{a.name}", id(node) in top) for a in node.names if f"{node.module}.{a.name}" in MODULES
            ]
    return found


def graph() -> dict[str, set[str]]:
    return {name: {m for m, _ in imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def test_no_import_circles():
    edges, order, state = graph(), [], {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", f"import circle: {' -> '.join(trail + [node])}"
        state[node] = "open"
        for child in sorted(edges[node]):
            visit(child, trail + [node])
        state[node] = "done"
        order.append(node)

    for node in sorted(edges):
        visit(node, [])
    assert len(order) == len(MODULES)


def test_helpers_modules_are_imported_at_the_top_not_lazily_to_dodge_a_circle():
    lazy = [
        (name, m) for name, path in MODULES.items() for m, top in imports(path) if m.startswith("helpers") and not top
    ]
    allowed = {
        ("helpers.__main__", "helpers.teach.doctor"),
        ("helpers.__main__", "helpers.teach.colab"),
        ("helpers.__main__", "helpers.teach.notebooks"),
        ("helpers.__main__", "helpers.teach.site"),
        ("helpers.__main__", "helpers.teach.lab"),
        ("helpers.teach.classroom", "helpers.sd"),
    }  # each command loads when run; sd only to warm a cache
    assert not set(lazy) - allowed, f"lazy imports of helpers modules: {sorted(set(lazy) - allowed)}"


def test_concept_modules_never_import_teacher_tools():
    learner_tools = {n: MODULES[n] for n in ("helpers.blanks", "helpers.quiz", "helpers.device")}
    for name, path in {**CONCEPTS, **learner_tools}.items():
        bad = [m for m, _ in imports(path) if m.startswith("helpers.teach") or m.split(".")[0] in TEACHER_LIBRARIES]
        assert not bad, f"{name} imports teacher tools {bad}; they belong in helpers.teach"


def test_lessons_and_exercises_never_import_teacher_tools():
    for path in committed_notebooks():
        text = "".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"])
        assert "helpers.teach" not in text and "import nbgrader" not in text, path


def _lesson_sections() -> dict[str, set[str]]:
    sections = {}
    for path in lessons():
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        sections[path.stem] = set(re.findall(r"^## (\d+) ·", text, re.M))
    return sections


@pytest.mark.parametrize("name", sorted(CONCEPTS))
def test_every_public_function_says_which_lesson_section_derives_it(name):
    sections, missing = _lesson_sections(), []
    tree = ast.parse(CONCEPTS[name].read_text(encoding="utf-8"))
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) or node.name.startswith("_"):
            continue
        doc = ast.get_docstring(node) or ""
        found = re.search(r"Derived in notebooks/(\d\d_\w+)\.ipynb §(\d+)", doc)
        if not found:
            missing.append(node.name)
            continue
        lesson, section = found.groups()
        assert lesson in sections, f"{name}.{node.name} names a lesson that does not exist: {lesson}"
        assert section in sections[lesson], f"{name}.{node.name}: {lesson} has no section {section}"
    assert not missing, f"{name}: no 'Derived in notebooks/NN_x.ipynb §K' line in {missing}"


def _python_files() -> list[Path]:
    return sorted(p for d in ("helpers", "tests", "benchmarks", "scripts") for p in (ROOT / d).rglob("*.py"))


def test_files_and_functions_stay_small():
    long_files, long_functions = [], []
    for path in _python_files():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_FILE_LINES:
            long_files.append(f"{path.relative_to(ROOT)} ({len(text.splitlines())} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (
                    node.end_lineno - node.body[0].lineno + 1
                )  # the body: a signature laid out one per line is not logic
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert not long_files, f"files over {MAX_FILE_LINES} lines: {long_files}"
    assert not long_functions, f"functions over {MAX_FUNCTION_LINES} lines: {long_functions}"


def test_tests_import_only_the_package_or_tests():
    for path in sorted((ROOT / "tests").glob("*.py")):
        for module, _ in imports(path):
            assert not module.startswith(("benchmarks", "scripts")), f"{path.name} imports {module}"


def test_ruff_passes():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"ruff check found problems (run `ruff check .`):\n{result.stdout[-4000:]}"
