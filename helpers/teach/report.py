"""What the teacher reads after grading: the summary table (printed and as CSV), and pages for ungradable files."""

from __future__ import annotations

import csv
import html
from pathlib import Path

from helpers.teach.intake import STABLE, Submission
from helpers.teach.late import late_status

NO_SANDBOX_WARNING = (
    "WARNING: graded WITHOUT the sandbox (--no-sandbox): every notebook ran with your permissions "
    "and could read or change your files. Use this only for notebooks you trust."
)


def error_feedback(sub: Submission, path: Path) -> None:
    """A feedback page for a submission nbgrader could not grade."""
    path.parent.mkdir(parents=True, exist_ok=True)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in sub.notes)
    path.write_text(
        f"<html><body><h2>{html.escape(sub.source.name)}</h2><p>Status: <b>{html.escape(sub.status)}</b>. "
        f"Score: 0.</p><ul>{notes}</ul><p>Open the notebook in Jupyter, run it top to bottom, fix what "
        "fails, and submit it again.</p></body></html>",
        encoding="utf-8",
    )


def write_summary(submissions: list[Submission], path: Path, sandboxed: bool = True) -> None:
    """The summary table as CSV: student, name (as the platform wrote it), raw score, final score (after a late
    penalty), max, late, status, notes, file, sandbox."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "name", "score", "final", "max", "late", "status", "notes", "file", "sandbox"])
        for s in submissions:
            raw = s.score if s.score is not None else 0
            writer.writerow(
                [
                    s.student,
                    s.name,
                    raw,
                    f"{s.final:g}" if s.final is not None else raw,
                    s.max_score,
                    late_status(s),
                    s.status,
                    "; ".join(s.notes),
                    s.source.name,
                    "yes" if sandboxed else "no",
                ]
            )


def print_summary(submissions: list[Submission], sandboxed: bool = True) -> None:
    """Print the summary table: student, name, score, max, status (and what happened)."""
    if not sandboxed:
        print(NO_SANDBOX_WARNING)
    for platform in sorted({s.platform for s in submissions} - {""}):
        print(f"student ids: {STABLE[platform]}")
    width = max([len(s.student) for s in submissions] + [7])
    name_width = min(30, max([len(s.name) for s in submissions] + [4]))
    print(f"{'student':<{width}}  {'name':<{name_width}}  {'score':>6}  {'final':>6}  {'max':>5}  status")
    for s in sorted(submissions, key=lambda s: s.student):
        score = f"{s.score:g}" if s.score is not None else "0"
        final = f"{s.final:g}" if s.final is not None else score
        extra = f" ({'; '.join(s.notes)})" if s.notes else ""
        print(
            f"{s.student:<{width}}  {s.name[:name_width]:<{name_width}}  {score:>6}  {final:>6}  "
            f"{s.max_score or 0:>5g}  {s.status}{extra}"
        )
    if not sandboxed:
        print(NO_SANDBOX_WARNING)
