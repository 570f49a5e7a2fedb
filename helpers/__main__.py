"""The course's commands: ``python -m helpers lab``, ``doctor``, ``site`` and ``colab OWNER/NAME``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from helpers.paths import ROOT


def doctor(args: argparse.Namespace) -> int:
    from helpers.teach.doctor import main

    return main()


def _first_cells(path: Path) -> str:
    """The text of a notebook's badge cell and setup cell."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"][:2]
    return "\n".join("".join(cell["source"]) for cell in cells)


def colab(args: argparse.Namespace) -> int:
    """Point every notebook's "Open in Colab" badge and setup cell at the fork ``args.repo``."""
    from helpers.teach.colab import BRANCH, point_at
    from helpers.teach.notebooks import committed_notebooks

    root = args.root.resolve()
    notebooks = committed_notebooks(root)
    if not notebooks:
        print(
            f"error: no notebooks under {root}; run this from the course's repository root or pass --root",
            file=sys.stderr,
        )
        return 2
    try:
        changed = point_at(args.repo, root)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"rewrote {path.relative_to(root)}")
    badge = f"colab.research.google.com/github/{args.repo}/blob/{BRANCH}/"
    install = f"git+https://github.com/{args.repo}.git@{BRANCH}"
    missed = [p for p in notebooks if badge not in _first_cells(p) or install not in _first_cells(p)]
    if missed:
        print(f"error: these notebooks' badge or setup cell still do not point at {args.repo}:", file=sys.stderr)
        for path in missed:
            print(f"  {path.relative_to(root)}", file=sys.stderr)
        return 1
    print(
        f"{len(notebooks)} notebooks point at {args.repo} ({len(changed)} rewritten): their badges open "
        f"https://{badge}... and their setup cells install {install}."
    )
    print(
        "solutions/ and exercises/ were rewritten alike, so exercises/ is still what generate_assignment makes. "
        f"Commit and push to the {BRANCH} branch of {args.repo}."
    )
    return 0


def lab(args: argparse.Namespace) -> int:
    from helpers.teach.lab import main

    return main(args.args)


def site(args: argparse.Namespace) -> int:
    from helpers.teach.site import main

    return main(args.dest)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m helpers", description="Commands for the diffusion models course.")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # lab takes no arguments of its own through argparse: every one after "lab" (--teacher, --port 8890, ...) is
    # collected by main() in its order (argparse's REMAINDER would refuse any that starts with "-")
    commands.add_parser(
        "lab",
        help="open the course in JupyterLab, at lesson 01 (--teacher keeps nbgrader's tools)",
        description="Open the course in JupyterLab, at lesson 01. --teacher keeps nbgrader's tools; every other "
        "argument goes to jupyter lab (for example --port 8890).",
    ).set_defaults(run=lab)
    pages = commands.add_parser("site", help="execute every lesson and write the course as static HTML pages")
    pages.add_argument("--dest", type=Path, default=ROOT / "site", help=f"where to write it (default: {ROOT / 'site'})")
    pages.set_defaults(run=site)
    commands.add_parser("doctor", help="check this environment and print a fix for each problem").set_defaults(
        run=doctor
    )
    fork = commands.add_parser("colab", help="point every Colab badge and setup cell at your fork")
    fork.add_argument("repo", metavar="OWNER/NAME", help="your fork on GitHub, e.g. my-school/diffusion-course")
    fork.add_argument("--root", type=Path, default=ROOT, help=f"the repository to rewrite (default: {ROOT})")
    fork.set_defaults(run=colab)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args, extra = p.parse_known_args(argv)
    if extra and args.command != "lab":
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    args.args = extra[1:] if extra[:1] == ["--"] else extra  # for lab: its arguments, in the order given
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
