"""Where the course lives on disk: the repository root, when helpers is installed from a checkout."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository (helpers/ sits at its top)


def in_checkout() -> bool:
    """True when helpers runs from a clone of the repository (not from a wheel in site-packages)."""
    return (ROOT / "pyproject.toml").is_file() and (ROOT / "helpers").is_dir()


def cache_dirs() -> list[Path]:
    """Where built caches (the tiny Stable Diffusion pipeline) may be found, in order of preference.

    $COURSE_CACHE when set; the repository's .cache/ in a checkout (or wherever it is present,
    as inside the grading sandbox, which binds it read-only); the user's cache folder.
    """
    dirs = [Path(os.environ["COURSE_CACHE"])] if os.environ.get("COURSE_CACHE") else []
    if in_checkout() or (ROOT / ".cache").is_dir():
        dirs.append(ROOT / ".cache")
    dirs.append(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "diffusion-course")
    return dirs


def writable_cache_dir() -> Path:
    """The first of :func:`cache_dirs` that this process can write to (created if need be)."""
    for folder in cache_dirs():
        probe = folder if folder.exists() else folder.parent
        if probe.exists() and os.access(probe, os.W_OK):
            return folder
    return cache_dirs()[-1]
