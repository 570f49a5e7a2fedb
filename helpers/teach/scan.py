"""What a submission's own code and the graded tests name, read from outside the kernel.

The learner's lines are those that are not in the teacher's source notebook. Each is parsed (IPython
magics apart) and hooks into IPython, tracing, builtins, the interpreter or imported modules are
reported with the line that does it: a note for the teacher, never a score (helpers.teach.integrity
judges by effects). ``test_references`` lists what the graded tests use, which the kernel-side probe
watches and restores; ``builtins_called`` lists the builtins a test cell looks up by name, which the
probe keeps the learner's same-named globals away from.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbgrader import utils
from nbgrader.coursedir import CourseDirectory

# Names that only serve to reach into the kernel, the interpreter or its hooks.
STRONG_NAMES = {
    "get_ipython": "reaches into the IPython shell that runs the tests",
    "__builtins__": "changes the builtins",
    "__builtin__": "changes the builtins",
    "settrace": "sets a tracing hook",
    "setprofile": "sets a profiling hook",
    "_getframe": "reaches into call frames",
    "set_custom_exc": "installs a custom exception handler",
    "ast_transformers": "changes IPython's AST transformers",
    "input_transformers_cleanup": "changes IPython's input transformers",
    "input_transformers_post": "changes IPython's input transformers",
    "input_transformer_manager": "changes IPython's input transformers",
    "run_cell": "replaces how cells run",
    "run_cell_async": "replaces how cells run",
    "run_ast_nodes": "replaces how cells run",
    "run_code": "replaces how cells run",
    "showtraceback": "replaces how errors are shown",
    "_showtraceback": "replaces how errors are shown",
    "excepthook": "replaces the exception hook",
    "displayhook": "replaces the display hook",
    "meta_path": "changes how modules are imported",
    "path_hooks": "changes how modules are imported",
    "f_lineno": "moves execution inside a frame",
    "f_trace": "sets a frame tracing hook",
    "f_back": "reaches into call frames",
    "get_referrers": "reaches into live objects",
    "get_objects": "reaches into live objects",
    "currentframe": "reaches into call frames",
}
STRONG_MODULES = {"builtins", "ctypes", "gc", "IPython", "ipykernel", "traitlets", "zmq", "jupyter_client", "comm"}
DISPLAY_MODULES = {"IPython.display", "IPython.core.display", "IPython.lib.display"}  # display(), Markdown, HTML
WEAK_CALLS = {"exec", "eval", "compile", "__import__", "setattr", "delattr", "globals", "breakpoint"}


@dataclass(frozen=True)
class Finding:
    """One thing the learner's code does to the kernel: where, the line, and why it matters."""

    cell: int  # index in the notebook being graded
    line: int
    code: str
    why: str

    def __str__(self) -> str:
        return f"cell {self.cell + 1}, line {self.line}: `{self.code.strip()[:120]}` {self.why}"


def _lines(nb: nbformat.NotebookNode) -> set[str]:
    return {line.strip() for cell in nb.cells for line in cell.source.splitlines() if line.strip()}


def _without_magics(source: str) -> str:
    """The source with IPython magics and shell escapes blanked out, keeping the line numbers."""
    lines = source.split("\n")
    return "\n".join(
        line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip()[:1] in ("%", "!") else line for line in lines
    )


def _imported_names(nb: nbformat.NotebookNode) -> set[str]:
    """Every name an import binds anywhere in the notebook: modules, and what was imported from them."""
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_without_magics(cell.source))
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


def _names(node: ast.AST) -> list[str]:
    """What a name, attribute or import node could do to the kernel."""
    if isinstance(node, ast.Name) and node.id in STRONG_NAMES:
        return [STRONG_NAMES[node.id]]
    if isinstance(node, ast.Attribute) and node.attr in STRONG_NAMES:
        return [STRONG_NAMES[node.attr]]
    if (
        isinstance(node, ast.Attribute)
        and node.attr == "modules"
        and _base_name(node) == "sys"
        and isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del))
    ):
        return ["replaces sys.modules"]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        modules = [m for m in modules if m not in DISPLAY_MODULES]
        return [
            f"imports {m}, which reaches into the interpreter or the kernel"
            if m.split(".")[0] in STRONG_MODULES
            else "imports modules dynamically (importlib)"
            for m in modules
            if m.split(".")[0] in STRONG_MODULES or m.split(".")[0] == "importlib"
        ]
    return []


def _patches(node: ast.AST, imported: set[str]) -> list[str]:
    """Assignments to attributes of imported modules, and dynamic calls."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        return [
            f"patches {ast.unparse(part)}, which the tests may rely on"
            for target in targets
            for part in ast.walk(target)
            if isinstance(part, ast.Attribute)
            and _base_name(part) in imported
            and isinstance(part.ctx, (ast.Store, ast.Del))
        ]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in WEAK_CALLS:
        patch = node.func.id in ("setattr", "delattr") and bool(node.args) and _base_name(node.args[0]) in imported
        return [f"calls {node.func.id}(){', patching an imported module' if patch else ', running code unseen'}"]
    return []


def _scan(tree: ast.AST, imported: set[str]) -> list[tuple[int, str]]:
    """(line, why) for each construct in a parsed cell that could tamper with the kernel."""
    return [
        (getattr(node, "lineno", 0), why) for node in ast.walk(tree) for why in _names(node) + _patches(node, imported)
    ]


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
        text = _without_magics(nb.cells[i].source)  # magics are everyday habits: %config, %pip, %autoreload
        try:
            tree = ast.parse(TransformerManager().transform_cell(text))
        except SyntaxError:
            continue
        for number, why in sorted(set(_scan(tree, imported))):
            code = code_lines[number - 1] if 0 < number <= len(code_lines) else ""
            ipython_syntax = why == STRONG_NAMES["get_ipython"] and "get_ipython" not in code  # `len?` and the like
            if code.strip() and code.strip() not in course_lines and not ipython_syntax:
                findings.append(Finding(i, number, code, why))
    return findings


def source_notebook(config, resources: dict) -> nbformat.NotebookNode | None:
    """The teacher's source notebook of the notebook being graded, found through nbgrader's course directory."""
    info = resources.get("nbgrader", {})
    if not info.get("assignment") or not info.get("notebook"):
        return None
    coursedir = CourseDirectory(config=config)
    path = (
        Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"])) / f"{info['notebook']}.ipynb"
    )
    return nbformat.read(path, as_version=4) if path.exists() else None


def _parse(cell) -> ast.AST | None:
    try:
        return ast.parse(TransformerManager().transform_cell(_without_magics(cell.source)))
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
            chain = (
                _chain(node) if isinstance(node, ast.Attribute) else [node.id] if isinstance(node, ast.Name) else None
            )
            if not chain or chain[0] not in aliases:
                continue
            dotted = aliases[chain[0]].split(".") + chain[1:]
            names |= {".".join(dotted[:k]) for k in range(1, len(dotted) + 1)}
    if "torch" in names:
        names.add("torch.Tensor")
    return sorted(n for n in names if not n.startswith(("helpers.blanks", "matplotlib")))


def _bound(tree: ast.AST) -> set[str]:
    """Every name a parsed cell binds: assignments, loop and comprehension targets, defs, arguments, imports."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def builtins_called(source: str) -> list[str]:
    """The builtins a test cell looks up by name and does not bind itself (``sum``, ``abs``, ``type``...)."""
    tree = _parse(nbformat.v4.new_code_cell(source))
    if tree is None:
        return []
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return sorted(n for n in loads - _bound(tree) if n in vars(builtins) and not n.startswith("_"))


def course_names(source: nbformat.NotebookNode | None) -> set[str]:
    """The names the course's own non-test cells bind: the names a test grades, never hidden from it."""
    if source is None:
        return set()
    cells = [c for c in source.cells if c.cell_type == "code" and not utils.is_grade(c)]
    return set().union(*(_bound(t) for t in map(_parse, cells) if t is not None))
