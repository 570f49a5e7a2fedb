"""Where torch runs: pick the device and set the CPU thread count deliberately."""

from __future__ import annotations

import os

import torch


def cpu_threads() -> int:
    """Threads for torch: OMP_NUM_THREADS when set (the grader sets 1), else the cores this process may use."""
    fixed = os.environ.get("OMP_NUM_THREADS", "")
    if fixed.isdigit() and int(fixed) > 0:
        return int(fixed)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def setup_torch(seed: int | None = 0) -> torch.device:
    """Use one torch thread per available core (more oversubscribes small CPUs), seed torch, return the device."""
    torch.set_num_threads(cpu_threads())
    if seed is not None:
        torch.manual_seed(seed)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
