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
The package holds three parts: :mod:`~helpers.sampling.timesteps` (which t a sampler visits),
:mod:`~helpers.sampling.steps` (one step) and :mod:`~helpers.sampling.loops` (the loop).

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

from helpers.sampling.loops import Loop, Trajectory, batch_t, ddim_sample, ddpm_sample, randn, run_loop  # noqa: F401
from helpers.sampling.steps import (  # noqa: F401
    EpsFn,
    Timestep,
    check_eps,
    check_eta,
    clip_consistent_eps,
    clip_consistent_eps_fn,
    clip_x0,
    ddim_sigma,
    ddim_step,
    ddim_update,
    ddpm_step,
    eps_from_x0,
    posterior_mean_variance,
    predict_x0,
    solve_eps,
    solve_x0,
)
from helpers.sampling.timesteps import SPACINGS, check_timestep_sequence, make_timesteps, timestep_pairs  # noqa: F401
