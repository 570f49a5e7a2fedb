"""exercises/ is exactly what nbgrader makes from solutions/, and an untouched exercise fails loudly."""

from __future__ import annotations

import ast
import json
import re

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from helpers.teach.notebooks import exercise, grade_id, modules, solution
from helpers.teach.preprocessors import fill_stub, split_marked_line

MODULES = modules()


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("module", MODULES)
def test_exercise_is_what_generate_assignment_makes_now(module, graded):
    generated = graded.generated(module) / "exercises" / module / f"{module}.ipynb"
    assert exercise(module).read_bytes() == generated.read_bytes(), (
        f"exercises/{module} is out of date with solutions/{module}; run "
        f"`nbgrader generate_assignment {module} --force` from the repository root and commit the result"
    )


@pytest.mark.parametrize("module", MODULES)
def test_every_graded_test_cell_has_a_visible_test_and_hidden_tests(module):
    tests = [
        c
        for c in _cells(solution(module))
        if c.get("metadata", {}).get("nbgrader", {}).get("grade") and c["cell_type"] == "code"
    ]
    assert tests, f"{module} has no graded test cells"
    for cell in tests:
        source = "".join(cell["source"])
        visible, _, hidden = source.partition("### BEGIN HIDDEN TESTS")
        assert "assert" in visible, f"{module}/{grade_id(cell)}: no visible test before the hidden ones"
        assert "assert" in hidden and "### END HIDDEN TESTS" in hidden, f"{module}/{grade_id(cell)}: no hidden tests"
        assert cell["metadata"]["nbgrader"].get("locked"), f"{module}/{grade_id(cell)}: test cells must be locked"
        last = source.rstrip().splitlines()[-1]
        assert last == 'print("✓ passed")', (
            f'{module}/{grade_id(cell)}: end the cell with print("✓ passed"), after the hidden tests'
        )


@pytest.mark.parametrize("module", MODULES)
def test_each_stub_line_equals_its_solution_line_apart_from_the_blanks(module):
    student = {grade_id(c): c for c in _cells(exercise(module)) if grade_id(c)}
    checked = 0
    for cell in _cells(solution(module)):
        marked = [split_marked_line(line) for line in "".join(cell["source"]).split("\n")]
        marked = [m for m in marked if m]
        if not marked:
            continue
        stubs = [line for line in "".join(student[grade_id(cell)]["source"]).split("\n") if "___" in line]
        assert len(stubs) == len(marked), (
            f"{module}/{grade_id(cell)}: {len(marked)} marked lines, {len(stubs)} stub lines"
        )
        for (code, answers), stub in zip(marked, stubs):
            assert fill_stub(stub, answers) == code, f"{module}/{grade_id(cell)}: stub {stub!r} does not match {code!r}"
            checked += 1
    assert checked, f"{module} has no fill-in-the-blank lines"


def _comment_above(lines: list[str], k: int) -> str:
    """The comment lines right above line k, joined, without whitespace."""
    above = []
    for line in reversed(lines[:k]):
        if not line.strip().startswith("#"):
            break
        above.append(line)
    return re.sub(r"\s+", "", " ".join(above))


@pytest.mark.parametrize("module", MODULES)
def test_no_blank_is_answered_by_the_comment_above_it(module):
    dictated = []
    for cell in _cells(solution(module)):
        lines = "".join(cell["source"]).split("\n")
        for k, line in enumerate(lines):
            marked = split_marked_line(line)
            answers = [re.sub(r"\s+", "", a) for a in marked[1]] if marked else []
            comment = _comment_above(lines, k)
            dictated += [(grade_id(cell), a) for a in answers if len(a) >= 3 and a in comment]
    assert not dictated, f"{module}: the comment above the blank gives its answer: {dictated}"


def _reads_a_blank(source: str) -> bool:
    """True when the cell's code uses the name ___ (importing it does not count)."""
    tree = ast.parse(TransformerManager().transform_cell(source))
    return any(isinstance(n, ast.Name) and n.id == "___" for n in ast.walk(tree))


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("module", MODULES)
def test_untouched_exercise_stops_at_every_blank_and_passes_no_test(module, graded):
    nb = graded[(module, "blank")].notebook()  # autograde's run of the untouched exercise
    graded_passes, silent_blanks = [], []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        names = [o.get("ename") for o in cell.outputs if o.get("output_type") == "error"]
        nbgrader = cell.metadata.get("nbgrader", {})
        if _reads_a_blank(cell.source) and names != ["BlankError"]:
            silent_blanks.append((nbgrader.get("grade_id"), names))
        if nbgrader.get("grade") and not names:
            graded_passes.append(nbgrader.get("grade_id"))
    assert not silent_blanks, f"cells with blanks that did not raise BlankError: {silent_blanks}"
    assert not graded_passes, f"graded tests that pass on the untouched exercise: {graded_passes}"
    blank_errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("ename") == "BlankError"]
    assert blank_errors and all("Replace each ___ with your code" in o["evalue"] for o in blank_errors)


# --- integrity: exercises/ never contains solution code or hidden tests ---------------------


def _split_lines(nb: dict) -> tuple[set[str], set[str]]:
    """(secret, open) lines of a solution notebook: solution regions, filled blanks and hidden tests, vs the rest."""
    secret, open_, inside = set(), set(), False
    for cell in nb["cells"]:
        for line in "".join(cell["source"]).split("\n"):
            stripped = line.strip()
            if re.search(r"### (BEGIN|END) (SOLUTION|HIDDEN TESTS)", stripped):
                inside = "BEGIN" in stripped
                continue
            marked = split_marked_line(line)
            if marked:
                secret.add(marked[0].strip())
            elif stripped:
                (secret if inside else open_).add(stripped)
    return secret, open_


@pytest.mark.parametrize("module", MODULES)
def test_exercises_hold_no_solution_or_hidden_test_line(module):
    secret, open_ = _split_lines(json.loads(solution(module).read_text(encoding="utf-8")))
    public = set()
    for cell in json.loads(exercise(module).read_text(encoding="utf-8"))["cells"]:
        public |= {line.strip() for line in "".join(cell["source"]).split("\n")}
    leaked = (secret - open_) & public  # a line the solution also shows openly (an import, say) is no secret
    assert not leaked, f"exercises/{module} contains solution or hidden-test lines: {sorted(leaked)[:5]}"
    text = exercise(module).read_text()
    assert "BEGIN HIDDEN TESTS" not in text and "# BLANK:" not in text and "BEGIN SOLUTION" not in text
