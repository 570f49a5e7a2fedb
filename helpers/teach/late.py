"""Late work: days late from a platform's mark or from ``--due`` and the files' times, and a stated penalty.

A file's time is the upload time its platform recorded in the zip (kept when unpacking), or its modification
time in a folder. Canvas marks a late file LATE in its name; without ``--due`` the days are unknown, and no
penalty is applied to it (the summary says so). The penalty is a percentage of the raw score per day late,
capped: ``--late-penalty 10,50`` takes 10 % a day, at most 50 %. The summary shows the raw and the final score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from helpers.teach.intake import Submission

DUE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d")


class LateError(ValueError):
    """A ``--due`` or ``--late-penalty`` that cannot be read: the message shows the expected form."""


@dataclass(frozen=True)
class Penalty:
    """``per_day`` percent of the raw score for each day late, at most ``cap`` percent."""

    per_day: float
    cap: float

    def __str__(self) -> str:
        return f"{self.per_day:g}% a day late, at most {self.cap:g}%"

    def final(self, raw: float, days: int | None) -> float:
        """The score after the penalty (the raw score when the days are unknown or none)."""
        if not days:
            return raw
        return raw * (1 - min(self.cap, self.per_day * days) / 100)


def parse_due(text: str) -> datetime:
    """``--due`` as a local time: 2026-12-06, 2026-12-06 23:59 or 2026-12-06T23:59 (a date alone means its midnight,
    the start of that day)."""
    for form in DUE_FORMATS:
        try:
            return datetime.strptime(text.strip(), form)
        except ValueError:
            continue
    raise LateError(f"--due {text!r} is not a date this grader reads; write it as 2026-12-06 23:59 (local time).")


def parse_penalty(text: str) -> Penalty:
    """``--late-penalty PER_DAY[,CAP]`` in percent: ``10,50`` is 10 % a day, at most 50 % (no cap: 100)."""
    parts = [p.strip().rstrip("%") for p in text.split(",")]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2) or not all(0 <= n <= 100 for n in numbers):
        raise LateError(
            f"--late-penalty {text!r} is not a policy this grader reads; write the percent taken per day late and, "
            "after a comma, the most it may take: --late-penalty 10,50 (both between 0 and 100)."
        )
    return Penalty(numbers[0], numbers[1] if len(numbers) == 2 else 100.0)


def days_late(sub: Submission, due: datetime | None) -> int | None:
    """Whole days (started) after ``due`` by the file's time; None when unknown (no ``--due``)."""
    if due is None:
        return None
    uploaded = sub.uploaded if sub.uploaded is not None else sub.source.stat().st_mtime
    seconds = uploaded - due.timestamp()
    return max(0, math.ceil(seconds / 86400))


def mark_late(submissions: list[Submission], due: datetime | None) -> None:
    """Set each submission's days late, and note it: "late (N days)", or Canvas's mark with the days unknown."""
    for sub in submissions:
        sub.days_late = days_late(sub, due)
        if sub.days_late:
            sub.notes.append(late_status(sub))
        elif sub.late and sub.days_late is None:
            sub.notes.append("late (days unknown: give --due to count them; no penalty applied)")
        elif sub.late:
            sub.notes.append("Canvas marked it LATE, but its file time is before --due: not counted late")


def late_status(sub: Submission) -> str:
    """The summary's late column: "late (N days)", "late (days unknown)", or empty."""
    if sub.days_late:
        return f"late ({sub.days_late} day{'s' if sub.days_late > 1 else ''})"
    return "late (days unknown)" if sub.late and sub.days_late is None else ""
