"""Verdict sentences generated from the numbers: a difference counts only beyond two standard errors of it.

Derived in notebooks/04_sampling.ipynb §5: the margin of two estimates is two standard errors of
their difference, 2 sqrt(se_a^2 + se_b^2), for KIDs (each with its SE over folds) and for rates
(each with its binomial SE, sqrt(p (1 - p) / n)). Lessons print their verdicts through these
functions, so that a sentence cannot claim more than its numbers; tests/test_verdicts.py checks
that the wording follows the numbers in every case.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    """A measured value and its standard error. Derived in notebooks/04_sampling.ipynb §5."""

    value: float
    se: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and math.isfinite(self.se)) or self.se < 0:
            raise ValueError(f"an estimate needs a finite value and a finite SE >= 0, got {self.value} ± {self.se}")

    def show(self, digits: int = 3) -> str:
        return f"{self.value:.{digits}f} ± {self.se:.{digits}f}"


def rate(share: float, n: int) -> Estimate:
    """A share of ``n`` independent yes/no trials, with its binomial SE sqrt(p (1 - p) / n).

    Derived in notebooks/04_sampling.ipynb §5.
    """
    if n <= 0:
        raise ValueError(f"a rate needs n > 0 trials, got n = {n}")
    p = float(share)
    if not 0 <= p <= 1:
        raise ValueError(f"a rate is a share in [0, 1], got {p}: divide a count of successes by n first")
    return Estimate(p, math.sqrt(p * (1 - p) / n))


def mean_of(values) -> Estimate:
    """The mean of n independent measurements (one per sample), with its standard error std / sqrt(n).

    Derived in notebooks/08_editing.ipynb §1.
    """
    x = [float(v) for v in (values.flatten().tolist() if hasattr(values, "flatten") else values)]
    if len(x) < 2:
        raise ValueError(f"a mean's standard error needs at least 2 values, got {len(x)}")
    mean = sum(x) / len(x)
    return Estimate(mean, math.sqrt(sum((v - mean) ** 2 for v in x) / (len(x) - 1) / len(x)))


def margin(a: Estimate, b: Estimate) -> float:
    """Two standard errors of the difference a - b (independent estimates).

    Derived in notebooks/04_sampling.ipynb §5.
    """
    return 2 * math.hypot(a.se, b.se)


def rank(a: Estimate, b: Estimate, lower_is_better: bool = True) -> int:
    """-1 when a is better beyond the margin, 1 when b is, 0 when the two are within it.

    Derived in notebooks/04_sampling.ipynb §5.
    """
    gap = a.value - b.value
    if abs(gap) <= margin(a, b):
        return 0
    a_better = gap < 0 if lower_is_better else gap > 0
    return -1 if a_better else 1


def compare(
    name_a: str, a: Estimate, name_b: str, b: Estimate, quantity: str, lower_is_better: bool = True, digits: int = 3
) -> str:
    """One sentence: which of a and b is better on ``quantity``, or that the two cannot be ranked.

    Derived in notebooks/04_sampling.ipynb §5.
    """
    shown = f"{a.show(digits)} against {b.show(digits)}, margin {margin(a, b):.{digits}f}"
    order = rank(a, b, lower_is_better)
    if order == 0:
        within = f"{name_a} and {name_b} are within two standard errors on {quantity}"
        return f"{within} ({shown}): these samples cannot rank them."
    better, worse = (name_a, name_b) if order < 0 else (name_b, name_a)
    return f"{better} is better than {worse} on {quantity}, beyond two standard errors ({shown})."


def _grouped(pairs: dict, lower_is_better: bool) -> dict[int, list]:
    """The keys of ``pairs`` (key: (a, b)) by ``rank``: -1 where a is better, 1 where b is, 0 where neither."""
    won = {-1: [], 0: [], 1: []}
    for key, (a, b) in pairs.items():
        won[rank(a, b, lower_is_better)].append(key)
    return won


def compare_each(
    name_a: str, name_b: str, pairs: dict[str, tuple[Estimate, Estimate]], quantity: str, lower_is_better: bool = True
) -> str:
    """One sentence over several settings (the keys of ``pairs``): where a is better, where b is, where neither.

    Derived in notebooks/08_editing.ipynb §2.
    """
    won = _grouped(pairs, lower_is_better)
    clauses = [
        f"{text} for {listed(won[o])}"
        for text, o in (
            (f"{name_a} is better beyond two standard errors", -1),
            (f"{name_b} is better beyond two standard errors", 1),
            ("the two are within two standard errors", 0),
        )
        if won[o]
    ]
    return f"On {quantity}, {name_a} against {name_b}: " + "; ".join(clauses) + "."


def tied_with_best(estimates: dict[str, Estimate], lower_is_better: bool = True) -> list[str]:
    """The names whose estimate is the best one's, or within two standard errors of it, best first.

    Derived in notebooks/04_sampling.ipynb §5.
    """
    if not estimates:
        raise ValueError("tied_with_best needs at least one estimate")
    sign = 1 if lower_is_better else -1
    best = min(estimates, key=lambda name: sign * estimates[name].value)
    tied = [name for name, e in estimates.items() if rank(e, estimates[best], lower_is_better) == 0]
    return sorted(tied, key=lambda name: sign * estimates[name].value)


def listed(items) -> str:
    """'a', 'a and b', 'a, b and c', or 'none'. Derived in notebooks/04_sampling.ipynb §5."""
    items = [str(i) for i in items]
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def by_budget(
    name_a: str, a: dict, name_b: str, b: dict, quantity: str, lower_is_better: bool = True, unit: str = "NFE"
) -> str:
    """One clause over matched budgets: where a is better, where b is, and where neither, beyond two SEs.

    ``a`` and ``b`` map the same budgets (NFE, steps...) to Estimates.
    Derived in notebooks/07_flow_matching.ipynb §3.
    """
    if set(a) != set(b):
        raise ValueError(f"compare the same budgets: {sorted(a)} against {sorted(b)}")
    won = _grouped({n: (a[n], b[n]) for n in a}, lower_is_better)
    if not won[-1] and not won[1]:
        return f"by {quantity}, neither {name_a} nor {name_b} is better at any {unit} ({listed(won[0])})"
    clauses = [
        f"{name} is better at {unit} {listed(won[side])}" for name, side in ((name_a, -1), (name_b, 1)) if won[side]
    ]
    if won[0]:
        clauses.append(f"neither at {unit} {listed(won[0])}")
    return f"by {quantity}, {listed(clauses)}"


def say(text: str) -> None:
    """Print a generated sentence in whole words, 100 characters a line (the output area holds 110).

    Derived in notebooks/07_flow_matching.ipynb §2.
    """
    print(textwrap.fill(text, 100, break_on_hyphens=False))
