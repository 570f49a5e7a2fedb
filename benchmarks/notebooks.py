"""Execute every notebook in a fresh kernel and print its wall time, peak memory and slowest cells.

    python -m benchmarks.notebooks              # lessons and graded notebooks
    python -m benchmarks.notebooks notebooks/02_forward_process.ipynb

Each notebook runs in its own child process, so the peak resident memory reported is that
notebook's kernel alone (the largest process the child waited for).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from helpers.teach.notebooks import ROOT, cell_seconds, errors, execute, lessons, modules, solution


def run_one(path: Path) -> dict:
    """Execute one notebook here; report its wall time, errors and per-cell seconds."""
    start = time.perf_counter()
    nb = execute(path, allow_errors=True)
    wall = time.perf_counter() - start
    cells = [
        (i, cell_seconds(c) or 0.0, c.source.splitlines()[0] if c.source else "")
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
    ]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel, reaped by this process
    return {"wall_s": wall, "peak_mib": peak_kib / 1024, "errors": len(errors(nb)), "cells": cells}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "paths", nargs="*", type=Path, help="notebooks to run (default: every lesson and graded notebook)"
    )
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # internal: run one notebook, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    paths = args.paths or lessons() + [solution(m) for m in modules()]
    rows, all_cells = [], []
    for path in paths:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.notebooks", "--one", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        report = json.loads(out.stdout.strip().splitlines()[-1])
        rel = str(Path(path).resolve().relative_to(ROOT))
        rows.append((rel, report["wall_s"], report["peak_mib"], report["errors"]))
        all_cells += [(seconds, rel, index, first) for index, seconds, first in report["cells"]]
        print(f"ran {rel}: {report['wall_s']:.1f} s", file=sys.stderr)
    width = max(len(r[0]) for r in rows)
    print(f"\n| {'notebook':<{width}} | wall s | peak MiB | errors |")
    print(f"| {'-' * width} | ------:| --------:| ------:|")
    for rel, wall, peak, errs in rows:
        print(f"| {rel:<{width}} | {wall:6.1f} | {peak:8.0f} | {errs:6d} |")
    print(f"| {'total':<{width}} | {sum(r[1] for r in rows):6.1f} |          |        |")
    print("\nSlowest cells:")
    for seconds, rel, index, first in sorted(all_cells, reverse=True)[:5]:
        print(f"  {seconds:6.1f} s  {rel} cell {index}: {first[:70]}")


if __name__ == "__main__":
    main()
