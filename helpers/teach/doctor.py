"""Check that this environment can run the course, and say how to fix each problem found.

Run ``python -m helpers doctor`` in a terminal, or ``from helpers.teach.doctor import doctor; doctor()`` in a
notebook cell. It reports the Python and package versions, the device, whether widgets can render, and
whether Modules 06 and 08 will get the real Stable Diffusion 1.5 or the shapes model trained on a CPU in
Module 09, and whether a teacher can grade here with each submission sandboxed.
The exit status is 0 when the course can run here and 1 when something it needs is missing.
"""

from __future__ import annotations

import os
import sys

from helpers.teach import env
from helpers.teach.env import (  # noqa: F401 (the names the report and its tests use)
    COLAB_FIX,
    GPU_FIX,
    OTHERS,
    PIP_FIX,
    REQUIRED,
    SD15_MODEL_ID,
    SHOWN,
    Check,
    _norm,
    _public,
    hub_offline,
    in_kernel,
    minimum_versions,
    on_colab,
    tested_versions,
)
from helpers.teach.sandbox import BWRAP_FIX, sandbox_problem
from helpers.teach.sd_check import check_weights, hub_reachable, weights_in_cache  # noqa: F401

# ----- the checks, one function per line of the report -----


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    detail = f"{version} ({sys.executable})"
    if sys.version_info < (3, 11):  # noqa: UP036 (this check runs on whatever Python the user has)
        return Check(
            "Python", "error", detail, "the course needs Python 3.11: create the venv with python3.11 -m venv .venv"
        )
    if sys.version_info[:2] != (3, 11):
        return Check(
            "Python",
            "note",
            f"{detail}; the course is tested on 3.11",
            "if something breaks, recreate the venv with python3.11 -m venv .venv",
        )
    return Check("Python", "ok", detail)


def check_package(dist: str, colab: bool = False) -> Check:
    """Installed at all, at least the accepted minimum, and the version the course is tested with."""
    version = env.installed_version(dist)
    required = dist in REQUIRED
    fix = COLAB_FIX if colab else PIP_FIX
    if version is None:
        if required:
            return Check(dist, "error", "not installed", fix)
        return Check(dist, "note", "not installed (needed only to grade or to run the tests)", fix)
    low = minimum_versions().get(_norm(dist))
    if low and _public(version) < _public(low):
        return Check(dist, "error", f"{version}, older than the {low} the course needs", fix)
    tested = tested_versions().get(_norm(dist))
    if tested is None or _public(version) == _public(tested):
        return Check(dist, "ok", version + (", as tested" if tested else ""))
    if colab and dist == "torch":  # the colab extra leaves Colab's own torch in place on purpose
        return Check(dist, "ok", f"{version} (Colab's own; the course is tested with {tested})")
    return Check(dist, "note", f"{version}, but the course is tested with {tested}", fix)


def check_others(colab: bool = False) -> Check:
    """The remaining packages on one line: only the ones that are missing or differ are named."""
    checks = [check_package(dist, colab) for dist in OTHERS]
    if colab:  # Colab has no JupyterLab; its own front end renders the notebooks
        checks = [c for c in checks if c.name != "jupyterlab"]
    worst = (
        "error"
        if any(c.status == "error" for c in checks)
        else "note"
        if any(c.status == "note" for c in checks)
        else "ok"
    )
    if worst == "ok":
        return Check(
            "other packages", "ok", ", ".join(f"{c.name} {c.detail.split(',')[0]}" for c in checks) + ": as tested"
        )
    bad = [c for c in checks if c.status != "ok"]
    return Check("other packages", worst, "; ".join(f"{c.name} {c.detail}" for c in bad), bad[0].fix)


def _torch():
    try:
        import torch
    except Exception:  # missing or broken; check_package reports it
        return None
    return torch


def check_device(colab: bool = False) -> Check:
    """CUDA GPU with its name and memory, or the CPU."""
    torch = _torch()
    if torch is None:
        return Check("device", "error", "unknown: torch cannot be imported", COLAB_FIX if colab else PIP_FIX)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        more = f" (+{torch.cuda.device_count() - 1} more)" if torch.cuda.device_count() > 1 else ""
        return Check(
            "device", "ok", f"GPU: {props.name}, {props.total_memory / 2**30:.1f} GiB, CUDA {torch.version.cuda}{more}"
        )
    mps = getattr(torch.backends, "mps", None)
    apple = " (an Apple GPU is present, but the course runs on the CPU there)" if mps and mps.is_available() else ""
    return Check("device", "note", f"CPU only, no CUDA GPU{apple}", GPU_FIX)


def cpu_cores() -> int:
    """The CPU cores this process may use (as helpers.device.cpu_threads counts them)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows
        return max(1, os.cpu_count() or 1)


def check_cpu() -> Check:
    """Cores available and torch's thread count: more threads than cores made the U-Net 50x slower once."""
    cores, machine = cpu_cores(), os.cpu_count() or 0
    torch = _torch()
    threads = torch.get_num_threads() if torch else None
    detail = f"{cores} cores for this process ({machine} in the machine)"
    if threads is None:
        return Check("CPU", "ok", detail)
    detail += f", torch uses {threads} threads"
    if threads > cores:
        return Check(
            "CPU",
            "note",
            detail + ", more than the cores",
            "call helpers.device.setup_torch() first, as every lesson does (it sets one thread per core)",
        )
    return Check("CPU", "ok", detail)


def check_widgets(colab: bool = False, kernel: bool = False) -> Check:
    """Can the dissolve slider and the quizzes render? ipywidgets plus the front end's widget manager."""
    ipywidgets = env.installed_version("ipywidgets")
    if ipywidgets is None:
        return Check("widgets", "error", "cannot render: ipywidgets is not installed", COLAB_FIX if colab else PIP_FIX)
    where = (
        "running in Colab"
        if colab
        else "running in a Jupyter kernel"
        if kernel
        else "not in a kernel (run from a terminal)"
    )
    if colab:
        return Check(
            "widgets", "ok", f"ipywidgets {ipywidgets}, {where}: the setup cell enables Colab's custom widget manager"
        )
    labwidgets = env.installed_version("jupyterlab_widgets")
    if labwidgets is None:
        return Check(
            "widgets",
            "note",
            f"ipywidgets {ipywidgets}, but jupyterlab_widgets is not installed, so JupyterLab "
            f"shows widgets as text; {where}",
            PIP_FIX,
        )
    if _public(ipywidgets)[:1] == (8,) and _public(labwidgets)[:1] != (3,):
        return Check(
            "widgets",
            "note",
            f"ipywidgets {ipywidgets} with jupyterlab_widgets {labwidgets}: ipywidgets 8 needs "
            f"jupyterlab_widgets 3; {where}",
            PIP_FIX,
        )
    return Check("widgets", "ok", f"ipywidgets {ipywidgets} with jupyterlab_widgets {labwidgets}; {where}")


def check_grading() -> Check:
    """Can a teacher grade here with each submission's kernel in the bubblewrap sandbox?"""
    problem = sandbox_problem()
    if problem:
        return Check(
            "grading",
            "note",
            f"submissions cannot be sandboxed here: {problem.split(';')[0]} "
            "(learners need no sandbox; teachers grading a class do)",
            BWRAP_FIX,
        )
    import shutil
    import subprocess

    version = subprocess.run([shutil.which("bwrap"), "--version"], capture_output=True, text=True).stdout.strip()
    return Check("grading", "ok", f"{version}: each submission's kernel can run sandboxed")


def diagnose() -> list[Check]:
    """Every check, in report order."""
    colab, torch = on_colab(), _torch()
    cuda = bool(torch and torch.cuda.is_available())
    return [
        check_python(),
        *(check_package(dist, colab) for dist in SHOWN),
        check_others(colab),
        check_device(colab),
        check_cpu(),
        check_widgets(colab, in_kernel()),
        check_weights(cuda),
        check_grading(),
    ]


def report(checks: list[Check]) -> str:
    """The checks as text: one line each, the fix indented under it, and a verdict."""
    lines = ["Course environment check (python -m helpers doctor)", ""]
    for c in checks:
        lines.append(f"  {c.status:5s}  {c.name:15s} {c.detail}")
        if c.fix and c.status != "ok":
            lines.append(f"  {'':5s}  {'':15s} fix: {c.fix}")
    errors = [c.name for c in checks if c.status == "error"]
    notes = sum(c.status == "note" for c in checks)
    lines.append("")
    if errors:
        lines.append(
            f"NOT READY: {', '.join(errors)} must be fixed before the course can run; "
            "apply the fixes above and run the check again."
        )
    else:
        lines.append("READY: everything the course needs is here" + (f" ({notes} notes above)." if notes else "."))
    return "\n".join(lines)


def usable(checks: list[Check]) -> bool:
    return not any(c.status == "error" for c in checks)


def doctor() -> None:
    """Print the environment report (for a notebook cell)."""
    print(report(diagnose()))


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers doctor`` and ``course-doctor``: print the report; exit 0 when the course can run."""
    checks = diagnose()
    print(report(checks))
    return 0 if usable(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
