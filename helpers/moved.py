"""Old import paths that keep working for one release: ``from helpers.training import q_sample`` still runs, and warns.

A module whose names moved sets ``__getattr__ = moved(__name__, {"q_sample": "helpers.schedules"})``;
Python calls it only for names the module no longer defines (PEP 562).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved(module: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves each moved name from its new home, with a DeprecationWarning naming it."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        home, _, new_name = homes[name].partition(":")
        warnings.warn(
            f"{module}.{name} moved to {home}.{new_name or name}; import it from there "
            "(the old path works until the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(home), new_name or name)

    return __getattr__
