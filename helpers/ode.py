"""Sampling as solving an ODE: diffusers' solvers (Euler, Heun, DPM-Solver++) driving the course's eps-models.

Derived in notebooks/07_flow_matching.ipynb §1-2. In the coordinates x_bar = x_t / sqrt(alpha_bar_t)
and sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t), deterministic sampling is the ODE
d x_bar / d sigma = eps(x_t, t) (Song, Meng & Ermon 2021, DDIM, eq. 14; Karras et al. 2022, eq. 4): DDIM is its
Euler step, Heun's method is second order at two evaluations a step, and DPM-Solver++(2M) (Lu et
al. 2022) is second order at one, reusing the previous step's evaluation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from helpers.sampling.loops import batch_t, randn
from helpers.sampling.steps import EpsFn
from helpers.schedules import Schedule


def sigmas(schedule: Schedule) -> np.ndarray:
    """sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t) for t = 0..T: the noise-to-signal ratio, (T + 1,).

    Derived in notebooks/07_flow_matching.ipynb §1.
    """
    return np.sqrt((1 - schedule.alpha_bar) / schedule.alpha_bar)


def course_scheduler(cls, schedule: Schedule, **config):
    """A diffusers scheduler class on the course's betas, with trailing spacing and eps prediction.

    diffusers' timestep k is the course's t = k + 1. Derived in notebooks/07_flow_matching.ipynb §2.
    """
    return cls(
        num_train_timesteps=schedule.T,
        trained_betas=schedule.beta[1:].tolist(),
        timestep_spacing="trailing",
        prediction_type="epsilon",
        **config,
    )


def scheduler_sample(
    eps_fn: EpsFn,
    scheduler,
    shape: tuple[int, ...],
    num_steps: int,
    generator: torch.Generator | None = None,
    x_T: Tensor | None = None,
    noise_generator: torch.Generator | None = None,
    **step_kwargs,
) -> tuple[Tensor, int]:
    """x0 (B, ...) from ``scheduler`` (diffusers) driving ``eps_fn`` from x_T ~ N(0, I), and the network evaluations.

    A stochastic scheduler (Euler ancestral, Euler's churn) draws its fresh noise from ``noise_generator``;
    ``step_kwargs`` go to every ``scheduler.step`` (``s_churn=...``).
    Derived in notebooks/07_flow_matching.ipynb §2 and §4.
    """
    if noise_generator is not None:
        step_kwargs["generator"] = noise_generator
    scheduler.set_timesteps(num_steps)
    x = randn(tuple(shape), generator, torch.device("cpu"), torch.float32) if x_T is None else x_T.clone()
    x = x * scheduler.init_noise_sigma  # Euler and Heun work on x_bar = x_T sqrt(1 + sigma_max^2)
    with torch.no_grad():
        for k in scheduler.timesteps:
            t = batch_t(int(round(float(k))) + 1, shape[0])  # diffusers' k is our t - 1
            eps = eps_fn(scheduler.scale_model_input(x, k), t)
            x = scheduler.step(eps, k, x, **step_kwargs).prev_sample
    return x, len(scheduler.timesteps)
