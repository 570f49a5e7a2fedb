"""Tamper detection for autograding: a learner's cells share the kernel that runs the hidden tests.

Three layers, each nbgrader preprocessor work done outside the kernel except the probes:

1. **What the learner wrote** (:func:`static_findings`): their code lines (those not in the
   source notebook) are parsed, and hooks into IPython, tracing, builtins or imported modules
   are reported with the line that does it.
2. **Probes** (:mod:`helpers.teach.kernel_probe`): a cell injected before any learner code
   records the kernel's state; a probe injected before every graded test cell, and one at the
   end, reports what changed since (transformers, shell methods, exception handlers, tracing
   hooks, builtins, the functions the hidden tests use).
3. **Canaries**: copies of real test cells, injected after the last cell, that must fail. One
   that passes shows that failures are being suppressed, however it was done.

Evidence makes the submission "kernel tampered with: needs review": the graded tests that ran
after it score 0, and the feedback lists the evidence. The injected cells are removed again
before grades are saved. A determined attacker who studies these checks can still evade them
(the kernel is theirs); the sandbox, not these checks, is what protects the grading machine.
"""
from __future__ import annotations

import ast
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbgrader import utils
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

PROBE_SOURCE = (Path(__file__).with_name("kernel_probe.py")).read_text(encoding="utf-8")
OK, TAMPERED = "course-integrity-ok", "course-integrity-tampered"
OUTPUT_LIMIT_MARK = "[course grader: output limit reached"
RESULT_KEY = "course_grading"  # the verdict, in the graded notebook's metadata
# Names that only serve to reach into the kernel, the interpreter or its hooks.
STRONG_NAMES = {
    "get_ipython": "reaches into the IPython shell that runs the tests",
    "__builtins__": "changes the builtins", "__builtin__": "changes the builtins",
    "settrace": "sets a tracing hook", "setprofile": "sets a profiling hook", "_getframe": "reaches into call frames",
    "set_custom_exc": "installs a custom exception handler", "ast_transformers": "changes IPython's AST transformers",
    "input_transformers_cleanup": "changes IPython's input transformers",
    "input_transformers_post": "changes IPython's input transformers",
    "input_transformer_manager": "changes IPython's input transformers",
    "run_cell": "replaces how cells run", "run_cell_async": "replaces how cells run", "run_ast_nodes": "replaces how cells run",
    "run_code": "replaces how cells run", "showtraceback": "replaces how errors are shown",
    "_showtraceback": "replaces how errors are shown", "excepthook": "replaces the exception hook",
    "displayhook": "replaces the display hook", "meta_path": "changes how modules are imported",
    "path_hooks": "changes how modules are imported", "f_lineno": "moves execution inside a frame",
    "f_trace": "sets a frame tracing hook", "f_back": "reaches into call frames", "get_referrers": "reaches into live objects",
    "get_objects": "reaches into live objects", "currentframe": "reaches into call frames",
}
STRONG_MODULES = {"builtins", "ctypes", "gc", "IPython", "ipykernel", "traitlets", "zmq", "jupyter_client", "comm"}
WEAK_CALLS = {"exec", "eval", "compile", "__import__", "setattr", "delattr", "globals", "breakpoint"}
ALLOWED_MAGICS = {"time", "timeit", "matplotlib", "pinfo", "pinfo2", "who", "whos", "pwd", "ls", "pdoc", "psearch",
                  "prun", "memit", "history", "precision", "capture"}


@dataclass(frozen=True)
class Finding:
    """One thing the learner's code does to the kernel: where, the line, and why it matters."""

    cell: int  # index in the notebook being graded
    line: int
    code: str
    why: str
    strong: bool = True

    def __str__(self) -> str:
        return f"cell {self.cell + 1}, line {self.line}: `{self.code.strip()[:120]}` {self.why}"


def _lines(nb: nbformat.NotebookNode) -> set[str]:
    return {line.strip() for cell in nb.cells for line in cell.source.splitlines() if line.strip()}


def _magic_lines(source: str) -> tuple[str, list[tuple[int, str]]]:
    """The source with IPython magics and shell escapes blanked out (same line numbers), and the magics found."""
    kept, magics = [], []
    for number, line in enumerate(source.split("\n"), start=1):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            name = re.match(r"%{1,2}([A-Za-z_]\w*)", stripped)
            if name:
                magics.append((number, name.group(1)))
            kept.append(line[: len(line) - len(stripped)] + "pass")
        else:
            kept.append(line)
    return "\n".join(kept), magics


def _imported_names(nb: nbformat.NotebookNode) -> set[str]:
    """Every name an import binds anywhere in the notebook: modules, and what was imported from them."""
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_magic_lines(cell.source)[0])
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names |= {a.asname or a.name for a in node.names}
    return names


def _base_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _scan(tree: ast.AST, imported: set[str]) -> list[tuple[int, str, bool]]:
    """(line, why, strong) for each tampering construct in a parsed cell."""
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name) and node.id in STRONG_NAMES:
            found.append((line, STRONG_NAMES[node.id], True))
        elif isinstance(node, ast.Attribute) and node.attr in STRONG_NAMES:
            found.append((line, STRONG_NAMES[node.attr], True))
        elif isinstance(node, ast.Attribute) and node.attr == "modules" and _base_name(node) == "sys" \
                and isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del)):
            found.append((line, "replaces sys.modules", True))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in STRONG_MODULES:
                    found.append((line, f"imports {module}, which reaches into the interpreter or the kernel", True))
                elif module.split(".")[0] == "importlib":
                    found.append((line, "imports modules dynamically (importlib)", False))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Attribute) and _base_name(part) in imported and \
                            isinstance(part.ctx, (ast.Store, ast.Del)):
                        found.append((line, f"patches {ast.unparse(part)}, which the tests may rely on", True))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in WEAK_CALLS:
            strong = node.func.id in ("setattr", "delattr") and node.args and _base_name(node.args[0]) in imported
            found.append((line, f"calls {node.func.id}()" + (", patching an imported module" if strong else
                                                                ", which can run code the checks cannot see"), strong))
    return found


def learner_code_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of the code cells a learner could have written or edited (not locked by nbgrader)."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not utils.is_locked(c)]


def static_findings(nb: nbformat.NotebookNode, source: nbformat.NotebookNode | None) -> list[Finding]:
    """What the learner's own lines (those not in the source notebook) do to the kernel."""
    course_lines = _lines(source) if source is not None else set()
    imported = _imported_names(nb) | (_imported_names(source) if source is not None else set())
    findings = []
    for i in learner_code_cells(nb):
        code_lines = nb.cells[i].source.split("\n")
        text, magics = _magic_lines(nb.cells[i].source)
        for number, name in magics:
            if name not in ALLOWED_MAGICS and code_lines[number - 1].strip() not in course_lines:
                findings.append(Finding(i, number, code_lines[number - 1], f"runs the IPython magic %{name}"))
        try:
            tree = ast.parse(TransformerManager().transform_cell(text))
        except SyntaxError:
            continue
        for number, why, strong in sorted(set(_scan(tree, imported))):
            code = code_lines[number - 1] if 0 < number <= len(code_lines) else ""
            if code.strip() and code.strip() not in course_lines:
                findings.append(Finding(i, number, code, why, strong))
    return findings


def source_notebook(config, resources: dict) -> nbformat.NotebookNode | None:
    """The teacher's source notebook of the notebook being graded, found through nbgrader's course directory."""
    info = resources.get("nbgrader", {})
    if not info.get("assignment") or not info.get("notebook"):
        return None
    coursedir = CourseDirectory(config=config)
    path = Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"])) / f"{info['notebook']}.ipynb"
    return nbformat.read(path, as_version=4) if path.exists() else None


def _parse(cell) -> ast.AST | None:
    try:
        return ast.parse(TransformerManager().transform_cell(_magic_lines(cell.source)[0]))
    except SyntaxError:
        return None


def _aliases(trees: list[ast.AST]) -> dict[str, str]:
    """What each imported name stands for, as a dotted name: {"np": "numpy", "_step": "helpers.sampling.ddim_step"}."""
    aliases = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    return aliases


def _chain(node: ast.Attribute) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else None


def test_references(source: nbformat.NotebookNode | None) -> list[str]:
    """The dotted names the graded test cells use (modules, functions, classes): what a patch could fake.

    For ``import torch as _torch`` and ``_torch.testing.assert_close(...)`` in a test cell this gives
    "torch", "torch.testing" and "torch.testing.assert_close". The snapshot records each of them.
    """
    if source is None:
        return []
    cells = [c for c in source.cells if c.cell_type == "code"]
    trees = [t for t in map(_parse, cells) if t is not None]
    aliases = _aliases(trees)
    names = {"builtins"}
    for cell in cells:
        if not utils.is_grade(cell) or (tree := _parse(cell)) is None:
            continue
        for node in ast.walk(tree):
            chain = _chain(node) if isinstance(node, ast.Attribute) else [node.id] if isinstance(node, ast.Name) else None
            if not chain or chain[0] not in aliases:
                continue
            dotted = aliases[chain[0]].split(".") + chain[1:]
            names |= {".".join(dotted[:k]) for k in range(1, len(dotted) + 1)}
    if "torch" in names:
        names.add("torch.Tensor")
    return sorted(n for n in names if not n.startswith(("helpers.blanks", "matplotlib")))


def _cell(source: str, kind: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["course_injected"] = kind
    return cell


def _canary_source(test_source: str) -> str:
    """A copy of a real test cell, ending in an assertion that can never hold, written like the hidden tests."""
    a, b = secrets.token_hex(3), secrets.token_hex(3)
    x, y = secrets.randbelow(10**6) / 10**3, secrets.randbelow(10**6) / 10**3 + 1000
    ending = secrets.choice([
        f"assert str.__eq__({a!r}, {b!r}), \"the answer does not match the expected one\"",
        f"assert abs(float.__sub__({x!r}, {y!r})) < 1e-12, \"the value is not the expected one\"",
        f"assert {secrets.randbelow(1000)} == {secrets.randbelow(1000) + 1000}, \"the count is not the expected one\"",
    ])
    return f"{test_source.rstrip()}\n{ending}"


@dataclass
class Plan:
    """The cells injected into one notebook, and what the learner's code was found to do."""

    nonce: str
    findings: list[Finding] = field(default_factory=list)


class InjectIntegrityChecks(NbGraderPreprocessor):
    """Before execution: scan the learner's code, and inject the snapshot, the probes and the canaries."""

    canaries = 2

    def preprocess(self, nb, resources):
        source = source_notebook(self.config, resources)
        plan = Plan(secrets.token_hex(8), static_findings(nb, source))
        install = (f"{PROBE_SOURCE}\n_course_probe_install({plan.nonce!r}, {test_references(source)!r})\n"
                   "del _course_probe_install\n")
        probe = f"__import__('sys').modules['_course_integrity_{plan.nonce}'].check({{}})"
        cells, count, moved = [_cell(install, "snapshot")], 0, {}
        tests = [c for c in nb.cells if c.cell_type == "code" and utils.is_grade(c)]
        for old, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and utils.is_grade(cell):
                count += 1
                cells.append(_cell(probe.format(count), "probe"))
            moved[old] = len(cells)
            cells.append(cell)
        plan.findings = [Finding(moved[f.cell], f.line, f.code, f.why, f.strong) for f in plan.findings]
        for test in sorted(tests, key=lambda c: len(c.source))[: self.canaries]:
            cells.append(_cell(_canary_source(test.source), "canary"))
        cells.append(_cell(probe.format(count + 1), "probe"))
        nb.cells = cells
        resources["course_integrity"] = plan
        return nb, resources


@dataclass
class Verdict:
    """What grading found besides the scores: tampering evidence, memory and output limits, notes."""

    tampered: bool = False
    evidence: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    affected: list[str] = field(default_factory=list)
    out_of_memory: str | None = None
    output_limit: str | None = None

    def status(self) -> str:
        if self.tampered:
            return "kernel tampered with: needs review"
        if self.out_of_memory:
            return f"ran out of memory in {self.out_of_memory}"
        if self.output_limit:
            return f"output limit exceeded in {self.output_limit}"
        return "graded"


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def _has_error(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def _where(nb, cell, index: int) -> str:
    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell {index + 1}" + (f" ({gid})" if gid else "")


MEMORY_ERRORS = ("can't allocate memory", "Unable to allocate", "out of memory", "not enough memory")


class ReadIntegrityChecks(NbGraderPreprocessor):
    """After execution: read the probes and canaries, zero the tests run after tampering, remove injected cells."""

    def preprocess(self, nb, resources):
        plan: Plan | None = resources.get("course_integrity")
        verdict = Verdict()
        if plan is not None:
            self._judge(nb, plan, verdict)
        nb.cells = [c for c in nb.cells if "course_injected" not in c.metadata]
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if verdict.out_of_memory is None and any(o.get("ename") == "MemoryError" or any(
                    m in o.get("evalue", "") for m in MEMORY_ERRORS) for o in errors):
                verdict.out_of_memory = _where(nb, cell, i)
            if verdict.output_limit is None and OUTPUT_LIMIT_MARK in _text(cell):
                verdict.output_limit = _where(nb, cell, i)
        if verdict.tampered:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(self._report(verdict)))
        nb.metadata[RESULT_KEY] = {"status": verdict.status(), "evidence": verdict.evidence, "notes": verdict.notes,
                                   "affected": verdict.affected}
        return nb, resources

    def _judge(self, nb, plan: Plan, verdict: Verdict) -> None:
        strong = [f for f in plan.findings if f.strong]
        verdict.notes += [f"review suggested: {f}" for f in plan.findings if not f.strong]
        injected = [(i, c) for i, c in enumerate(nb.cells) if "course_injected" in c.metadata]
        snapshot = injected[0][1] if injected else None
        if snapshot is None or f"{OK} {plan.nonce} 0" not in _text(snapshot):
            verdict.notes.append("the integrity probes could not start; only the learner's code was checked")
            checkpoints = []
        else:
            checkpoints = injected[1:]
        first_bad = None  # index in nb.cells from which the kernel is no longer trusted
        clean_before = 0
        for i, cell in checkpoints:
            kind, text = cell.metadata["course_injected"], _text(cell)
            if kind == "probe" and f"{OK} {plan.nonce}" in text and not _has_error(cell):
                clean_before = i
                continue
            if kind == "canary" and _has_error(cell):
                continue
            if kind == "probe" and f"{TAMPERED} {plan.nonce}" in text:
                lines = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- ")]
                verdict.evidence += [f"before graded test {self._next_test(nb, i)}: {line}" for line in lines]
            elif kind == "probe":
                verdict.evidence.append(f"the integrity check before graded test {self._next_test(nb, i)} did not "
                                        "report: its output was suppressed or rewritten")
            else:
                verdict.evidence.append("a copy of a test cell that must fail passed: test failures are being suppressed")
            if first_bad is None:
                first_bad = clean_before if kind == "probe" else self._first_learner_cell(nb)
        for finding in strong:
            verdict.evidence.append(str(self._renumber(nb, finding)))
            first_bad = finding.cell if first_bad is None else min(first_bad, finding.cell)
        if first_bad is None:
            return
        verdict.tampered = True
        for i, cell in enumerate(nb.cells):
            if i > first_bad and cell.cell_type == "code" and utils.is_grade(cell) and "course_injected" not in cell.metadata:
                verdict.affected.append(cell.metadata["nbgrader"]["grade_id"])
                cell.outputs.append(nbformat.v4.new_output(
                    "error", ename="KernelTampered",
                    evalue="this test ran after the notebook changed the kernel that runs the tests; it scores 0 "
                           "until a teacher reviews it",
                    traceback=["KernelTampered: this test ran after the notebook changed the kernel that runs the "
                               "tests; it scores 0 until a teacher reviews it (see the note at the top)"]))

    @staticmethod
    def _next_test(nb, index: int) -> str:
        for cell in nb.cells[index + 1:]:
            if cell.cell_type == "code" and utils.is_grade(cell) and "course_injected" not in cell.metadata:
                return cell.metadata["nbgrader"]["grade_id"]
        return "(end of notebook)"

    @staticmethod
    def _first_learner_cell(nb) -> int:
        cells = [i for i in learner_code_cells(nb) if "course_injected" not in nb.cells[i].metadata]
        return cells[0] if cells else 0

    @staticmethod
    def _renumber(nb, finding: Finding) -> Finding:
        """The finding with its cell counted as the learner sees it (without the injected cells)."""
        shown = sum(1 for c in nb.cells[: finding.cell] if "course_injected" not in c.metadata)
        return Finding(shown, finding.line, finding.code, finding.why, finding.strong)

    @staticmethod
    def _report(verdict: Verdict) -> str:
        lines = "\n".join(f"- {e}" for e in verdict.evidence[:30])
        tests = ", ".join(verdict.affected) or "none"
        return ("## ⚠️ Needs review: this notebook changed the kernel that runs the tests\n\n"
                "The grader found the following. The graded tests that ran afterwards score 0 until a teacher "
                f"reviews the notebook: {tests}.\n\n{lines}\n")


def verdict_of(nb: dict) -> dict:
    """The verdict ReadIntegrityChecks stored in a graded notebook (empty when it did not run)."""
    return nb.get("metadata", {}).get(RESULT_KEY, {})

