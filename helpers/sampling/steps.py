"""One sampling step, built from the forward process run backwards: x0 from eps, the posterior, DDPM and DDIM.

Derived in notebooks/04_sampling.ipynb §1-3. The public steps check their arguments; a sampling
loop checks its timesteps once and calls the unchecked ``_ddpm_step`` and ``_ddim_step``, written
as numbered stages with the papers' equation numbers, as diffusers' ``DDIMScheduler.step`` is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Union

import numpy as np
import torch
from torch import Tensor

from helpers.schedules import Schedule, at, check_t, per_row, pick

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


def check_eta(eta: float) -> None:
    """Raise unless 0 <= eta <= 1, DDIM's share of DDPM's noise. Derived in notebooks/04_sampling.ipynb §3."""
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1] (0: deterministic DDIM, 1: DDPM's variance), got {eta}.")


def solve_x0(x_t: Tensor, eps: Tensor, sqrt_alpha_bar, sqrt_one_minus_alpha_bar) -> Tensor:
    """x0 = (x_t - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar): eq. 4 of Ho et al. 2020 solved for x0.

    The coefficients are numbers or tensors that broadcast over x_t; predict_x0 looks them up at t.
    Derived in notebooks/04_sampling.ipynb §1.
    """
    return (x_t - sqrt_one_minus_alpha_bar * eps) / sqrt_alpha_bar  # (B, ...)


def solve_eps(x_t: Tensor, x0: Tensor, sqrt_alpha_bar, sqrt_one_minus_alpha_bar) -> Tensor:
    """eps = (x_t - sqrt(alpha_bar) x0) / sqrt(1 - alpha_bar): eq. 4 of Ho et al. 2020 solved for eps.

    The coefficients are numbers or tensors that broadcast over x_t; eps_from_x0 looks them up at t,
    and Module 06's one-dimensional toy (helpers.sd.toy) knows its alpha_bar.
    Derived in notebooks/03_training_objective.ipynb §5.
    """
    return (x_t - sqrt_alpha_bar * x0) / sqrt_one_minus_alpha_bar  # (B, ...)


def predict_x0(x_t: Tensor, t: Timestep, eps: Tensor, schedule: Schedule) -> Tensor:
    """x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t): eq. 4 of Ho et al. 2020 solved for x0.

    Derived in notebooks/04_sampling.ipynb §1.
    """
    check_eps(eps, x_t)
    return solve_x0(x_t, eps, at(schedule.sqrt_alpha_bar, t, x_t), at(schedule.sqrt_one_minus_alpha_bar, t, x_t))


def _predict_x0(x_t: Tensor, t, eps: Tensor, schedule: Schedule) -> Tensor:
    """predict_x0 for a t already checked (a loop's timesteps, checked once)."""
    return solve_x0(x_t, eps, pick(schedule.sqrt_alpha_bar, t, x_t), pick(schedule.sqrt_one_minus_alpha_bar, t, x_t))


def eps_from_x0(x_t: Tensor, t: Timestep, x0: Tensor, schedule: Schedule) -> Tensor:
    """eps = (x_t - sqrt(alpha_bar_t) x0) / sqrt(1 - alpha_bar_t): eq. 4 of Ho et al. 2020 solved for eps.

    The conversion at t (x0-prediction, clipping, Stable Diffusion's x0 preview); the formula is solve_eps.
    Derived in notebooks/03_training_objective.ipynb §5.
    """
    if x0.shape != x_t.shape:
        raise ValueError(f"x0 has shape {tuple(x0.shape)} but x_t has shape {tuple(x_t.shape)}.")
    return solve_eps(x_t, x0, at(schedule.sqrt_alpha_bar, t, x_t), at(schedule.sqrt_one_minus_alpha_bar, t, x_t))


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


def _check_step(t: Timestep, t_prev: Timestep, x_t: Tensor, T: int) -> tuple[np.ndarray, np.ndarray]:
    """t and t_prev as int64 arrays of shape () or (B,), after checking 0 <= t_prev < t <= T."""
    t_arr, t_prev_arr = _check_pair(t, x_t, 1, T, "t"), _check_pair(t_prev, x_t, 0, T - 1, "t_prev")
    if np.any(t_prev_arr >= t_arr):
        raise ValueError(
            f"t_prev must be smaller than t (sampling goes from noise towards t = 0); "
            f"got t={t_arr.tolist()} and t_prev={t_prev_arr.tolist()}."
        )
    return t_arr, t_prev_arr


def posterior_mean_variance(
    x0: Tensor, x_t: Tensor, t: Timestep, t_prev: Timestep, schedule: Schedule
) -> tuple[Tensor, Tensor]:
    """Mean and variance of q(x_{t_prev} | x_t, x0): Ho et al. 2020, eqs. 6-7, alpha_t = alpha_bar_t / alpha_bar_prev.

    Derived in notebooks/04_sampling.ipynb §2.
    """
    if x0.shape != x_t.shape:
        raise ValueError(f"x0 has shape {tuple(x0.shape)} but x_t has shape {tuple(x_t.shape)}.")
    t, t_prev = _check_step(t, t_prev, x_t, schedule.T)
    return _posterior(x0, x_t, schedule.alpha_bar[t], schedule.alpha_bar[t_prev])


def _posterior(x0: Tensor, x_t: Tensor, alpha_bar_t: np.ndarray, alpha_bar_prev: np.ndarray) -> tuple[Tensor, Tensor]:
    """posterior_mean_variance from alpha_bar_t and alpha_bar_prev (float64, () or (B,))."""
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
    t, t_prev = _check_step(t, t_prev, x_t, schedule.T)  # 0 <= t_prev < t <= T, before anything else
    check_eps(eps, x_t)
    _check_noise(noise, x_t, bool(np.any(t_prev > 0)), "ddpm_step")
    return _ddpm_step(x_t, t, t_prev, eps, schedule, noise, clip)


def _ddpm_step(x_t: Tensor, t, t_prev, eps: Tensor, schedule: Schedule, noise=None, clip: bool = True) -> Tensor:
    """ddpm_step for timesteps already checked (a sampling loop checks its list once)."""
    # 1. alpha_bar at t and t_prev (a jump over several steps has alpha_t = alpha_bar_t / alpha_bar_prev)
    alpha_bar_t, alpha_bar_prev = schedule.alpha_bar[t], schedule.alpha_bar[t_prev]
    # 2. compute the predicted original sample x0_hat from the predicted noise (eq. 15 of https://arxiv.org/abs/2006.11239)
    x0_hat = _predict_x0(x_t, t, eps, schedule)  # (B, ...)
    # 3. clip x0_hat to the data's range [-1, 1] (clip_denoised in Ho et al.'s code)
    if clip:
        x0_hat = clip_x0(x0_hat)
    # 4. compute the mean and variance of the posterior q(x_{t_prev} | x_t, x0_hat) (eqs. 6-7)
    mean, variance = _posterior(x0_hat, x_t, alpha_bar_t, alpha_bar_prev)
    # 5. add noise: x_{t_prev} = mean + sqrt(beta_tilde) z, with z = 0 at t_prev = 0 (Algorithm 2, line 4)
    return mean if noise is None else mean + variance.sqrt() * noise  # (B, ...)


def _ddim_sigma(alpha_bar_t: np.ndarray, alpha_bar_prev: np.ndarray, eta: float) -> np.ndarray:
    return eta * np.sqrt((1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t) * (1.0 - alpha_bar_t / alpha_bar_prev))


def ddim_sigma(t: Timestep, t_prev: Timestep, schedule: Schedule, eta: float, x_t: Tensor) -> Tensor:
    """sigma_t(eta) = eta sqrt((1 - alpha_bar_prev)/(1 - alpha_bar_t)) sqrt(1 - alpha_bar_t/alpha_bar_prev).

    Song et al. 2021, eq. 16.

    Derived in notebooks/04_sampling.ipynb §3.
    """
    t, t_prev = _check_step(t, t_prev, x_t, schedule.T)
    check_eta(eta)
    return _as_tensor(_ddim_sigma(schedule.alpha_bar[t], schedule.alpha_bar[t_prev], eta), x_t)  # (B, 1, ..., 1) or ()


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
    t, t_prev = _check_step(t, t_prev, x_t, schedule.T)  # 0 <= t_prev < t <= T, before anything else
    check_eps(eps, x_t)
    check_eta(eta)
    sigma = _ddim_sigma(schedule.alpha_bar[t], schedule.alpha_bar[t_prev], eta)
    _check_noise(noise, x_t, bool(np.any(sigma > 0)), f"ddim_step with eta={eta}")
    return _ddim_step(x_t, t, t_prev, eps, schedule, eta, noise, clip)


def _ddim_step(x_t: Tensor, t, t_prev, eps: Tensor, schedule: Schedule, eta=0.0, noise=None, clip=True) -> Tensor:
    """ddim_step for timesteps and eta already checked (a sampling loop checks them once)."""
    # 1. alpha_bar at t and t_prev (Song et al. write alpha_t for our alpha_bar_t)
    alpha_bar_t, alpha_bar_prev = schedule.alpha_bar[t], schedule.alpha_bar[t_prev]
    # 2. compute the predicted original sample x0_hat, the "predicted x0" of eq. 12 of https://arxiv.org/abs/2010.02502
    x0_hat = _predict_x0(x_t, t, eps, schedule)  # (B, ...)
    # 3. clip x0_hat to the data's range [-1, 1]
    if clip:
        x0_hat = clip_x0(x0_hat)
    # 4. compute the variance sigma_t(eta)^2 (eq. 16)
    sigma = _ddim_sigma(alpha_bar_t, alpha_bar_prev, eta)
    # 5. compute x_{t_prev} without its random noise: x0_hat scaled plus the "direction pointing to x_t" (eq. 12)
    x_prev = ddim_update(x0_hat, eps, alpha_bar_prev, sigma)  # (B, ...)
    # 6. add the random noise sigma_t z (eq. 12)
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
