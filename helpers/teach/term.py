"""A teacher's term around the one-module grader: late policy, the LMS round trip, and the term's table.

After a module is graded, :func:`after_grading` applies ``--due`` and ``--late-penalty`` (raw and final
scores both kept), matches the submissions to ``--roster`` (the LMS's gradebook export) and writes
``--export`` (that CSV with this module's column filled), saying who is missing and who is not on the
roster. ``python -m helpers.teach.classroom term`` gathers every module graded so far (each one's
``summary_<module>.csv``) into one table, a row per student, printed and written as ``term.csv``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from helpers.teach.intake import Submission
from helpers.teach.late import mark_late, parse_due, parse_penalty
from helpers.teach.notebooks import ROOT
from helpers.teach.roster import export, match, module_column, points_possible, read_roster


def add_term_options(p: argparse.ArgumentParser) -> None:
    """The grading options of a term: ``--due``, ``--late-penalty``, ``--roster``, ``--export``, ``--column``."""
    term = p.add_argument_group(
        "a term", "late work and the LMS round trip (python -m helpers.teach.classroom term: the term's table)"
    )
    term.add_argument("--due", help="the deadline, local time, e.g. '2026-12-06 23:59': files after it are late")
    term.add_argument("--late-penalty", help="percent per day late and its cap, e.g. 10,50 (10%% a day, at most 50%%)")
    term.add_argument("--roster", type=Path, help="the gradebook CSV that Canvas or Moodle exports")
    term.add_argument("--export", type=Path, help="write the roster back with this module's scores, for the LMS")
    term.add_argument("--column", help="the roster's column for this module (default: the one that names it)")
    term.add_argument(
        "--shard",
        help="K/N: grade only the K-th of N shares of the class, for an engine that runs N machines (then: merge)",
    )
    term.add_argument(
        "--similarity",
        action="store_true",
        help="write similarity_<module>.html: pairs whose answers are unusually alike (never changes a score)",
    )


def check_options(args: argparse.Namespace, module: str) -> dict:
    """Read ``--due``, ``--late-penalty``, ``--roster`` and ``--column`` before grading: bad input costs nothing."""
    if args.export and not args.roster:
        raise SystemExit("--export needs --roster: the gradebook CSV your LMS exported, which it fills in.")
    if args.shard and (args.roster or args.similarity):
        raise SystemExit(
            "--roster, --export and --similarity need the whole class: grade the shards, merge them "
            "(python -m helpers.teach.classroom merge ...), then compare or export from one machine's run."
        )
    try:
        due = parse_due(args.due) if args.due else None
        penalty = parse_penalty(args.late_penalty) if args.late_penalty else None
        roster = read_roster(args.roster) if args.roster else None
        column = module_column(roster, module, args.column) if roster and args.export else None
    except ValueError as error:
        raise SystemExit(str(error)) from None
    return {"due": due, "penalty": penalty, "roster": roster, "column": column}


def after_grading(submissions: list[Submission], options: dict, export_to: Path | None) -> list[str]:
    """Late marks and final scores on ``submissions``; the roster matched and exported. Returns lines to print."""
    mark_late(submissions, options["due"])
    penalty, lines = options["penalty"], []
    for sub in submissions:
        raw = sub.score if sub.score is not None else 0.0
        sub.final = penalty.final(raw, sub.days_late) if penalty else raw
    if penalty:
        lines.append(f"late penalty: {penalty}; the summary shows the raw score and the final one")
    if (roster := options["roster"]) is None:
        return lines
    try:
        found = match(roster, submissions)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    for sub in found.unknown:
        sub.notes.append(f"not on the roster {roster.path.name}")
    lines.append(f"roster ({roster.platform}): {len(found.matched)} of {len(roster.learners)} students submitted")
    lines += [f"  missing (no submission): {name}" for name in found.missing]
    lines += [f"  not on the roster: {s.name} ({s.source.name})" for s in found.unknown]
    if export_to is not None:
        scores = {key: sub.final for key, sub in found.matched.items()}
        n = export(roster, found, options["column"], scores, export_to)
        title = roster.header[options["column"]]
        lines.append(f"export: {export_to} ({roster.platform}'s own layout), column {title!r} filled for {n} students")
        most = max((s.max_score or 0 for s in submissions), default=0)
        if (points := points_possible(roster, options["column"])) is not None and most and points != most:
            lines.append(
                f"  note: Canvas gives {title!r} {points:g} points possible, the module {most:g}; the scores are "
                f"written as points out of {most:g}, so set the assignment to {most:g} points in Canvas first"
            )
    return lines


def term_rows(course: Path) -> tuple[list[str], list[dict]]:
    """The modules graded so far (their summaries) and one row per student: each module's final score and max."""
    summaries = sorted(course.glob("summary_*.csv"))
    if not summaries:
        raise SystemExit(
            f"no summary_<module>.csv in {course}: grade a module first, for example "
            "python -m helpers.teach.classroom 01_toy_signal submissions.zip"
        )
    modules, students = [], {}
    for path in summaries:
        module = path.stem.removeprefix("summary_")
        modules.append(module)
        for r in csv.DictReader(path.open(encoding="utf-8")):
            if r["status"] == "superseded":
                continue
            row = students.setdefault(r["student"], {"student": r["student"], "name": r["name"], "late": []})
            row[module] = (float(r.get("final") or r["score"]), float(r["max"] or 0))
            if r.get("late"):
                row["late"].append(f"{module}: {r['late']}")
    return modules, sorted(students.values(), key=lambda row: row["student"])


def write_term(course: Path) -> Path:
    """Print the term's table and write it as ``term.csv``: a row per student, a column per module, the total."""
    modules, rows = term_rows(course)
    maxes = {m: max((r[m][1] for r in rows if m in r), default=0.0) for m in modules}
    out = course / "term.csv"
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "name", *modules, "total", "max", "missing", "late"])
        print(f"{'student':<24} {'name':<24} " + " ".join(f"{m[:2]:>6}" for m in modules) + "   total")
        for r in rows:
            scores = [f"{r[m][0]:g}" if m in r else "" for m in modules]
            total = sum(r[m][0] for m in modules if m in r)
            missing = [m for m in modules if m not in r]
            writer.writerow(
                [
                    r["student"],
                    r["name"],
                    *scores,
                    f"{total:g}",
                    f"{sum(maxes.values()):g}",
                    "; ".join(missing),
                    "; ".join(r["late"]),
                ]
            )
            print(
                f"{r['student'][:24]:<24} {r['name'][:24]:<24} "
                + " ".join(f"{s or '-':>6}" for s in scores)
                + f"   {total:g} / {sum(maxes.values()):g}"
            )
    print(f"\n{len(rows)} students, {len(modules)} modules ({', '.join(modules)}); '-' is no submission. term: {out}")
    return out


def term_main(argv: list[str]) -> None:
    """``python -m helpers.teach.classroom term [--course FOLDER]``."""
    p = argparse.ArgumentParser(prog="python -m helpers.teach.classroom term", description=write_term.__doc__)
    p.add_argument("--course", type=Path, default=ROOT, help="the course folder (default: this repository)")
    write_term(p.parse_args(argv).course.resolve())
