"""One sampling step, built from the forward process run backwards: x0 from eps, the posterior, DDPM and DDIM.

Derived in notebooks/04_sampling.ipynb §1-3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Union

import numpy as np
import torch
from torch import Tensor

from helpers.schedules import Schedule, at, check_t, per_row

EpsFn = Callable[[Tensor, Tensor], Tensor]  # eps_fn(x_t (B, ...), t (B,) int64) -> eps (B, ...)
Timestep = Union[int, Tensor]  # one t for the whole batch, or a LongTensor of shape (B,)  # noqa: UP007


def _as_tensor(values: np.ndarray, x_t: Tensor) -> Tensor:
    """float64 values of shape () or (B,) as a tensor in x_t's dtype and device, shaped (B, 1, ..., 1)."""
    return torch.as_tensor(per_row(values, x_t.ndim), dtype=x_t.dtype, device=x_t.device)


def check_eps(eps: Tensor, x_t: Tensor) -> None:
    """Raise unless a network's output is a tensor of x_t's shape. Derived in notebooks/04_sampling.ipynb §1."""
    if not isinstance(eps, Tensor):
        raise TypeError(
            f"the model output eps must be a tensor, got {type(eps).__name__}; for a diffusers UNet "
            "pass eps_fn=lambda x_t, t: unet(x_t, t - 1).sample."
        )
    if eps.shape != x_t.shape:
        raise ValueError(
            f"the model output eps has shape {tuple(eps.shape)} but x_t has shape {tuple(x_t.shape)}; "
            "the network must predict noise of the same shape as its input."
        )


def predict_x0(x_t: Tensor, t: Timestep, eps: Tensor, schedule: Schedule) -> Tensor:
    """x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t): eq. 4 of Ho et al. 2020 solved for x0.

    Derived in notebooks/04_sampling.ipynb §1.
    """
    check_eps(eps, x_t)
    sqrt_alpha_bar = at(schedule.sqrt_alpha_bar, t, x_t)  # (B, 1, ..., 1)
    sqrt_one_minus_alpha_bar = at(schedule.sqrt_one_minus_alpha_bar, t, x_t)
    return (x_t - sqrt_one_minus_alpha_bar * eps) / sqrt_alpha_bar  # (B, ...)


def eps_from_x0(x_t: Tensor, t: Timestep, x0: Tensor, schedule: Schedule) -> Tensor:
    """eps = (x_t - sqrt(alpha_bar_t) x0) / sqrt(1 - alpha_bar_t): eq. 4 of Ho et al. 2020 solved for eps.

    The one home of this conversion (x0-prediction, clipping, Stable Diffusion's x0 preview).
    Derived in notebooks/03_training_objective.ipynb §5.
    """
    if x0.shape != x_t.shape:
        raise ValueError(f"x0 has shape {tuple(x0.shape)} but x_t has shape {tuple(x_t.shape)}.")
    return (x_t - at(schedule.sqrt_alpha_bar, t, x_t) * x0) / at(schedule.sqrt_one_minus_alpha_bar, t, x_t)


def clip_x0(x0_hat: Tensor, clip_range: float = 1.0) -> Tensor:
    """Clamp x0_hat to [-clip_range, clip_range], the range of the data (Ho et al. 2020's clip_denoised).

    Derived in notebooks/04_sampling.ipynb §1.
    """
    return x0_hat.clamp(-clip_range, clip_range)


def _check_pair(t: Timestep, x_t: Tensor, low: int, high: int, name: str) -> np.ndarray:
    """t as int64 of shape () or (B,), checked by schedules.check_t and against x_t's batch."""
    t_arr = check_t(t, high, low, name)
    if t_arr.ndim > 1 or (t_arr.ndim == 1 and (x_t.ndim == 0 or t_arr.shape[0] != x_t.shape[0])):
        raise ValueError(
            f"{name} has shape {tuple(t_arr.shape)}; give one {name}, or one per batch row of x_t "
            f"(x_t has shape {tuple(x_t.shape)})."
        )
    return t_arr


def _alpha_bars(schedule: Schedule, t: Timestep, t_prev: Timestep, x_t: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """alpha_bar_t and alpha_bar_{t_prev} as float64 arrays, after checking 0 <= t_prev < t <= T."""
    T = schedule.T
    t_arr, t_prev_arr = _check_pair(t, x_t, 1, T, "t"), _check_pair(t_prev, x_t, 0, T - 1, "t_prev")
    if np.any(t_prev_arr >= t_arr):
        raise ValueError(
            f"t_prev must be smaller than t (sampling goes from noise towards t = 0); "
            f"got t={t_arr.tolist()} and t_prev={t_prev_arr.tolist()}."
        )
    return schedule.alpha_bar[t_arr], schedule.alpha_bar[t_prev_arr]


def posterior_mean_variance(
    x0: Tensor, x_t: Tensor, t: Timestep, t_prev: Timestep, schedule: Schedule
) -> tuple[Tensor, Tensor]:
    """Mean and variance of q(x_{t_prev} | x_t, x0): Ho et al. 2020, eqs. 6-7, alpha_t = alpha_bar_t / alpha_bar_prev.

    Derived in notebooks/04_sampling.ipynb §2.
    """
    if x0.shape != x_t.shape:
        raise ValueError(f"x0 has shape {tuple(x0.shape)} but x_t has shape {tuple(x_t.shape)}.")
    alpha_bar_t, alpha_bar_prev = _alpha_bars(schedule, t, t_prev, x_t)
    alpha_t = alpha_bar_t / alpha_bar_prev  # the effective alpha of a jump over several steps
    beta_t = 1.0 - alpha_t
    coef_x0 = np.sqrt(alpha_bar_prev) * beta_t / (1.0 - alpha_bar_t)  # eq. 7, the factor of x0
    coef_x_t = np.sqrt(alpha_t) * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t)  # eq. 7, the factor of x_t
    variance = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t) * beta_t  # eq. 7, beta_tilde; 0 at t_prev = 0
    mean = _as_tensor(coef_x0, x_t) * x0 + _as_tensor(coef_x_t, x_t) * x_t  # (B, ...)
    return mean, _as_tensor(variance, x_t)  # (B, ...), (B, 1, ..., 1) or ()


def _check_noise(noise: Tensor | None, x_t: Tensor, needed: bool, who: str) -> None:
    if noise is None:
        if needed:
            raise ValueError(f"{who} adds fresh noise here (sigma > 0): pass noise=torch.randn_like(x_t).")
    elif noise.shape != x_t.shape:
        raise ValueError(f"noise has shape {tuple(noise.shape)} but x_t has shape {tuple(x_t.shape)}.")


def ddpm_step(
    x_t: Tensor,
    t: Timestep,
    t_prev: Timestep,
    eps: Tensor,
    schedule: Schedule,
    noise: Tensor | None = None,
    clip: bool = True,
) -> Tensor:
    """x_{t_prev} ~ N(mu(x_t, x0_hat), beta_tilde I), one ancestral step (Algorithm 2 of Ho et al. 2020, eqs. 6-7).

    Derived in notebooks/04_sampling.ipynb §2.
    """
    _alpha_bars(schedule, t, t_prev, x_t)  # check 0 <= t_prev < t <= T before anything else
    x0_hat = predict_x0(x_t, t, eps, schedule)  # (B, ...)
    if clip:
        x0_hat = clip_x0(x0_hat)
    mean, variance = posterior_mean_variance(x0_hat, x_t, t, t_prev, schedule)
    _check_noise(noise, x_t, bool(np.any(_check_pair(t_prev, x_t, 0, schedule.T, "t_prev") > 0)), "ddpm_step")
    if noise is None:  # t_prev = 0: Algorithm 2's z = 0
        return mean
    return mean + variance.sqrt() * noise  # (B, ...)


def _ddim_sigma(alpha_bar_t: np.ndarray, alpha_bar_prev: np.ndarray, eta: float) -> np.ndarray:
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1] (0: deterministic DDIM, 1: DDPM's variance), got {eta}.")
    return eta * np.sqrt((1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t) * (1.0 - alpha_bar_t / alpha_bar_prev))


def ddim_sigma(t: Timestep, t_prev: Timestep, schedule: Schedule, eta: float, x_t: Tensor) -> Tensor:
    """sigma_t(eta) = eta sqrt((1 - alpha_bar_prev)/(1 - alpha_bar_t)) sqrt(1 - alpha_bar_t/alpha_bar_prev).

    Song et al. 2021, eq. 16.

    Derived in notebooks/04_sampling.ipynb §3.
    """
    return _as_tensor(_ddim_sigma(*_alpha_bars(schedule, t, t_prev, x_t), eta), x_t)  # (B, 1, ..., 1) or ()


def ddim_update(x0_hat: Tensor, eps: Tensor, alpha_bar_to, sigma=0.0) -> Tensor:
    """sqrt(alpha_bar_to) x0_hat + sqrt(1 - alpha_bar_to - sigma^2) eps: Song et al. 2021, eq. 12, before its noise.

    Towards a smaller t it is the DDIM step; towards a larger t, with sigma = 0, DDIM inversion (Module 08).
    Derived in notebooks/04_sampling.ipynb §3.
    """
    alpha_bar_to = np.asarray(alpha_bar_to, dtype=np.float64)
    coef_eps = np.sqrt(np.maximum(1.0 - alpha_bar_to - np.square(sigma), 0.0))  # "direction pointing to x_t"
    return _as_tensor(np.sqrt(alpha_bar_to), x0_hat) * x0_hat + _as_tensor(coef_eps, x0_hat) * eps  # float64 coefs


def ddim_step(
    x_t: Tensor,
    t: Timestep,
    t_prev: Timestep,
    eps: Tensor,
    schedule: Schedule,
    eta: float = 0.0,
    noise: Tensor | None = None,
    clip: bool = True,
) -> Tensor:
    """x_{t_prev} = sqrt(alpha_bar_prev) x0_hat + sqrt(1 - alpha_bar_prev - sigma^2) eps + sigma z.

    Song et al. 2021, eq. 12.

    Derived in notebooks/04_sampling.ipynb §3.
    """
    alpha_bar_t, alpha_bar_prev = _alpha_bars(schedule, t, t_prev, x_t)
    x0_hat = predict_x0(x_t, t, eps, schedule)  # (B, ...)
    if clip:
        x0_hat = clip_x0(x0_hat)
    sigma = _ddim_sigma(alpha_bar_t, alpha_bar_prev, eta)
    x_prev = ddim_update(x0_hat, eps, alpha_bar_prev, sigma)  # (B, ...)
    _check_noise(noise, x_t, bool(np.any(sigma > 0)), f"ddim_step with eta={eta}")
    return x_prev if noise is None else x_prev + _as_tensor(sigma, x_t) * noise


def clip_consistent_eps(x_t: Tensor, t: Timestep, eps: Tensor, schedule: Schedule, clip_range: float = 1.0) -> Tensor:
    """eps re-derived from the clipped x0_hat, as GLIDE's sampler and diffusers' use_clipped_model_output=True do.

    Derived in notebooks/05_guidance.ipynb §3.
    """
    return eps_from_x0(x_t, t, clip_x0(predict_x0(x_t, t, eps, schedule), clip_range), schedule)


def clip_consistent_eps_fn(eps_fn: EpsFn, schedule: Schedule, clip_range: float = 1.0) -> EpsFn:
    """Wrap eps_fn so that every eps it returns agrees with the clipped x0_hat (see clip_consistent_eps).

    Derived in notebooks/05_guidance.ipynb §2.
    """
    return lambda x_t, t: clip_consistent_eps(x_t, t, eps_fn(x_t, t), schedule, clip_range)
