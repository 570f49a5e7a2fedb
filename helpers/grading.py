"""Moved to :mod:`helpers.teach.preprocessors`; this path keeps working for one release (deprecated)."""

from helpers.teach.preprocessors import (  # noqa: F401
    HINT,
    MARKER,
    SEPARATOR,
    DeduplicateGradeIds,
    FillInTheBlanks,
    StderrInTestsIsOutput,
    blank_line,
    blank_source,
    fill_stub,
    has_blanks,
    split_marked_line,
)
