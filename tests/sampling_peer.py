"""Shared by the sampling tests: diffusers' schedulers run in float64 on our betas, and realistic inputs."""

import numpy as np
import torch

from helpers.sampling import (
    timestep_pairs,
)
from helpers.schedules import Schedule

DIFFUSERS_NAME = {"linear": "linear", "cosine": "squaredcos_cap_v2"}
F64 = torch.float64
ATOL = 1e-8  # float64 on both sides; diffusers adds 1e-10 * noise on its last step (variance clamped at 1e-20)
SHAPE = (2, 1, 4, 4)  # (B, C, H, W)


def peer(
    cls,
    name: str,
    T: int = 1000,
    num_steps: int | None = None,
    spacing: str = "leading",
    clip: bool = True,
    steps_offset: int = 0,
):
    """A diffusers scheduler in float64 on its own betas, and our Schedule on the very same betas."""
    sched = cls(
        num_train_timesteps=T,
        beta_schedule=DIFFUSERS_NAME[name],
        clip_sample=clip,
        timestep_spacing=spacing,
        steps_offset=steps_offset,
    )
    sched.alphas_cumprod = torch.cumprod(1.0 - sched.betas.double(), dim=0)
    sched.one = sched.final_alpha_cumprod = torch.tensor(1.0, dtype=F64)  # alpha_bar at our t = 0
    if num_steps is not None:
        sched.set_timesteps(num_steps)
    ours = Schedule(name, T, np.concatenate([[0.0], sched.betas.double().numpy()]))
    return sched, ours


def realistic_inputs(schedule: Schedule, t: int, seed: int):
    """x_t from the forward process of an x0 in [-1, 1], and a model's eps that is right up to an error."""
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.rand(SHAPE, generator=gen, dtype=F64) * 2 - 1
    eps_true = torch.randn(SHAPE, generator=gen, dtype=F64)
    x_t = float(schedule.sqrt_alpha_bar[t]) * x0 + float(schedule.sqrt_one_minus_alpha_bar[t]) * eps_true
    eps = eps_true + 0.3 * torch.randn(SHAPE, generator=gen, dtype=F64)  # (B, C, H, W)
    return x_t, eps


def some_pairs(timesteps: list[int], k: int = 6) -> list[tuple[int, int]]:
    """The first, the last and a few evenly spread (t, t_prev) pairs of a run."""
    pairs = timestep_pairs(timesteps)
    idx = sorted(set(np.linspace(0, len(pairs) - 1, k).round().astype(int)))
    return [pairs[i] for i in idx]


def dummy_eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A fixed stand-in for a network: depends on x_t and t, keeps x_t bounded."""
    return 0.8 * x_t + 0.2 * torch.cos(t.view(-1, 1, 1, 1).to(x_t.dtype) / 70.0 + x_t)  # (B, C, H, W)
