"""Noise schedules and the closed-form forward process (numpy). Derived in notebooks/02_forward_process.ipynb.

Notation follows Ho et al. 2020: t runs from 0 (the clean data, x0) to T (pure noise).
``beta[t]`` is the noise variance added by step t, ``alpha = 1 - beta``, and
``alpha_bar[t] = alpha[1] * ... * alpha[t]`` is the share of signal variance left after
t steps. Every per-timestep array of a :class:`Schedule` has T + 1 entries, indexed by t,
with ``beta[0] = 0`` and ``alpha_bar[0] = 1``. diffusers counts its timesteps from 0 for
the first noising step, so our t is diffusers' timestep + 1. The closed form (eq. 4):

    x_t = sqrt(alpha_bar[t]) * x0 + sqrt(1 - alpha_bar[t]) * eps
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCHEDULES = ("linear", "cosine")


def _check_T(T: int) -> None:
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T <= 0:
        raise ValueError(f"T must be a positive integer number of diffusion steps, got {T!r}; use e.g. T=1000.")


def linear_betas(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """Linear schedule of Ho et al. 2020: beta_1..beta_T rise evenly from 1e-4 to 0.02, shape (T,)."""
    _check_T(T)
    return np.linspace(beta_start, beta_end, T, dtype=np.float64)


def cosine_alpha_bar(t: np.ndarray | float, T: int, s: float = 0.008) -> np.ndarray:
    """f(t)/f(0) with f(t) = cos^2(((t/T + s)/(1 + s)) * pi/2), Nichol & Dhariwal 2021, eq. 17; t may be fractional."""
    f = lambda u: np.cos((np.asarray(u, dtype=np.float64) / T + s) / (1 + s) * math.pi / 2) ** 2
    return f(t) / f(0)


def cosine_betas(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Cosine schedule of Nichol & Dhariwal 2021: beta_t = 1 - abar(t)/abar(t-1), clipped at 0.999, shape (T,)."""
    _check_T(T)
    steps = np.arange(T, dtype=np.float64)
    betas = 1 - cosine_alpha_bar(steps + 1, T, s) / cosine_alpha_bar(steps, T, s)
    return np.minimum(betas, max_beta)


def make_betas(name: str, T: int = 1000) -> np.ndarray:
    """beta_1..beta_T of the schedule called ``name`` ("linear" or "cosine"), shape (T,)."""
    if name == "linear":
        return linear_betas(T)
    if name == "cosine":
        return cosine_betas(T)
    raise ValueError(f"unknown schedule {name!r}; choose one of {SCHEDULES}.")


@dataclass(frozen=True)
class Schedule:
    """A beta schedule and every quantity derived from it; each array has T + 1 entries, indexed by t."""

    name: str
    T: int
    beta: np.ndarray  # (T + 1,), beta[0] = 0

    @classmethod
    def create(cls, name: str = "cosine", T: int = 1000) -> "Schedule":
        """Build the named schedule ("linear" or "cosine") with T steps."""
        return cls(name, T, np.concatenate([[0.0], make_betas(name, T)]))

    @property
    def alpha(self) -> np.ndarray:
        return 1.0 - self.beta

    @property
    def alpha_bar(self) -> np.ndarray:
        """alpha_bar[t] = alpha_1 * ... * alpha_t; alpha_bar[0] = 1."""
        return np.cumprod(self.alpha)

    @property
    def sqrt_alpha_bar(self) -> np.ndarray:
        return np.sqrt(self.alpha_bar)

    @property
    def sqrt_one_minus_alpha_bar(self) -> np.ndarray:
        return np.sqrt(1.0 - self.alpha_bar)

    @property
    def snr(self) -> np.ndarray:
        """Signal-to-noise ratio alpha_bar / (1 - alpha_bar); infinite at t = 0."""
        with np.errstate(divide="ignore"):
            return self.alpha_bar / (1.0 - self.alpha_bar)

    @property
    def log_snr(self) -> np.ndarray:
        """Natural log of the SNR, log(alpha_bar / (1 - alpha_bar)); +inf at t = 0."""
        with np.errstate(divide="ignore"):
            return np.log(self.alpha_bar) - np.log1p(-self.alpha_bar)

    def check_t(self, t) -> np.ndarray:
        """Return t as an integer array, or raise if any t is outside [0, T]."""
        t_arr = np.asarray(t)
        if not np.issubdtype(t_arr.dtype, np.integer):
            raise TypeError(f"t must be an integer timestep (or an array of them), got dtype {t_arr.dtype}.")
        if t_arr.size and (t_arr.min() < 0 or t_arr.max() > self.T):
            raise ValueError(
                f"t must be in [0, {self.T}] for a schedule with T={self.T} steps (t=0 is the clean image); "
                f"got values from {t_arr.min()} to {t_arr.max()}."
            )
        return t_arr.astype(np.int64)

    def q_sample(self, x0: np.ndarray, t, noise: np.ndarray) -> np.ndarray:
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps (Ho et al. 2020, eq. 4)."""
        return q_sample(x0, t, noise, self)


def q_sample(x0: np.ndarray, t, noise: np.ndarray, schedule: Schedule) -> np.ndarray:
    """Sample x_t from q(x_t | x0) in one shot: sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * noise."""
    x0, noise = np.asarray(x0), np.asarray(noise)
    if x0.shape != noise.shape:
        raise ValueError(f"x0 has shape {x0.shape} but noise has shape {noise.shape}; draw noise with np.random's shape=x0.shape.")
    t = schedule.check_t(t)
    if t.ndim > 1 or (t.ndim == 1 and (x0.ndim == 0 or t.shape[0] != x0.shape[0])):
        raise ValueError(f"t has shape {t.shape}; give one t, or one per batch row of x0 (x0 has shape {x0.shape}).")
    shape = t.shape + (1,) * (x0.ndim - t.ndim)  # broadcast a per-row t over the remaining axes
    a = schedule.sqrt_alpha_bar[t].reshape(shape)  # (B, 1, ..., 1)
    b = schedule.sqrt_one_minus_alpha_bar[t].reshape(shape)
    return a * x0 + b * noise
