"""Render deploy/'s templates for an engine that runs the shards: a Kubernetes Indexed Job or a Slurm job array.

    python -m helpers.teach.deploy k8s 01_toy_signal 4 > grade.yaml          # then: kubectl apply -f grade.yaml
    python -m helpers.teach.deploy slurm 01_toy_signal 4 > grade.sbatch      # then: sbatch grade.sbatch

Each shard runs ``python -m helpers.teach.classroom MODULE submissions.zip --shard K/N`` in its own course
folder, in the same sandbox as on one machine; ``python -m helpers.teach.classroom merge`` joins them.
"""

from __future__ import annotations

import argparse
import re

from helpers.teach.notebooks import ROOT, modules

TEMPLATES = {
    "k8s": ROOT / "deploy" / "k8s" / "grade-shards.yaml",
    "slurm": ROOT / "deploy" / "slurm" / "grade-shards.sbatch",
}


def render(engine: str, module: str, n: int, **options) -> str:
    """The template of ``engine`` filled in for ``module`` in ``n`` shards (options: image, claim, course, data,
    jobs, memory, sandbox)."""
    if module not in modules():
        raise SystemExit(f"{module!r} is not a module of this course; choose one of: {', '.join(modules())}.")
    if n < 1:
        raise SystemExit(f"{n} shards: give at least 1.")
    if engine == "k8s" and not options.get("image"):
        raise SystemExit(
            "--image: the container image the pods run (this repository with requirements.txt and "
            "bubblewrap installed, as .ci/run installs them), e.g. --image registry.example.org/grader:1."
        )
    values = {
        "module": module,
        "module_dns": re.sub(r"[^a-z0-9-]", "-", module.lower()),  # a Kubernetes name: lower case, digits, '-'
        "n": n,
        "image": options.get("image") or "",
        "claim": options.get("claim") or "grading-data",
        "course": options.get("course") or "/opt/diffusion-course",
        "data": options.get("data") or "/scratch/grading",
        "jobs": options.get("jobs") or 2,
        "memory": options.get("memory") or "8G",
        "sandbox": "--no-sandbox" if options.get("no_sandbox") else "",
    }
    lines = TEMPLATES[engine].read_text(encoding="utf-8").format(**values).splitlines()
    return "\n".join(line.rstrip() for line in lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m helpers.teach.deploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("engine", choices=sorted(TEMPLATES))
    p.add_argument("module")
    p.add_argument("shards", type=int)
    for flag in ("image", "claim", "course", "data", "memory"):
        p.add_argument(f"--{flag}")
    p.add_argument("--jobs", type=int, help="submissions each shard grades at once (its CPUs)")
    p.add_argument("--no-sandbox", action="store_true", help="rely on the engine's own isolation (see deploy/)")
    args = vars(p.parse_args(argv))
    print(render(args.pop("engine"), args.pop("module"), args.pop("shards"), **args), end="")


if __name__ == "__main__":
    main()
