"""The sampling loop shared by DDPM and DDIM: from x_T ~ N(0, I), one step per (t, t_prev), down to x0.

Derived in notebooks/04_sampling.ipynb §2-3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from helpers.sampling.steps import EpsFn, _ddim_step, _ddpm_step, check_eps, check_eta
from helpers.sampling.timesteps import check_timestep_sequence, make_timesteps, timestep_pairs
from helpers.schedules import Schedule

Trajectory = list[tuple[int, Tensor]]  # [(t, x_t), ...] from x_T down to (0, x0)


def randn(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """Standard normal noise drawn on the generator's device (a CPU generator also serves a GPU run).

    Derived in notebooks/04_sampling.ipynb §2.
    """
    rand_device = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=rand_device, dtype=dtype).to(device)


def batch_t(t: int, batch: int, device: torch.device | None = None) -> Tensor:
    """One timestep repeated for every row of a batch, as the network takes it: shape (B,), int64.

    Derived in notebooks/04_sampling.ipynb §2.
    """
    return torch.full((batch,), t, dtype=torch.long, device=device)


@dataclass(frozen=True)
class Loop:
    """Everything the sampling loop needs besides the network: where to start, which timesteps, how to show progress.

    Derived in notebooks/04_sampling.ipynb §2.
    """

    shape: tuple[int, ...]
    timesteps: list[int]
    generator: torch.Generator | None = None
    progress: bool = True
    return_trajectory: bool = False
    x_T: Tensor | None = None
    device: torch.device | str | None = None
    dtype: torch.dtype = torch.float32
    desc: str = "sampling"

    @classmethod
    def make(
        cls, shape, schedule: Schedule, num_steps: int | None, timesteps: Sequence[int] | None, spacing: str, **kwargs
    ) -> "Loop":
        """The loop over an explicit list of timesteps, or num_steps of them (default T) spaced by ``spacing``."""
        if timesteps is None:  # make_timesteps checks what it makes
            timesteps = make_timesteps(schedule.T, schedule.T if num_steps is None else num_steps, spacing)
        else:  # an explicit list of timesteps overrides num_steps and spacing
            timesteps = check_timestep_sequence(timesteps, schedule.T)
        return cls(tuple(shape), timesteps, **kwargs)

    def start(self) -> Tensor:
        """x_T ~ N(0, I) drawn from the generator, or the given x_T, on the loop's device."""
        device = (
            torch.device(self.device)
            if self.device is not None
            else (self.x_T.device if self.x_T is not None else torch.device("cpu"))
        )
        if self.x_T is None:
            return randn(self.shape, self.generator, device, self.dtype)  # (B, ...)
        if tuple(self.x_T.shape) != self.shape:
            raise ValueError(f"x_T has shape {tuple(self.x_T.shape)} but shape={self.shape}.")
        return self.x_T.to(device=device, dtype=self.dtype)


def run_loop(
    eps_fn: EpsFn, step: Callable[..., Tensor], noisy: Callable[[int], bool], loop: Loop
) -> Tensor | tuple[Tensor, Trajectory]:
    """The loop shared by both samplers: from x_T, one ``step(x_t, t, t_prev, eps, noise)`` per (t, t_prev).

    ``loop.timesteps`` were checked once, when the Loop was made; ``step`` checks nothing again.

    Derived in notebooks/04_sampling.ipynb §2.
    """
    x_t = loop.start()
    trajectory: Trajectory = [(loop.timesteps[0], x_t.detach().cpu().clone())]
    with torch.no_grad():
        for t, t_prev in tqdm(timestep_pairs(loop.timesteps), desc=loop.desc, disable=not loop.progress):
            t_batch = batch_t(t, loop.shape[0], x_t.device)  # (B,)
            eps = eps_fn(x_t, t_batch)  # (B, ...)
            check_eps(eps, x_t)
            noise = randn(loop.shape, loop.generator, x_t.device, loop.dtype) if noisy(t_prev) else None
            x_t = step(x_t, t, t_prev, eps.to(loop.dtype), noise)
            if loop.return_trajectory:
                trajectory.append((t_prev, x_t.detach().cpu().clone()))
    return (x_t, trajectory) if loop.return_trajectory else x_t


def ddpm_sample(
    eps_fn: EpsFn,
    shape: tuple[int, ...],
    schedule: Schedule,
    num_steps: int | None = None,
    *,
    timesteps: Sequence[int] | None = None,
    spacing: str = "trailing",
    clip: bool = True,
    generator: torch.Generator | None = None,
    progress: bool = True,
    return_trajectory: bool = False,
    x_T: Tensor | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor | tuple[Tensor, Trajectory]:
    """Ancestral sampling (Algorithm 2 of Ho et al. 2020) over num_steps (default T) or given timesteps: x0 (B, ...).

    Derived in notebooks/04_sampling.ipynb §2.
    """
    step = lambda x_t, t, t_prev, eps, noise: _ddpm_step(x_t, t, t_prev, eps, schedule, noise, clip)  # t checked below
    loop = Loop.make(
        shape,
        schedule,
        num_steps,
        timesteps,
        spacing,
        generator=generator,
        progress=progress,
        return_trajectory=return_trajectory,
        x_T=x_T,
        device=device,
        dtype=dtype,
        desc="DDPM",
    )
    return run_loop(eps_fn, step, lambda t_prev: t_prev > 0, loop)


def ddim_sample(
    eps_fn: EpsFn,
    shape: tuple[int, ...],
    schedule: Schedule,
    num_steps: int = 50,
    *,
    eta: float = 0.0,
    timesteps: Sequence[int] | None = None,
    spacing: str = "trailing",
    clip: bool = True,
    generator: torch.Generator | None = None,
    progress: bool = True,
    return_trajectory: bool = False,
    x_T: Tensor | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor | tuple[Tensor, Trajectory]:
    """DDIM sampling (Song et al. 2021, eq. 12) over num_steps or the given timesteps: x0 (B, ...).

    eta = 0 is deterministic; eta = 1 has DDPM's variance.

    Derived in notebooks/04_sampling.ipynb §3.
    """
    check_eta(eta)
    step = lambda x_t, t, t_prev, eps, noise: _ddim_step(x_t, t, t_prev, eps, schedule, eta, noise, clip)
    loop = Loop.make(
        shape,
        schedule,
        num_steps,
        timesteps,
        spacing,
        generator=generator,
        progress=progress,
        return_trajectory=return_trajectory,
        x_T=x_T,
        device=device,
        dtype=dtype,
        desc=f"DDIM (eta={eta})",
    )
    return run_loop(eps_fn, step, lambda t_prev: eta > 0 and t_prev > 0, loop)
