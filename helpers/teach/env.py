"""What the doctor knows about this environment: installed and tested versions, Colab, a kernel, the Hub setting.

Shared by the doctor's checks (helpers.teach.doctor and helpers.teach.sd_check).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.paths import ROOT

# A marked copy of helpers.sd.config.SD15_MODEL_ID (tests/test_doctor.py checks they agree): the doctor must
# run where torch is missing, and helpers.sd imports torch.
SD15_MODEL_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"
HUB_TIMEOUT_S = 5.0
# What the lessons import; the course cannot run without these (pyproject.toml's dependencies).
REQUIRED = [
    "numpy",
    "matplotlib",
    "ipywidgets",
    "tqdm",
    "scikit-learn",
    "torch",
    "safetensors",
    "diffusers",
    "transformers",
]
SHOWN = ["torch", "diffusers", "nbgrader", "ipywidgets"]  # one line each; the rest share one line
OTHERS = ["numpy", "matplotlib", "tqdm", "scikit-learn", "safetensors", "transformers", "jupyterlab"]
PIP_FIX = "pip install -r requirements.txt (from the repository root)"
COLAB_FIX = "run the notebook's first code cell (the setup cell), then Runtime > Restart session"
GPU_FIX = (
    "Modules 06 and 08 will use the shapes model trained on a CPU in Module 09 (32x32 scenes of shapes); "
    "on Colab choose Runtime > Change runtime type > GPU "
    "(Modules 01-05 run on the CPU)"
)


@dataclass
class Check:
    """One line of the report: ``status`` is "ok", "note" (works, with a caveat) or "error" (cannot run)."""

    name: str
    status: str
    detail: str
    fix: str = ""


def installed_version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, or None when it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _public(version: str) -> tuple[int, ...]:
    """The numeric release of a version string: "2.13.0+cpu" -> (2, 13, 0)."""
    release = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(part) for part in release.group(0).split(".")) if release else ()


def tested_versions(root: Path = ROOT) -> dict[str, str]:
    """The pinned versions the course is tested with: requirements.txt, else the package's colab extra."""
    requirements = root / "requirements.txt"
    if requirements.is_file():
        lines = requirements.read_text(encoding="utf-8").splitlines()
    else:  # installed from git (Colab): only the package's metadata is there
        lines = [r for r in (_requires() or []) if 'extra == "colab"' in r]
    pins = (re.match(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*==\s*([\w.+]+)", line) for line in lines)
    return {_norm(m.group(1)): m.group(3) for m in pins if m}


def minimum_versions() -> dict[str, str]:
    """The lowest versions the course package accepts (its ``>=`` requirements)."""
    bounds = (re.match(r"([A-Za-z0-9_.\-]+)\s*>=\s*([\w.]+)\s*$", r) for r in (_requires() or []))
    return {_norm(m.group(1)): m.group(2) for m in bounds if m}


def _requires() -> list[str] | None:
    try:
        return importlib.metadata.requires("diffusion-course")
    except importlib.metadata.PackageNotFoundError:
        return None


def _norm(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def on_colab() -> bool:
    """True inside Google Colab, in a notebook cell or in a ``!python`` shell command."""
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):
        return False


def in_kernel() -> bool:
    """True when called from a Jupyter kernel (a notebook cell), False from a terminal."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    return getattr(shell, "kernel", None) is not None


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE asks huggingface_hub never to go online."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}
