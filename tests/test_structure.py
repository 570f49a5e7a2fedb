"""The helpers package's structure: no import circles, lesson order, teacher tools apart, one home per formula, sizes.

Concept modules (the lessons' own code) may import each other and third-party libraries, never
helpers.teach; helpers.teach may import anything. A concept module's lesson is the earliest
"Derived in notebooks/NN_..." line in its docstrings: it imports nothing of a later lesson, and a
package holds no module of a later lesson than its own. Every public function and class of a
concept module names the lesson section that derives it, and that section exists.
``python -m benchmarks.structure`` prints the same figures (helpers.teach.structure computes them).
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
from helpers.teach import structure
from helpers.teach.notebooks import committed_notebooks, lessons

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
MAX_FILE_LINES, MAX_FUNCTION_LINES = 300, 40  # a function from its ``def`` line to its last, signature included

MODULES = structure.package_modules()
CONCEPTS = {n: p for n, p in MODULES.items() if not n.startswith("helpers.teach") and n not in LEARNER_TOOLS}


def imports(path: Path) -> list[tuple[str, bool]]:
    return structure.imports(path, MODULES)


def test_no_import_circles():
    circles = structure.cycles(structure.graph(MODULES))
    assert not circles, f"import circles: {circles}"


def test_every_concept_module_names_its_lesson():
    found = structure.concept_lessons(MODULES)
    assert not set(CONCEPTS) - set(found), f"no 'Derived in notebooks/NN' line: {set(CONCEPTS) - set(found)}"
    assert found["helpers.schedules"] == 2 and found["helpers.flow"] == 7  # the lines are read


def test_no_module_imports_a_later_lesson():
    breaks = structure.lesson_breaks(MODULES)
    assert not breaks, "a module imports a later lesson's module:\n" + "\n".join(map(str, breaks))


def test_no_package_holds_a_later_lesson():
    breaks = structure.package_breaks(MODULES)
    assert not breaks, "a package holds a later lesson's module:\n" + "\n".join(map(str, breaks))


def test_the_lesson_order_check_sees_imports_at_the_top_inside_functions_and_re_exports(tmp_path):
    files = {
        "helpers.early": '"""Derived in notebooks/03_x.ipynb."""\ndef f():\n    from helpers.late import g\n',
        "helpers.also_early": '"""Derived in notebooks/04_x.ipynb."""\nfrom helpers.late import g  # noqa: F401\n',
        "helpers.late": 'def g():\n    """Derived in notebooks/02_x.ipynb §1 and notebooks/07_y.ipynb §2."""\n',
    }
    modules = {name: tmp_path / f"{name}.py" for name in files}
    for name, text in files.items():
        modules[name].write_text(text)
    assert [str(b) for b in structure.lesson_breaks(modules)] == []  # late's earliest line says 02
    modules["helpers.late"].write_text('"""Derived in notebooks/07_y.ipynb."""\ndef g():\n    pass\n')
    assert [str(b) for b in structure.lesson_breaks(modules)] == [
        "helpers.also_early (lesson 04) imports at the top helpers.late (lesson 07)",
        "helpers.early (lesson 03) imports inside a function helpers.late (lesson 07)",
    ]
    (tmp_path / "pkg").mkdir()
    package = {"helpers.pkg": tmp_path / "pkg" / "__init__.py", "helpers.pkg.sub": tmp_path / "pkg" / "sub.py"}
    package["helpers.pkg"].write_text('"""Derived in notebooks/04_x.ipynb."""\n')
    package["helpers.pkg.sub"].write_text('"""Derived in notebooks/07_y.ipynb."""\n')
    assert [str(b) for b in structure.package_breaks(package)] == [
        "helpers.pkg (lesson 04) holds helpers.pkg.sub (lesson 07)"
    ]


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


def test_files_and_functions_stay_small():
    long_files = [f"{f} ({n} lines)" for f, n in structure.file_lengths().items() if n > MAX_FILE_LINES]
    long_functions = [f"{f} ({n} lines)" for f, n in structure.function_lengths().items() if n > MAX_FUNCTION_LINES]
    assert not long_files, f"files over {MAX_FILE_LINES} lines: {long_files}"
    assert not long_functions, f"functions over {MAX_FUNCTION_LINES} lines, def to end: {long_functions}"


@pytest.mark.parametrize("formula", structure.FORMULAS, ids=lambda f: f.name)
def test_each_formula_has_one_home(formula):
    places = structure.formula_homes(MODULES)[formula.name]
    assert places == [formula.home], f"{formula.name} is written in {places}; only {formula.home} should write it"


def test_tests_import_only_the_package_or_tests():
    for path in sorted((ROOT / "tests").glob("*.py")):
        for module, _ in imports(path):
            assert not module.startswith(("benchmarks", "scripts")), f"{path.name} imports {module}"


def test_ruff_passes():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"ruff check found problems (run `ruff check .`):\n{result.stdout[-4000:]}"
