"""How the helpers package is put together: its import graph, each module's lesson, sizes, and where formulas live.

tests/test_structure.py asserts on these figures and ``python -m benchmarks.structure`` prints them.
A module's lesson is the earliest "Derived in notebooks/NN_..." line in its docstrings; a module
without one (a learner's tool, a teacher's tool) has none.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers.paths import ROOT

PACKAGE = ROOT / "helpers"
CODE_FOLDERS = ("helpers", "tests", "benchmarks", "scripts")  # the Python files held to the size limits
DERIVED = re.compile(r"Derived in notebooks/(\d\d)_")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    """Every module of the helpers package: {dotted name: file}."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: dict[str, Path]) -> list[tuple[str, bool]]:
    """(module, at top level?) for every import in a file; ``from a import b`` also names a.b when it is a module."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
            found += [
                (f"{node.module}.{a.name}", id(node) in top) for a in node.names if f"{node.module}.{a.name}" in known
            ]
    return found


def graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """{module: the helpers modules it imports, at the top or inside a function}."""
    return {
        name: {m for m, _ in imports(path, modules) if m in modules and m != name} for name, path in modules.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: each group of modules that reach one another, sorted."""
    reach = {}
    for start in edges:
        seen, todo = set(), [start]
        while todo:
            for child in edges[todo.pop()] - seen:
                seen.add(child)
                todo.append(child)
        reach[start] = seen
    groups = {tuple(sorted(m for m in edges if m in reach[a] and a in reach[m])) for a in edges if a in reach[a]}
    return sorted(list(g) for g in groups)


def _docstrings(tree: ast.Module) -> list[str]:
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))]
    return [ast.get_docstring(n) or "" for n in nodes]


def lesson(path: Path) -> int | None:
    """The earliest lesson that any docstring of the file says derives it, or None."""
    found = [int(n) for doc in _docstrings(ast.parse(path.read_text(encoding="utf-8"))) for n in DERIVED.findall(doc)]
    return min(found, default=None)


def concept_lessons(modules: dict[str, Path]) -> dict[str, int]:
    """{module: lesson} for every module outside helpers.teach that names a lesson."""
    found = {n: lesson(p) for n, p in modules.items() if not n.startswith("helpers.teach")}
    return {n: k for n, k in found.items() if k is not None}


@dataclass(frozen=True)
class LessonBreak:
    """A module of lesson ``lesson`` that imports (or, as a package, holds) a module of the later ``later``."""

    module: str
    other: str
    lesson: int
    later: int
    how: str  # "imports at the top", "imports inside a function", "holds"

    def __str__(self) -> str:
        return f"{self.module} (lesson {self.lesson:02d}) {self.how} {self.other} (lesson {self.later:02d})"


def lesson_breaks(modules: dict[str, Path]) -> list[LessonBreak]:
    """Imports of a later lesson's module, top-level or inside a function (a re-export is an import too)."""
    lessons, breaks = concept_lessons(modules), set()
    for name, own in lessons.items():
        for other, top in imports(modules[name], modules):
            if other != name and lessons.get(other, 0) > own:
                how = "imports at the top" if top else "imports inside a function"
                breaks.add(LessonBreak(name, other, own, lessons[other], how))
    return sorted(breaks, key=str)


def package_breaks(modules: dict[str, Path]) -> list[LessonBreak]:
    """Packages that hold a module of a later lesson than their own: a learner of the package's lesson would meet it."""
    lessons, breaks = concept_lessons(modules), []
    for name, own in lessons.items():
        package = name.rsplit(".", 1)[0]
        if modules[name].name != "__init__.py" and package in lessons and own > lessons[package]:
            breaks.append(LessonBreak(package, name, lessons[package], own, "holds"))
    return sorted(breaks, key=str)


def code_files(root: Path = ROOT) -> list[Path]:
    return sorted(p for d in CODE_FOLDERS for p in (root / d).rglob("*.py"))


def file_lengths(root: Path = ROOT) -> dict[str, int]:
    """{file: lines} for every Python file of the code folders."""
    return {str(p.relative_to(root)): len(p.read_text(encoding="utf-8").splitlines()) for p in code_files(root)}


def function_lengths(root: Path = ROOT) -> dict[str, int]:
    """{file:line name: lines from ``def`` to the function's last line} for every function of the code folders."""
    lengths = {}
    for path in code_files(root):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths[f"{path.relative_to(root)}:{node.lineno} {node.name}"] = node.end_lineno - node.lineno + 1
    return lengths


@dataclass(frozen=True)
class Formula:
    """A formula the helpers write once: where it belongs, and how to recognise it in code (docstrings removed)."""

    name: str
    home: str  # module.function
    found: Callable[[ast.AST, str], bool]  # (the function's tree, its code as ast.unparse writes it)


def _solves_eq4(variable: str) -> Callable[[ast.AST, str], bool]:
    """(x_t - c * <variable>...) / d: eq. 4 of Ho et al. 2020 solved for the other variable."""

    def found(tree: ast.AST, code: str) -> bool:
        return any(
            isinstance(n, ast.BinOp)
            and isinstance(n.op, ast.Div)
            and isinstance(n.left, ast.BinOp)
            and isinstance(n.left.op, ast.Sub)
            and isinstance(n.left.right, ast.BinOp)
            and isinstance(n.left.right.op, ast.Mult)
            and any(
                isinstance(s, ast.Name) and s.id.startswith(variable) for s in (n.left.right.left, n.left.right.right)
            )
            for n in ast.walk(tree)
        )

    return found


def _matches(pattern: str) -> Callable[[ast.AST, str], bool]:
    return lambda tree, code: re.search(pattern, code) is not None


FORMULAS = (
    Formula("x0 from eps (eq. 4 solved for x0)", "helpers.sampling.steps.solve_x0", _solves_eq4("eps")),
    Formula("eps from x0 (eq. 4 solved for eps)", "helpers.sampling.steps.solve_eps", _solves_eq4("x0")),
    Formula(
        "DDIM update (eq. 12)",
        "helpers.sampling.steps.ddim_update",
        _matches(r"1(\.0)? - \w+ - (np\.square\(|\w+ \*\* 2)"),
    ),
    Formula(
        "(B,) -> (B, 1, ..., 1)",
        "helpers.schedules.per_row",
        _matches(r"\.(view|reshape)\(\(?-1,?\)? *(, *1\b|, *\*[\[(]1|\+ \(1,\))|\[:, None, None"),
    ),
    Formula("one t for a batch (B,)", "helpers.sampling.loops.batch_t", _matches(r"torch\.full\(\(\w+,\), t\b")),
    Formula("noise drawn on the generator's device", "helpers.sampling.loops.randn", _matches(r"generator\.device if")),
    Formula("eta in [0, 1]", "helpers.sampling.steps.check_eta", _matches(r"0(\.0)? <= eta <= 1")),
    Formula("alpha_bar, a cumulative product", "helpers.schedules.Schedule.alpha_bar", _matches(r"cumprod\(")),
    Formula("classifier-free guidance (eq. 6)", "helpers.guidance.cfg_eps", _matches(r"(\w+) \+ \w+ \* \(\w+ - \1\)")),
)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            if isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _places(name: str, tree: ast.Module) -> dict[str, ast.AST]:
    """{module.function, module.Class.method, or module itself for the rest: its tree} of one module."""
    places, rest = {}, []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            places[f"{name}.{node.name}"] = node
        elif isinstance(node, ast.ClassDef):
            methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            places.update({f"{name}.{node.name}.{m.name}": m for m in methods})
            rest += [n for n in node.body if n not in methods]
        else:
            rest.append(node)
    places[name] = ast.Module(body=rest, type_ignores=[])
    return places


def formula_homes(modules: dict[str, Path]) -> dict[str, list[str]]:
    """{formula: every place in the concept modules that writes it}; each should have exactly its one home."""
    homes = {f.name: [] for f in FORMULAS}
    for name, path in modules.items():
        if name.startswith("helpers.teach"):
            continue
        tree = _strip_docstrings(ast.parse(path.read_text(encoding="utf-8")))
        for place, node in _places(name, tree).items():
            code = ast.unparse(node)
            homes.update({f.name: homes[f.name] + [place] for f in FORMULAS if f.found(node, code)})
    return homes


def calls(run: Callable[[], object], functions: dict[str, Callable]) -> dict[str, int]:
    """How many times each function's code runs while ``run()`` runs (Python functions; counted by sys.setprofile)."""
    codes, counts = {f.__code__: name for name, f in functions.items()}, Counter()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            counts[codes[frame.f_code]] += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(previous)
    return {name: counts[name] for name in functions}
