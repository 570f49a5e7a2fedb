"""Fill-in-the-blank support: an unfilled ``___`` raises a clear error instead of running.

IPython keeps its third-most-recent output in ``___``, so an unfilled blank such as
``v + ___`` would otherwise run silently with a stale value. Importing ``___`` from
here does two things:

* it binds ``___`` to a sentinel that IPython no longer overwrites (IPython stops
  updating ``_``, ``__`` and ``___`` once user code has assigned one of them), and any
  use of the sentinel raises :class:`BlankError`;
* inside IPython, each such import registers an AST transformer, so a cell that still contains a
  ``___`` stops before its first line runs, naming the lines with blanks.
"""

from __future__ import annotations

import ast
from typing import Any, NoReturn

BLANK = "___"


class BlankError(NotImplementedError):
    """Raised when a ``___`` blank has not been replaced by the learner's code."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for this error: the message alone, with no traceback into helpers."""
        return [f"\x1b[0;31mBlankError\x1b[0m: {self}"]


def _message(lines: list[int] | None = None) -> str:
    where = f" (line {', '.join(map(str, lines))})" if lines else ""
    return f"This cell still has a blank ___ to fill{where}. Replace each ___ with your code, then run the cell again."


def raise_unfilled(lines: list[int] | None = None) -> NoReturn:
    """Raise the error an unfilled blank gives, naming the cell lines that hold blanks."""
    raise BlankError(_message(lines))


class _Blank:
    """The value of an unfilled ``___``: every use of it raises BlankError."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "___"

    def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise_unfilled()

    # Arithmetic, comparison, conversion, container and call protocols all fail loudly.
    for _name in (
        "add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod pow rpow "
        "matmul rmatmul neg pos abs invert lt le gt ge eq ne bool int float index complex "
        "iter len getitem contains call round floor ceil and rand or ror xor rxor "
        "lshift rlshift rshift rrshift array str format"
    ).split():
        locals()[f"__{_name}__"] = _fail
    del _name
    __hash__ = object.__hash__  # defining __eq__ would otherwise make the sentinel unhashable

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):  # let introspection (hasattr(x, "_repr_html_"), pickling) answer normally
            raise AttributeError(name)
        raise_unfilled()

    # numpy and torch ask these hooks before anything else, so they fail here too.
    def __array_ufunc__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise_unfilled()

    def __array_function__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise_unfilled()

    @classmethod
    def __torch_function__(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise_unfilled()


SENTINEL = _Blank()


class _BlankGuard(ast.NodeTransformer):
    """Prepend a call that raises BlankError to any cell that still reads ``___``."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        lines = sorted({n.lineno for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == BLANK})
        if lines:
            guard = ast.parse(f"__import__('helpers.blanks', fromlist=['_']).raise_unfilled({lines!r})")
            node.body[:0] = guard.body
            ast.fix_missing_locations(node)
        return node


def install_guard() -> bool:
    """Register the blank guard in the running IPython shell; return False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    if not any(isinstance(t, _BlankGuard) for t in shell.ast_transformers):
        shell.ast_transformers.append(_BlankGuard())
    return True


def __getattr__(name: str) -> _Blank:
    """``from helpers.blanks import ___`` lands here, so every such import (re)installs the guard."""
    if name == BLANK:
        install_guard()
        return SENTINEL
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
