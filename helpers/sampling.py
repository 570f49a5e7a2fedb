"""The sampling loop: DDPM ancestral sampling and DDIM over any decreasing subset of timesteps.

Derived in notebooks/04_sampling.ipynb. Time follows Ho et al. 2020: t = 0 is the clean x0,
t = T is pure noise, and a :class:`~helpers.schedules.Schedule` array is indexed by t
(diffusers' timestep is our t - 1).

A sampler walks a strictly decreasing list of timesteps t_1 > t_2 > ... > t_N >= 1 and
steps from each t to the next one, t_prev, with t_prev = 0 after the last. The network
enters only through ``eps_fn(x_t, t) -> eps``, with x_t of shape (B, ...) and t a
LongTensor of shape (B,) in our convention, so any callable works:

    ddim_sample(model, shape, schedule)                                # unconditional network
    ddim_sample(lambda x_t, t: model(x_t, t, y), shape, schedule)      # class-conditional
    ddim_sample(lambda x_t, t: unet(x_t, t - 1).sample, ...)           # a diffusers UNet
    ddim_sample(guided_eps_fn, shape, schedule)                        # classifier-free guidance (Module 05)

Samplers call ``eps_fn`` under ``torch.no_grad()``; put a network in ``.eval()`` mode first.

Timestep spacing (``make_timesteps``; both are diffusers' ``set_timesteps(N)`` + 1):
- "trailing", the default (Lin et al. 2024, "Common diffusion noise schedules and sample
  steps are flawed", Table 2): t_i = round(T - i T / N), so N = 5 of T = 1000 visits
  1000, 800, 600, 400, 200. The first step starts at t = T, where x_T ~ N(0, I) really is
  the distribution we draw from.
- "leading", diffusers' default and DDIM's code: t_i = (N - 1 - i) (T // N) + 1 + steps_offset,
  so N = 5 visits 801, 601, 401, 201, 1: the model is told that pure noise still holds
  signal (alpha_bar_801 = 0.09 on the cosine schedule), worse for small N.
Both visit every t from T down to 1 when N = T.
"""
from __future__ import annotations

from typing import Callable, Sequence, Union

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from helpers.schedules import Schedule

EpsFn = Callable[[Tensor, Tensor], Tensor]  # eps_fn(x_t (B, ...), t (B,) int64) -> eps (B, ...)
Timestep = Union[int, Tensor]  # one t for the whole batch, or a LongTensor of shape (B,)
Trajectory = list[tuple[int, Tensor]]  # [(t, x_t), ...] from x_T down to (0, x0)
SPACINGS = ("trailing", "leading")


# --- Timesteps and the schedule as tensors -------------------------------------------------

def _check_t(t: Timestep, x_t: Tensor, low: int, high: int, name: str = "t") -> np.ndarray:
    """t as an int64 array of shape () or (B,), or raise if it is not an integer in [low, high]."""
    if isinstance(t, bool) or (isinstance(t, Tensor) and t.dtype == torch.bool):
        raise TypeError(f"{name} must be an integer timestep, got a bool.")
    t_arr = t.detach().cpu().numpy() if isinstance(t, Tensor) else np.asarray(t)
    if not np.issubdtype(t_arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer timestep (int or LongTensor), got dtype {t_arr.dtype}.")
    if t_arr.ndim > 1 or (t_arr.ndim == 1 and (x_t.ndim == 0 or t_arr.shape[0] != x_t.shape[0])):
        raise ValueError(f"{name} has shape {tuple(t_arr.shape)}; give one {name}, or one per batch row of x_t "
                         f"(x_t has shape {tuple(x_t.shape)}).")
    if t_arr.size and (t_arr.min() < low or t_arr.max() > high):
        raise ValueError(f"{name} must be in [{low}, {high}] (t = 0 is the clean image, t = T pure noise); "
                         f"got values from {t_arr.min()} to {t_arr.max()}.")
    return t_arr.astype(np.int64)


def _as_tensor(values: np.ndarray, x_t: Tensor) -> Tensor:
    """float64 values of shape () or (B,) as a tensor in x_t's dtype and device, shaped (B, 1, ..., 1)."""
    shape = values.shape + (1,) * (x_t.ndim - 1) if values.ndim else ()  # a per-row value broadcasts over the other axes
    return torch.as_tensor(values.reshape(shape), dtype=x_t.dtype, device=x_t.device)


def extract(values: np.ndarray, t: Timestep, x_t: Tensor) -> Tensor:
    """values[t] of a Schedule array as a tensor in x_t's dtype and device, (B, 1, ..., 1) or () (Ho et al.'s _extract)."""
    T = len(values) - 1
    return _as_tensor(np.asarray(values, dtype=np.float64)[_check_t(t, x_t, 0, T)], x_t)


def _check_eps(eps: Tensor, x_t: Tensor) -> None:
    if not isinstance(eps, Tensor):
        raise TypeError(f"the model output eps must be a tensor, got {type(eps).__name__}; for a diffusers UNet "
                        "pass eps_fn=lambda x_t, t: unet(x_t, t - 1).sample.")
    if eps.shape != x_t.shape:
        raise ValueError(f"the model output eps has shape {tuple(eps.shape)} but x_t has shape {tuple(x_t.shape)}; "
                         "the network must predict noise of the same shape as its input.")


def _check_num_steps(num_steps: int, T: int) -> None:
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or not 1 <= num_steps <= T:
        raise ValueError(f"num_steps must be an integer between 1 and T={T}, got {num_steps!r}.")


def make_timesteps(T: int, num_steps: int, spacing: str = "trailing", steps_offset: int = 0) -> list[int]:
    """N evenly spaced, strictly decreasing timesteps in [1, T]; diffusers' set_timesteps(N) + 1 (Lin et al. 2024, Table 2)."""
    _check_num_steps(num_steps, T)
    if steps_offset and spacing != "leading":
        raise ValueError(f"steps_offset only applies to spacing='leading', got steps_offset={steps_offset}.")
    if spacing == "trailing":  # starts at T: t_i = round(T - i * T / N), computed as diffusers does
        t = np.round(np.arange(T, 0, -T / num_steps))[:num_steps]
    elif spacing == "leading":  # DDIM's range(0, T, T // N), shifted to our t
        t = np.arange(num_steps)[::-1] * (T // num_steps) + 1 + steps_offset
    else:
        raise ValueError(f"unknown spacing {spacing!r}; choose one of {SPACINGS}.")
    return check_timesteps(t.astype(np.int64).tolist(), T)


def check_timesteps(timesteps: Sequence[int], T: int) -> list[int]:
    """Return timesteps as a list of ints, or raise unless they are strictly decreasing integers in [1, T]."""
    t = np.asarray(timesteps if not isinstance(timesteps, Tensor) else timesteps.cpu().numpy())
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"timesteps must be a non-empty 1D sequence of integers, got shape {t.shape}.")
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"timesteps must be integers, got dtype {t.dtype}.")
    if np.any(np.diff(t) >= 0):
        i = int(np.argmax(np.diff(t) >= 0))
        raise ValueError(f"timesteps must be strictly decreasing (from noise towards t = 0); "
                         f"got {t[i]} followed by {t[i + 1]} at position {i}.")
    if t.max() > T or t.min() < 1:
        raise ValueError(f"timesteps must be in [1, {T}] (a step goes from t down to t_prev >= 0); "
                         f"got values from {t.min()} to {t.max()}.")
    return [int(v) for v in t]


def timestep_pairs(timesteps: Sequence[int]) -> list[tuple[int, int]]:
    """(t, t_prev) for each step of a decreasing list of timesteps; the last step lands on t_prev = 0."""
    return list(zip(timesteps, [*timesteps[1:], 0]))


# --- The building blocks of one step -------------------------------------------------------

def predict_x0(x_t: Tensor, t: Timestep, eps: Tensor, schedule: Schedule) -> Tensor:
    """x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t), eq. 4 of Ho et al. 2020 solved for x0 (DDIM eq. 12)."""
    _check_eps(eps, x_t)
    sqrt_alpha_bar = extract(schedule.sqrt_alpha_bar, t, x_t)  # (B, 1, ..., 1)
    sqrt_one_minus_alpha_bar = extract(schedule.sqrt_one_minus_alpha_bar, t, x_t)
    return (x_t - sqrt_one_minus_alpha_bar * eps) / sqrt_alpha_bar  # (B, ...)


def clip_x0(x0_hat: Tensor, clip_range: float = 1.0) -> Tensor:
    """Clamp x0_hat to [-clip_range, clip_range], the range of the data (Ho et al. 2020's clip_denoised)."""
    return x0_hat.clamp(-clip_range, clip_range)


def _alpha_bars(schedule: Schedule, t: Timestep, t_prev: Timestep, x_t: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """alpha_bar_t and alpha_bar_{t_prev} as float64 arrays, after checking 0 <= t_prev < t <= T."""
    T = schedule.T
    t_arr = _check_t(t, x_t, 1, T, "t")
    t_prev_arr = _check_t(t_prev, x_t, 0, T - 1, "t_prev")
    if np.any(t_prev_arr >= t_arr):
        raise ValueError(f"t_prev must be smaller than t (sampling goes from noise towards t = 0); "
                         f"got t={t_arr.tolist()} and t_prev={t_prev_arr.tolist()}.")
    return schedule.alpha_bar[t_arr], schedule.alpha_bar[t_prev_arr]


def posterior_mean_variance(x0: Tensor, x_t: Tensor, t: Timestep, t_prev: Timestep,
                            schedule: Schedule) -> tuple[Tensor, Tensor]:
    """Mean and variance of q(x_{t_prev} | x_t, x0), Ho et al. 2020 eqs. 6-7 with alpha_t = alpha_bar_t / alpha_bar_{t_prev}."""
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


def ddpm_step(x_t: Tensor, t: Timestep, t_prev: Timestep, eps: Tensor, schedule: Schedule,
              noise: Tensor | None = None, clip: bool = True) -> Tensor:
    """x_{t_prev} ~ N(mu(x_t, x0_hat), beta_tilde I), one ancestral step (Algorithm 2 of Ho et al. 2020, eqs. 6-7)."""
    _alpha_bars(schedule, t, t_prev, x_t)  # check 0 <= t_prev < t <= T before anything else
    x0_hat = predict_x0(x_t, t, eps, schedule)  # (B, ...)
    if clip:
        x0_hat = clip_x0(x0_hat)
    mean, variance = posterior_mean_variance(x0_hat, x_t, t, t_prev, schedule)
    _check_noise(noise, x_t, bool(np.any(_check_t(t_prev, x_t, 0, schedule.T) > 0)), "ddpm_step")
    if noise is None:  # t_prev = 0: Algorithm 2's z = 0
        return mean
    return mean + variance.sqrt() * noise  # (B, ...)


def _ddim_sigma(alpha_bar_t: np.ndarray, alpha_bar_prev: np.ndarray, eta: float) -> np.ndarray:
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1] (0: deterministic DDIM, 1: DDPM's variance), got {eta}.")
    return eta * np.sqrt((1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t) * (1.0 - alpha_bar_t / alpha_bar_prev))


def ddim_sigma(t: Timestep, t_prev: Timestep, schedule: Schedule, eta: float, x_t: Tensor) -> Tensor:
    """sigma_t(eta) = eta sqrt((1 - alpha_bar_prev)/(1 - alpha_bar_t)) sqrt(1 - alpha_bar_t/alpha_bar_prev), Song et al. 2021 eq. 16."""
    return _as_tensor(_ddim_sigma(*_alpha_bars(schedule, t, t_prev, x_t), eta), x_t)  # (B, 1, ..., 1) or ()


def ddim_step(x_t: Tensor, t: Timestep, t_prev: Timestep, eps: Tensor, schedule: Schedule, eta: float = 0.0,
              noise: Tensor | None = None, clip: bool = True) -> Tensor:
    """x_{t_prev} = sqrt(alpha_bar_prev) x0_hat + sqrt(1 - alpha_bar_prev - sigma^2) eps + sigma z, Song et al. 2021 eq. 12."""
    alpha_bar_t, alpha_bar_prev = _alpha_bars(schedule, t, t_prev, x_t)
    x0_hat = predict_x0(x_t, t, eps, schedule)  # (B, ...)
    if clip:
        x0_hat = clip_x0(x0_hat)
    sigma = _ddim_sigma(alpha_bar_t, alpha_bar_prev, eta)
    coef_eps = np.sqrt(np.maximum(1.0 - alpha_bar_prev - sigma ** 2, 0.0))  # "direction pointing to x_t"; float64 avoids cancellation
    x_prev = _as_tensor(np.sqrt(alpha_bar_prev), x_t) * x0_hat + _as_tensor(coef_eps, x_t) * eps  # (B, ...)
    _check_noise(noise, x_t, bool(np.any(sigma > 0)), f"ddim_step with eta={eta}")
    return x_prev if noise is None else x_prev + _as_tensor(sigma, x_t) * noise


# --- Full samplers -------------------------------------------------------------------------

def _randn(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device,
           dtype: torch.dtype) -> Tensor:
    """Standard normal noise drawn on the generator's device (a CPU generator also serves a GPU run)."""
    rand_device = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=rand_device, dtype=dtype).to(device)


def _sample(eps_fn: EpsFn, step: Callable[..., Tensor], noisy: Callable[[int], bool], shape: tuple[int, ...],
            schedule: Schedule, num_steps: int | None, timesteps: Sequence[int] | None, spacing: str,
            generator: torch.Generator | None, progress: bool, return_trajectory: bool, x_T: Tensor | None,
            device: torch.device | str | None, dtype: torch.dtype, desc: str) -> Tensor | tuple[Tensor, Trajectory]:
    """The loop shared by both samplers: x_T ~ N(0, I), then one ``step`` per (t, t_prev)."""
    if timesteps is None:  # an explicit list of timesteps overrides num_steps and spacing
        timesteps = make_timesteps(schedule.T, schedule.T if num_steps is None else num_steps, spacing)
    timesteps = check_timesteps(timesteps, schedule.T)
    shape = tuple(shape)
    device = torch.device(device) if device is not None else (x_T.device if x_T is not None else torch.device("cpu"))
    if x_T is None:
        x_t = _randn(shape, generator, device, dtype)  # (B, ...), x_T ~ N(0, I)
    elif tuple(x_T.shape) != shape:
        raise ValueError(f"x_T has shape {tuple(x_T.shape)} but shape={shape}.")
    else:
        x_t = x_T.to(device=device, dtype=dtype)
    trajectory: Trajectory = [(timesteps[0], x_t.detach().cpu().clone())]
    with torch.no_grad():
        for t, t_prev in tqdm(timestep_pairs(timesteps), desc=desc, disable=not progress):
            t_batch = torch.full((shape[0],), t, dtype=torch.long, device=device)  # (B,)
            eps = eps_fn(x_t, t_batch)  # (B, ...)
            _check_eps(eps, x_t)
            noise = _randn(shape, generator, device, dtype) if noisy(t_prev) else None
            x_t = step(x_t, t, t_prev, eps.to(dtype), noise)
            if return_trajectory:
                trajectory.append((t_prev, x_t.detach().cpu().clone()))
    return (x_t, trajectory) if return_trajectory else x_t


def ddpm_sample(eps_fn: EpsFn, shape: tuple[int, ...], schedule: Schedule, num_steps: int | None = None, *,
                timesteps: Sequence[int] | None = None, spacing: str = "trailing", clip: bool = True,
                generator: torch.Generator | None = None, progress: bool = True, return_trajectory: bool = False,
                x_T: Tensor | None = None, device: torch.device | str | None = None,
                dtype: torch.dtype = torch.float32) -> Tensor | tuple[Tensor, Trajectory]:
    """Ancestral sampling, Algorithm 2 of Ho et al. 2020, over num_steps (default T) or the given timesteps; returns x0 (B, ...)."""
    step = lambda x_t, t, t_prev, eps, noise: ddpm_step(x_t, t, t_prev, eps, schedule, noise, clip)
    return _sample(eps_fn, step, lambda t_prev: t_prev > 0, shape, schedule, num_steps, timesteps, spacing,
                   generator, progress, return_trajectory, x_T, device, dtype, "DDPM")


def ddim_sample(eps_fn: EpsFn, shape: tuple[int, ...], schedule: Schedule, num_steps: int = 50, *,
                eta: float = 0.0, timesteps: Sequence[int] | None = None, spacing: str = "trailing",
                clip: bool = True, generator: torch.Generator | None = None, progress: bool = True,
                return_trajectory: bool = False, x_T: Tensor | None = None,
                device: torch.device | str | None = None,
                dtype: torch.dtype = torch.float32) -> Tensor | tuple[Tensor, Trajectory]:
    """DDIM sampling (Song et al. 2021, eq. 12) over num_steps or the given timesteps; eta = 0 is deterministic; returns x0 (B, ...)."""
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1] (0: deterministic DDIM, 1: DDPM's variance), got {eta}.")
    step = lambda x_t, t, t_prev, eps, noise: ddim_step(x_t, t, t_prev, eps, schedule, eta, noise, clip)
    return _sample(eps_fn, step, lambda t_prev: eta > 0 and t_prev > 0, shape, schedule, num_steps, timesteps,
                   spacing, generator, progress, return_trajectory, x_T, device, dtype, f"DDIM (eta={eta})")
