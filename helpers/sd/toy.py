"""A one-dimensional world with a perfect noise predictor: what steps and guidance do with diffusers' schedulers.

Derived in notebooks/06_stable_diffusion.ipynb §4.
"""

from __future__ import annotations

import torch

from helpers.guidance import cfg_eps
from helpers.sampling.steps import solve_eps


def toy_eps(x_t: torch.Tensor, alpha_bar: float, means: tuple[float, ...], std: float) -> torch.Tensor:
    """The exact E[eps | x_t] when x0 is an equal mix of N(m, std^2), m in ``means``: the best any network can do.

    Each component gives x_t ~ N(sqrt(alpha_bar) m, v) with v = alpha_bar std^2 + 1 - alpha_bar, and
    E[x0 | x_t, m] = m + sqrt(alpha_bar) std^2 (x_t - sqrt(alpha_bar) m) / v; average over the
    components' posterior weights, then eps = (x_t - sqrt(alpha_bar) E[x0 | x_t]) / sqrt(1 - alpha_bar).
    Derived in notebooks/06_stable_diffusion.ipynb §5.
    """
    v = alpha_bar * std**2 + 1 - alpha_bar
    m = torch.tensor(means, dtype=x_t.dtype)[:, None]  # (K, 1)
    weights = torch.softmax(-((x_t - alpha_bar**0.5 * m) ** 2) / (2 * v), dim=0)  # (K, N), equal priors
    x0_hat = (weights * (m + alpha_bar**0.5 * std**2 * (x_t - alpha_bar**0.5 * m) / v)).sum(0)  # (N,)
    return solve_eps(x_t, x0_hat, alpha_bar**0.5, (1 - alpha_bar) ** 0.5)  # eq. 4 solved for eps


def toy_sample(
    scheduler,
    steps: int,
    guidance_scale: float | None = None,
    means: tuple[float, ...] = (1.0, -1.0),
    std: float = 0.25,
    n: int = 20_000,
    seed: int = 0,
    train_alphas_cumprod: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sample the toy world with a diffusers ``scheduler``: (n,) float64 samples.

    Unconditional when ``guidance_scale`` is None; otherwise the "prompt" asks for the first mode,
    means[0], and classifier-free guidance mixes the two exact predictions. The predictor knows
    the noise levels it was "trained" with, ``train_alphas_cumprod`` (default: the scheduler's own).
    Derived in notebooks/06_stable_diffusion.ipynb §5.
    """
    train = scheduler.alphas_cumprod if train_alphas_cumprod is None else train_alphas_cumprod
    x = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x * scheduler.init_noise_sigma
    scheduler.set_timesteps(steps)
    for t in scheduler.timesteps:
        alpha_bar = float(train[int(t)])
        eps = toy_eps(x, alpha_bar, means, std)
        if guidance_scale is not None:
            eps = cfg_eps(eps, toy_eps(x, alpha_bar, means[:1], std), guidance_scale)
        x = scheduler.step(eps, t, x).prev_sample
    return x
