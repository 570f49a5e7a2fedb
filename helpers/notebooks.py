"""Moved to :mod:`helpers.teach.notebooks`; this path keeps working for one release (deprecated)."""

from helpers.teach.notebooks import (  # noqa: F401
    ROOT,
    cell_seconds,
    errors,
    execute,
    exercise,
    kernel_env,
    lessons,
    modules,
    solution,
)
