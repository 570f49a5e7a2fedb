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
from functools import cached_property

import numpy as np

SCHEDULES = ("linear", "cosine")


def _check_T(T: int) -> None:
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T <= 0:
        raise ValueError(f"T must be a positive integer number of diffusion steps, got {T!r}; use e.g. T=1000.")


def linear_betas(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """Linear schedule of Ho et al. 2020: beta_1..beta_T rise evenly from 1e-4 to 0.02, shape (T,).

    Derived in notebooks/02_forward_process.ipynb §5.
    """
    _check_T(T)
    return np.linspace(beta_start, beta_end, T, dtype=np.float64)


def cosine_alpha_bar(t: np.ndarray | float, T: int, offset: float = 0.008) -> np.ndarray:
    """f(t)/f(0) with f(t) = cos^2(((t/T + offset)/(1 + offset)) * pi/2), Nichol & Dhariwal 2021, eq. 17.

    ``t`` may be fractional. The paper calls the offset s; the course keeps s for the guidance scale.

    Derived in notebooks/02_forward_process.ipynb §5.
    """
    f = lambda u: np.cos((np.asarray(u, dtype=np.float64) / T + offset) / (1 + offset) * math.pi / 2) ** 2
    return f(t) / f(0)


def cosine_betas(T: int = 1000, offset: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """Cosine schedule of Nichol & Dhariwal 2021: beta_t = 1 - abar(t)/abar(t-1), clipped at 0.999, shape (T,).

    Derived in notebooks/02_forward_process.ipynb §5.
    """
    _check_T(T)
    steps = np.arange(T, dtype=np.float64)
    betas = 1 - cosine_alpha_bar(steps + 1, T, offset) / cosine_alpha_bar(steps, T, offset)
    return np.minimum(betas, max_beta)


def make_betas(name: str, T: int = 1000) -> np.ndarray:
    """beta_1..beta_T of the schedule called ``name`` ("linear" or "cosine"), shape (T,).

    Derived in notebooks/02_forward_process.ipynb §5.
    """
    if name == "linear":
        return linear_betas(T)
    if name == "cosine":
        return cosine_betas(T)
    raise ValueError(f"unknown schedule {name!r}; choose one of {SCHEDULES}.")


@dataclass(frozen=True)
class Schedule:
    """A beta schedule and every quantity derived from it; each array has T + 1 entries, indexed by t.

    Derived in notebooks/02_forward_process.ipynb §3.
    """

    name: str
    T: int
    beta: np.ndarray  # (T + 1,), beta[0] = 0

    @classmethod
    def create(cls, name: str = "cosine", T: int = 1000) -> "Schedule":
        """Build the named schedule ("linear" or "cosine") with T steps."""
        return cls(name, T, np.concatenate([[0.0], make_betas(name, T)]))

    # Each array is computed once, on first use, and kept: a sampler reads them at every step.
    @cached_property
    def alpha(self) -> np.ndarray:
        return 1.0 - self.beta

    @cached_property
    def alpha_bar(self) -> np.ndarray:
        """alpha_bar[t] = alpha_1 * ... * alpha_t; alpha_bar[0] = 1."""
        return np.cumprod(self.alpha)

    @cached_property
    def sqrt_alpha_bar(self) -> np.ndarray:
        return np.sqrt(self.alpha_bar)

    @cached_property
    def sqrt_one_minus_alpha_bar(self) -> np.ndarray:
        return np.sqrt(1.0 - self.alpha_bar)

    @cached_property
    def snr(self) -> np.ndarray:
        """Signal-to-noise ratio alpha_bar / (1 - alpha_bar); infinite at t = 0."""
        with np.errstate(divide="ignore"):
            return self.alpha_bar / (1.0 - self.alpha_bar)

    @cached_property
    def log_snr(self) -> np.ndarray:
        """Natural log of the SNR, log(alpha_bar / (1 - alpha_bar)); +inf at t = 0."""
        with np.errstate(divide="ignore"):
            return np.log(self.alpha_bar) - np.log1p(-self.alpha_bar)

    def check_t(self, t, low: int = 0, name: str = "t") -> np.ndarray:
        """Return t as an int64 array, or raise if any t is outside [low, T] (see :func:`check_t`).

        Derived in notebooks/02_forward_process.ipynb §3.
        """
        return check_t(t, self.T, low, name)

    def q_sample(self, x0, t, eps):
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps (Ho et al. 2020, eq. 4); see :func:`q_sample`."""
        return q_sample(x0, t, eps, self)


def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def check_t(t, T: int, low: int = 0, name: str = "t") -> np.ndarray:
    """t (an int, array or LongTensor) as an int64 numpy array, or raise unless every t is an integer in [low, T].

    The one timestep validator of the course: schedules, models and samplers all call it.
    Derived in notebooks/02_forward_process.ipynb §3.
    """
    if (
        isinstance(t, bool)
        or getattr(getattr(t, "dtype", None), "is_floating_point", False) is True
        or str(getattr(t, "dtype", "")) == "torch.bool"
    ):
        raise TypeError(
            f"{name} must be an integer timestep, got {getattr(t, 'dtype', type(t).__name__)}; "
            "use an int, np.int64 values or a LongTensor."
        )
    t_arr = t.detach().cpu().numpy() if _is_torch(t) else np.asarray(t)
    if not np.issubdtype(t_arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer timestep (or an array of them), got dtype {t_arr.dtype}.")
    if t_arr.size and (t_arr.min() < low or t_arr.max() > T):
        raise ValueError(
            f"{name} must be in [{low}, {T}] for a schedule with T={T} steps (t = 0 is the clean image, t = T pure "
            f"noise); got values from {t_arr.min()} to {t_arr.max()}."
        )
    return t_arr.astype(np.int64)


def per_row(values, ndim: int):
    """Per-row values (B,) shaped (B, 1, ..., 1) to broadcast over an ``ndim``-dimensional batch; a scalar stays one.

    Works for numpy arrays and torch tensors alike. Derived in notebooks/02_forward_process.ipynb §2.
    """
    return values.reshape((-1,) + (1,) * (ndim - 1)) if values.ndim else values


def at(values: np.ndarray, t, like, low: int = 0, name: str = "t", what: str = "x_t"):
    """values[t] of a per-timestep array, shaped to broadcast over ``like``: (B, 1, ..., 1), or () for one t.

    ``like`` decides the type: a numpy array gives float64 numpy, a torch tensor gives a tensor
    of its dtype and device. The one home of "the schedule at t" (Ho et al.'s ``_extract``): check t, then pick.
    Derived in notebooks/02_forward_process.ipynb §2.
    """
    t_arr = check_t(t, len(values) - 1, low, name)
    ndim = len(like.shape)
    if t_arr.ndim > 1 or (t_arr.ndim == 1 and (ndim == 0 or t_arr.shape[0] != like.shape[0])):
        raise ValueError(
            f"{name} has shape {tuple(t_arr.shape)}; give one {name}, or one per batch row of {what} "
            f"({what} has shape {tuple(like.shape)})."
        )
    return pick(values, t_arr, like)


def pick(values: np.ndarray, t, like):
    """``at`` without its checks, for a t already checked (a sampling loop checks its timesteps once).

    Derived in notebooks/02_forward_process.ipynb §2.
    """
    picked = per_row(np.asarray(values, dtype=np.float64)[t], len(like.shape))
    if _is_torch(like):
        import torch

        return torch.as_tensor(picked, dtype=like.dtype, device=like.device)
    return picked


def q_sample(x0, t, eps, schedule: Schedule):
    """x_t from q(x_t | x0) in one shot: sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps (Ho et al. 2020, eq. 4).

    Works on numpy arrays and on torch tensors alike, with one t or one t per row of x0.
    Derived in notebooks/02_forward_process.ipynb §3.
    """
    if tuple(x0.shape) != tuple(eps.shape):
        raise ValueError(
            f"x0 has shape {tuple(x0.shape)} but eps has shape {tuple(eps.shape)}; "
            "draw eps with the same shape as x0 (np.random's shape=x0.shape, or torch.randn_like(x0))."
        )
    if not _is_torch(x0):
        x0, eps = np.asarray(x0), np.asarray(eps)
    a = at(schedule.sqrt_alpha_bar, t, x0, what="x0")  # (B, 1, ..., 1) or ()
    return a * x0 + at(schedule.sqrt_one_minus_alpha_bar, t, x0, what="x0") * eps  # (B, ...)


@dataclass(frozen=True)
class TorchSchedule:
    """A Schedule's arrays as float32 torch tensors, each of shape (T + 1,) and indexed by t.

    Derived in notebooks/03_training_objective.ipynb §2.
    """

    name: str
    T: int
    beta: "torch.Tensor"  # noqa: F821
    alpha: "torch.Tensor"  # noqa: F821
    alpha_bar: "torch.Tensor"  # noqa: F821
    sqrt_alpha_bar: "torch.Tensor"  # noqa: F821
    sqrt_one_minus_alpha_bar: "torch.Tensor"  # noqa: F821


def torch_schedule(schedule: Schedule, device="cpu") -> TorchSchedule:
    """The schedule's arrays (computed in float64 numpy) as float32 tensors on ``device``, to index by t in torch code.

    Derived in notebooks/03_training_objective.ipynb §1.
    """
    import torch

    as_t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)
    return TorchSchedule(
        schedule.name,
        schedule.T,
        as_t(schedule.beta),
        as_t(schedule.alpha),
        as_t(schedule.alpha_bar),
        as_t(schedule.sqrt_alpha_bar),
        as_t(schedule.sqrt_one_minus_alpha_bar),
    )
