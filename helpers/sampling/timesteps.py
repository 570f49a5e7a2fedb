"""Which timesteps a sampler visits: evenly spaced subsets of 1..T, checked, and paired as (t, t_prev) steps.

Derived in notebooks/04_sampling.ipynb §3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

SPACINGS = ("trailing", "leading")


def _check_num_steps(num_steps: int, T: int) -> None:
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or not 1 <= num_steps <= T:
        raise ValueError(f"num_steps must be an integer between 1 and T={T}, got {num_steps!r}.")


def make_timesteps(T: int, num_steps: int, spacing: str = "trailing", steps_offset: int = 0) -> list[int]:
    """N evenly spaced, strictly decreasing timesteps in [1, T]: diffusers' set_timesteps(N) + 1.

    Lin et al. 2024, Table 2.

    Derived in notebooks/04_sampling.ipynb §3.
    """
    _check_num_steps(num_steps, T)
    if steps_offset and spacing != "leading":
        raise ValueError(f"steps_offset only applies to spacing='leading', got steps_offset={steps_offset}.")
    if spacing == "trailing":  # starts at T: t_i = round(T - i * T / N), computed as diffusers does
        t = np.round(np.arange(T, 0, -T / num_steps))[:num_steps]
    elif spacing == "leading":  # DDIM's range(0, T, T // N), shifted to our t
        t = np.arange(num_steps)[::-1] * (T // num_steps) + 1 + steps_offset
    else:
        raise ValueError(f"unknown spacing {spacing!r}; choose one of {SPACINGS}.")
    return check_timestep_sequence(t.astype(np.int64).tolist(), T)


def check_timestep_sequence(timesteps: Sequence[int], T: int) -> list[int]:
    """Return a sampler's timesteps as a list of ints, or raise unless they are strictly decreasing integers in [1, T].

    Derived in notebooks/04_sampling.ipynb §3.
    """
    t = np.asarray(timesteps if not isinstance(timesteps, Tensor) else timesteps.cpu().numpy())
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"timesteps must be a non-empty 1D sequence of integers, got shape {t.shape}.")
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"timesteps must be integers, got dtype {t.dtype}.")
    if np.any(np.diff(t) >= 0):
        i = int(np.argmax(np.diff(t) >= 0))
        raise ValueError(
            f"timesteps must be strictly decreasing (from noise towards t = 0); "
            f"got {t[i]} followed by {t[i + 1]} at position {i}."
        )
    if t.max() > T or t.min() < 1:
        raise ValueError(
            f"timesteps must be in [1, {T}] (a step goes from t down to t_prev >= 0); "
            f"got values from {t.min()} to {t.max()}."
        )
    return [int(v) for v in t]


def timestep_pairs(timesteps: Sequence[int]) -> list[tuple[int, int]]:
    """(t, t_prev) for each step of a decreasing list of timesteps; the last step lands on t_prev = 0.

    Derived in notebooks/04_sampling.ipynb §2.
    """
    return list(zip(timesteps, [*timesteps[1:], 0]))
