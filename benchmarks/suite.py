"""Run the test suite and print where its CPU time went: the budget that CI's wall time is made of.

    python -m benchmarks.suite                  # the README's test command: the whole suite
    python -m benchmarks.suite -k 01_toy        # any pytest arguments: a part of it

It prints the suite's wall time and the core-seconds of pytest and of every process it started, by kind of
process, read from /proc twice a second: a process that ends between two readings misses its last half second,
so the figures are a little low. (getrusage of the children would miss far more: the sandboxed kernels and
Chromium's helpers are not all waited for up the chain.) The total divided by the cores is the shortest the
suite could take if no core ever idled; the utilization says how close the run came to that.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from helpers.teach.notebooks import ROOT

TICK = os.sysconf("SC_CLK_TCK")
# (kind, test on the command line), first match wins; a niced process is counted apart ("niced" suffix)
KINDS = (
    ("Chromium", lambda cmd: "chromium" in cmd),
    ("notebook kernels", lambda cmd: "ipykernel" in cmd),
    ("JupyterLab", lambda cmd: "jupyter-lab" in cmd or "jupyterlab" in cmd),
    ("nbgrader processes", lambda cmd: "nbgrader" in cmd),
    ("pytest and its threads", lambda cmd: "pytest" in cmd),
)


def kind(cmd: str, nice: int) -> str:
    name = next((k for k, test in KINDS if test(cmd)), "other (bwrap, git, shells, the load test's spinners, ...)")
    return f"{name}, niced" if nice > 0 else name


def read_proc(pid: str) -> tuple[int, float, int, str] | None:
    """(parent pid, CPU seconds so far, nice, command line) of one process, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, int(fields[16]), cmd


def sample(root: int, seen: dict[int, list]) -> None:
    """Record the CPU time, nice and command of ``root`` and of every living process it started."""
    procs = {int(p): info for p in os.listdir("/proc") if p.isdigit() and (info := read_proc(p))}
    ours, grew = {root}, True
    while grew:
        children = {pid for pid, info in procs.items() if info[0] in ours} - ours
        ours, grew = ours | children, bool(children)
    for pid in ours & procs.keys():
        _, cpu, nice, cmd = procs[pid]
        entry = seen.setdefault(pid, [0.0, 0, cmd])
        entry[0], entry[1] = cpu, max(entry[1], nice)
        entry[2] = cmd or entry[2]


def run(args: list[str]) -> tuple[float, Counter]:
    """Run pytest with ``args``; return its wall seconds and the core-seconds seen, by kind of process."""
    start, seen = time.monotonic(), {}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=ROOT)
    while proc.poll() is None:
        sample(proc.pid, seen)
        time.sleep(0.5)
    wall = time.monotonic() - start
    by_kind = Counter()
    for cpu, nice, cmd in seen.values():
        by_kind[kind(cmd, nice)] += cpu
    return wall, by_kind


def main(argv: list[str]) -> int:
    wall, by_kind = run(argv)
    cores, total = len(os.sched_getaffinity(0)), sum(by_kind.values())
    print(f"\n{'where the CPU went':70s} {'core-s':>8s} {'share':>6s}")
    for name, seconds in by_kind.most_common():
        print(f"{name:70s} {seconds:8.0f} {seconds / total:6.0%}")
    print(f"{'total: pytest and every process it started':70s} {total:8.0f}")
    print(
        f"wall {wall:.0f} s on {cores} cores: the total alone needs at least {total / cores:.0f} s; "
        f"utilization {total / (wall * cores):.0%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
