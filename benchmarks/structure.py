"""The structure of the helpers package in figures: circles, lesson order, sizes, formulas with several homes.

    python -m benchmarks.structure

Static figures come from helpers.teach.structure (what tests/test_structure.py asserts on); the
last rows count, while one DDPM step and one 50-step DDIM loop run, how often t is validated and
how often alpha_bar (a cumulative product over T + 1 entries) is computed.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from helpers.sampling import check_timestep_sequence, ddim_sample, ddpm_step
from helpers.schedules import Schedule, check_t
from helpers.teach import structure


def runtime_rows() -> list[tuple[str, str]]:
    """t checks and alpha_bar computations in one ddpm_step and in a 50-step ddim_sample, on a fresh schedule each."""
    getter = inspect.getattr_static(Schedule, "alpha_bar")
    alpha_bar = getattr(getter, "fget", None) or getter.func  # a property before, a cached_property after
    watched = {"check_t": check_t, "check_timestep_sequence": check_timestep_sequence, "alpha_bar": alpha_bar}
    calls = structure.calls
    x_t, eps = torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    step = calls(lambda: ddpm_step(x_t, 500, 499, eps, Schedule.create("cosine", 1000), torch.zeros_like(x_t)), watched)
    loop = calls(
        lambda: ddim_sample(lambda x, t: torch.zeros_like(x), (2, 1, 4, 4), Schedule.create(), 50, progress=False),
        watched,
    )
    return [
        ("t validated in one ddpm_step", f"{step['check_t']}"),
        ("alpha_bar computed in one ddpm_step", f"{step['alpha_bar']}"),
        (
            "t validated in a 50-step ddim_sample (check_t, check_timestep_sequence)",
            f"{loop['check_t']}, {loop['check_timestep_sequence']}",
        ),
        ("alpha_bar computed in a 50-step ddim_sample", f"{loop['alpha_bar']}"),
    ]


def rows() -> list[tuple[str, str]]:
    modules = structure.package_modules()
    circles = structure.cycles(structure.graph(modules))
    breaks, held = structure.lesson_breaks(modules), structure.package_breaks(modules)
    files, functions = structure.file_lengths(), structure.function_lengths()
    big_file, long_function = max(files, key=files.get), max(functions, key=functions.get)
    several = {f: p for f, p in structure.formula_homes(modules).items() if len(p) > 1}
    return [
        ("import cycles", f"{len(circles)}" + "".join(f"; {' <-> '.join(c)}" for c in circles)),
        ("lesson-order breaks (imports)", f"{len(breaks)}" + "".join(f"; {b}" for b in breaks)),
        ("lesson-order breaks (a package holds a later lesson)", f"{len(held)}" + "".join(f"; {b}" for b in held)),
        ("largest file (lines)", f"{files[big_file]} ({big_file})"),
        ("longest function (lines, def to end)", f"{functions[long_function]} ({long_function})"),
        (
            "formulas with more than one home",
            f"{len(several)}" + "".join(f"; {f}: {', '.join(p)}" for f, p in several.items()),
        ),
        *runtime_rows(),
    ]


def main() -> None:
    torch.set_num_threads(1)
    np.seterr(all="ignore")
    print("| figure | value |\n| --- | --- |")
    for name, value in rows():
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
