"""A class's roster from the gradebook CSV that Canvas or Moodle exports, and that CSV back with one module filled.

Canvas (Grades > Export > Export Entire Gradebook) writes ``Student, ID, SIS User ID, SIS Login ID, Section``,
one column per assignment named ``Title (assignment id)``, a ``Points Possible`` row under the header, and
read-only totals; its ``ID`` is the user id that its submission downloads carry (``lastfirst_userid_...``).
Moodle (Grades > Export > Plain text file) writes ``First name, Last name, ID number, Institution, Department,
Email address``, one column per grade item named ``Assignment: Title (Real)``, and ``Last downloaded from this
course``; its downloads carry the full name. Both LMSs import the same layout they export, so ``--export``
writes the roster's own rows and columns back with only this module's column filled. Moodle refuses columns
it did not export, so the module's column must already be there: create the assignment in the LMS first.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from helpers.teach.intake import Submission

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_COLUMNS = ("First name", "Last name", "Email address")
EXPORT_HELP = (
    "export it from your LMS: on Canvas, Grades > Export > Export Entire Gradebook; on Moodle, "
    "Grades > Export > Plain text file"
)


class RosterError(ValueError):
    """A roster that cannot be read or used: the message names the problem and the fix."""


@dataclass
class Roster:
    """The LMS's gradebook CSV as read: its platform, header, rows, and each learner's row by key."""

    path: Path
    platform: str  # "canvas" or "moodle"
    header: list[str]
    rows: list[list[str]]
    learners: dict[str, int]  # key -> index in rows: Canvas's user id, or Moodle's full name (folded)
    bom: bool


def name_key(name: str) -> str:
    """A full name compared as Moodle's downloads and its gradebook both write it: case, accents' forms, spaces."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _learner_key(platform: str, header: list[str], row: list[str]) -> str | None:
    cell = dict(zip(header, row))
    if platform == "canvas":
        if cell.get("Student", "").strip() in ("Points Possible", "Student, Test", ""):
            return None  # the points row, and Canvas's own test student
        return cell.get("ID", "").strip() or None
    full = f"{cell.get('First name', '')} {cell.get('Last name', '')}"
    return name_key(full) or None


def read_roster(path: Path) -> Roster:
    """The gradebook CSV at ``path``, checked: a known layout, and each learner once."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(f"no roster file at {path}; {EXPORT_HELP}.")
    raw = path.read_bytes().decode("utf-8", errors="replace")
    rows = [r for r in csv.reader(io.StringIO(raw.removeprefix("\ufeff"))) if any(c.strip() for c in r)]
    header = rows[0] if rows else []
    if all(c in header for c in CANVAS_COLUMNS):
        platform = "canvas"
    elif all(c in header for c in MOODLE_COLUMNS):
        platform = "moodle"
    else:
        raise RosterError(
            f"{path} is not a gradebook export this grader knows: Canvas's has the columns "
            f"{', '.join(CANVAS_COLUMNS)}; Moodle's has {', '.join(MOODLE_COLUMNS)}. Its header is "
            f"{', '.join(header[:8]) or '(empty)'}; {EXPORT_HELP}."
        )
    learners: dict[str, int] = {}
    for i, row in enumerate(rows[1:], start=1):
        key = _learner_key(platform, header, row)
        if key is None:
            continue
        if key in learners:
            cell = dict(zip(header, row))
            what = f"user id {key}" if platform == "canvas" else f"the name {cell['First name']} {cell['Last name']}"
            raise RosterError(
                f"{path} lists {what} twice (rows {learners[key] + 1} and {i + 1}). "
                + (
                    "Remove the duplicate row and export again."
                    if platform == "canvas"
                    else "Moodle's downloads name a student only by full name, so two students of one name cannot "
                    "be told apart: fill their grades by hand, and give this command a roster without one of them."
                )
            )
        learners[key] = i
    return Roster(path, platform, header, rows, learners, raw.startswith("\ufeff"))


def module_column(roster: Roster, module: str, column: str | None = None) -> int:
    """The index of the roster's column for ``module``: ``column`` if given, else the one whose title names it."""
    if column is not None:
        if column not in roster.header:
            raise RosterError(f"{roster.path} has no column {column!r}; its columns are {', '.join(roster.header)}.")
        return roster.header.index(column)
    words = {module.casefold(), module.replace("_", " ").casefold()}
    found = [i for i, title in enumerate(roster.header) if any(w in title.casefold() for w in words)]
    if len(found) == 1:
        return found[0]
    lms = "Canvas" if roster.platform == "canvas" else "Moodle"
    if found:
        raise RosterError(
            f"{roster.path} has {len(found)} columns for {module}: {', '.join(roster.header[i] for i in found)}; "
            "choose one with --column."
        )
    raise RosterError(
        f"{roster.path} has no column for {module}. Create the assignment in {lms} first, with {module!r} in its "
        "title, and export the gradebook again; or name an existing column with --column."
    )


def points_possible(roster: Roster, column: int) -> float | None:
    """Canvas's "Points Possible" for ``column`` (the row under its header), or None (Moodle, or not a number)."""
    row = roster.rows[1] if len(roster.rows) > 1 else []
    if not row or row[0].strip() != "Points Possible" or column >= len(row):
        return None
    try:
        return float(row[column])
    except ValueError:
        return None


def learner_key(sub: Submission) -> str:
    """The roster key of a submission: Canvas's user id (the number in lastfirst_userid), else the full name."""
    if sub.platform == "canvas":
        return sub.student.rsplit("_", 1)[-1]
    return name_key(sub.name)


@dataclass
class Match:
    """Which roster rows have a graded submission, which rostered students have none, which files are unknown."""

    matched: dict[str, Submission]  # roster key -> its submission
    missing: list[str]  # rostered students without a submission, as the roster names them
    unknown: list[Submission]  # submissions that match no rostered student


def match(roster: Roster, submissions: list[Submission]) -> Match:
    """Match the submissions that were graded (not superseded ones) to the roster; refuse another course's roster."""
    counted = [s for s in submissions if s.status not in ("superseded", "not this module")]
    by_key: dict[str, list[Submission]] = {}
    for sub in counted:
        by_key.setdefault(learner_key(sub), []).append(sub)
    matched, unknown = {}, []
    for key, subs in by_key.items():
        if key in roster.learners and len(subs) == 1:
            matched[key] = subs[0]
            continue
        if key in roster.learners:  # two students of one name (Moodle): one roster row cannot tell which is which
            for sub in subs:
                sub.notes.append("shares one roster row with another submission of the same name: fill it by hand")
        unknown.extend(subs)
    if counted and not matched:
        names = ", ".join(_display(roster, i) for i in list(roster.learners.values())[:3])
        raise RosterError(
            f"none of the {len(counted)} submissions matches a student of {roster.path} (its students include "
            f"{names}): is it the roster of another course? The grades are kept in grades.csv; export the "
            "gradebook of this course and run again."
        )
    missing = [_display(roster, i) for key, i in roster.learners.items() if key not in matched]
    return Match(matched, missing, unknown)


def _display(roster: Roster, i: int) -> str:
    cell = dict(zip(roster.header, roster.rows[i]))
    if roster.platform == "canvas":
        return f"{cell['Student']} (id {cell['ID']})"
    return f"{cell['First name']} {cell['Last name']}"


def export(roster: Roster, found: Match, column: int, scores: dict[str, float], path: Path) -> int:
    """Write the roster back to ``path`` with ``column`` filled from ``scores`` (by roster key); return how many.

    Every other cell is written as it was read, so the LMS imports the file as its own export.
    """
    rows = [list(r) + [""] * (len(roster.header) - len(r)) for r in roster.rows]
    for key in found.matched:
        rows[roster.learners[key]][column] = f"{scores[key]:g}"
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if roster.platform == "canvas" else "\n").writerows(rows)
    Path(path).write_text(("\ufeff" if roster.bom else "") + out.getvalue(), encoding="utf-8")
    return len(found.matched)
