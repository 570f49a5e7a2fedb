"""Flow matching with the straight path of rectified flow (Liu et al. 2022; Lipman et al. 2023).

Derived in notebooks/07_flow_matching.ipynb.

Flow time tau runs from 0 (data) to 1 (noise), as diffusers' ``FlowMatchEulerDiscreteScheduler``
writes its sigmas: the path is x_tau = (1 - tau) x0 + tau eps, a straight line, and the network
predicts its velocity d x_tau / d tau = eps - x0. The course's networks take an integer t, so tau
lives on the grid t / T (diffusers' flow timesteps are tau * 1000 too): the same DigitsUNet and
MLPDenoiser that predict eps in Modules 03-06 predict velocities here, with nothing changed but
the target (``flow_loss``; ``helpers.training.train(..., loss=flow_loss)`` trains with it).
Sampling integrates d x / d tau = v(x, tau) from tau = 1 down to 0, with Euler's method or
Heun's (Karras et al. 2022, Algorithm 1: its last step, to tau = 0, is an Euler step).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from helpers.sampling import Trajectory, make_timesteps, timestep_pairs
from helpers.sampling.loops import batch_t, randn
from helpers.sampling.steps import solve_eps, solve_x0
from helpers.schedules import Schedule, TorchSchedule, per_row, pick
from helpers.training import drop_labels

VelocityFn = Callable[[Tensor, Tensor], Tensor]  # v(x_tau, t) with t = tau * T a LongTensor (B,)
SOLVERS = ("euler", "heun")


def _per_row(tau: Tensor | float, x: Tensor) -> Tensor:
    """tau as a tensor that broadcasts over x (B, ...): one value for all rows, or one per row."""
    tau = torch.as_tensor(tau, dtype=x.dtype, device=x.device)
    return per_row(tau, x.ndim)


def flow_path(x0: Tensor, eps: Tensor, tau: Tensor | float) -> Tensor:
    """The straight path x_tau = (1 - tau) x0 + tau eps from data (tau = 0) to noise (tau = 1).

    Derived in notebooks/07_flow_matching.ipynb §3.
    """
    tau = _per_row(tau, x0)
    return (1 - tau) * x0 + tau * eps


def velocity_target(x0: Tensor, eps: Tensor) -> Tensor:
    """d x_tau / d tau of the straight path, eps - x0: the same at every tau.

    Derived in notebooks/07_flow_matching.ipynb §3.
    """
    return eps - x0


def _draw(x0: Tensor, T: int, y: Tensor | None, p_uncond: float, generator: torch.Generator | None):
    """t ~ U{1..T}, eps ~ N(0, I) and the labels after dropout, drawn in the order of ``diffusion_loss``'s draws."""
    t = torch.randint(1, T + 1, (x0.shape[0],), generator=generator)  # (B,)
    eps = torch.randn(x0.shape, generator=generator)  # (B, ...)
    if y is not None and p_uncond > 0:  # label dropout, as for the guided diffusion model of Module 05
        y = drop_labels(y, p_uncond, generator)
    return t, eps, y


def flow_loss(
    model: nn.Module,
    x0: Tensor,
    schedule: Schedule | TorchSchedule,
    y: Tensor | None = None,
    p_uncond: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The conditional flow matching loss: MSE between v_theta(x_tau, t) and eps - x0, at tau = t / T, t ~ U{1..T}.

    Lipman et al. 2023, eq. 23, on the straight path of rectified flow; only the schedule's T is used
    (the grid of tau), so that ``helpers.training.train(..., loss=flow_loss)`` takes it as it takes the simple loss.
    The draws (t, eps, dropped labels) are those of ``diffusion_loss`` with the same generator.
    Derived in notebooks/07_flow_matching.ipynb §3.
    """
    t, eps, y = _draw(x0, schedule.T, y, p_uncond, generator)
    x_tau = flow_path(x0, eps, t.to(x0.dtype) / schedule.T)
    return F.mse_loss(model(x_tau, t, y), velocity_target(x0, eps))


def eps_on_flow_path_loss(
    model: nn.Module,
    x0: Tensor,
    schedule: Schedule | TorchSchedule,
    y: Tensor | None = None,
    p_uncond: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One change from ``diffusion_loss``, the path: the noise eps as the target, on the straight path x_tau.

    Derived in notebooks/07_flow_matching.ipynb §3 (diffusion and flow, one change at a time).
    """
    t, eps, y = _draw(x0, schedule.T, y, p_uncond, generator)
    return F.mse_loss(model(flow_path(x0, eps, t.to(x0.dtype) / schedule.T), t, y), eps)


def v_on_diffusion_path_loss(
    model: nn.Module,
    x0: Tensor,
    schedule: Schedule | TorchSchedule,
    y: Tensor | None = None,
    p_uncond: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One change from ``diffusion_loss``, the target: the diffusion path's velocity v = a eps - s x0.

    With a = sqrt(alpha_bar_t) = cos(phi) and s = sqrt(1 - alpha_bar_t) = sin(phi), x_t = a x0 + s eps
    and d x_t / d phi = v: Salimans & Ho 2022 (§4, "v-prediction"), the target of Stable Diffusion 2.
    Derived in notebooks/07_flow_matching.ipynb §3 (diffusion and flow, one change at a time).
    """
    t, eps, y = _draw(x0, schedule.T, y, p_uncond, generator)
    a, s = (pick(values, t, x0) for values in (schedule.sqrt_alpha_bar, schedule.sqrt_one_minus_alpha_bar))
    return F.mse_loss(model(a * x0 + s * eps, t, y), a * eps - s * x0)


def velocity_from_eps(x_tau: Tensor, tau: Tensor | float, eps: Tensor) -> Tensor:
    """The velocity implied by a noise prediction at x_tau: x0 = (x_tau - tau eps) / (1 - tau), v = eps - x0.

    Undefined at tau = 1, where x_tau is the noise and says nothing about x0.
    Derived in notebooks/07_flow_matching.ipynb §4.
    """
    tau = _per_row(tau, x_tau)
    return (eps - x_tau) / (1 - tau)


def x0_from_velocity(x_tau: Tensor, tau: Tensor | float, v: Tensor) -> Tensor:
    """One Euler step from tau all the way to 0: x0_hat = x_tau - tau v.

    Derived in notebooks/07_flow_matching.ipynb §4.
    """
    return x_tau - _per_row(tau, x_tau) * v


def euler_flow_step(x_tau: Tensor, v: Tensor, tau: float, tau_next: float) -> Tensor:
    """One Euler step of d x / d tau = v from tau to tau_next < tau: x + (tau_next - tau) v.

    It is ``FlowMatchEulerDiscreteScheduler.step`` (tests/test_flow.py). Derived in notebooks/07_flow_matching.ipynb §3.
    """
    return x_tau + (tau_next - tau) * v


def heun_flow_step(v_fn: VelocityFn, x_tau: Tensor, t: int, t_next: int, T: int) -> Tensor:
    """One Heun step from t to t_next (tau = t / T): Euler, then the average of the two slopes; Euler into t_next = 0.

    Karras et al. 2022, Algorithm 1. Derived in notebooks/07_flow_matching.ipynb §3.
    """
    B = x_tau.shape[0]
    v = v_fn(x_tau, batch_t(t, B))
    x_euler = euler_flow_step(x_tau, v, t / T, t_next / T)
    if t_next == 0:
        return x_euler
    v_next = v_fn(x_euler, batch_t(t_next, B))
    return euler_flow_step(x_tau, (v + v_next) / 2, t / T, t_next / T)


def flow_sample(
    v_fn: VelocityFn,
    shape: tuple[int, ...],
    T: int = 1000,
    num_steps: int = 20,
    solver: str = "euler",
    generator: torch.Generator | None = None,
    x_T: Tensor | None = None,
    return_trajectory: bool = False,
) -> Tensor | tuple[Tensor, Trajectory]:
    """Integrate d x / d tau = v from noise (tau = 1) to data in num_steps Euler or Heun steps: x0 (B, ...).

    The steps visit the grid times of ``make_timesteps(T, num_steps)`` (evenly spaced, trailing).
    Derived in notebooks/07_flow_matching.ipynb §3.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}.")
    x = randn(tuple(shape), generator, torch.device("cpu"), torch.float32) if x_T is None else x_T.clone()
    ts = make_timesteps(T, num_steps)
    trajectory: Trajectory = [(ts[0], x.clone())]
    with torch.no_grad():
        for t, t_next in timestep_pairs(ts):
            if solver == "heun":
                x = heun_flow_step(v_fn, x, t, t_next, T)
            else:
                x = euler_flow_step(x, v_fn(x, batch_t(t, x.shape[0])), t / T, t_next / T)
            trajectory.append((t_next, x.clone()))
    return (x, trajectory) if return_trajectory else x


def straightness(trajectory: Trajectory) -> Tensor:
    """Path length over end-to-end distance, per sample (B,): 1 for a straight path, more for a curved one.

    Derived in notebooks/07_flow_matching.ipynb §3.
    """
    xs = torch.stack([x.flatten(1) for _, x in trajectory])  # (steps + 1, B, D)
    length = (xs[1:] - xs[:-1]).norm(dim=2).sum(0)  # (B,)
    return length / (xs[-1] - xs[0]).norm(dim=1)


PATHS = ("diffusion", "flow")
PREDICTIONS = {"eps": PATHS, "velocity": ("flow",), "v": ("diffusion",)}  # what each target is defined on


def path_coefficients(path: str, t: int, schedule: Schedule) -> tuple[float, float]:
    """(alpha_t, sigma_t) of x_t = alpha x0 + sigma eps: the diffusion's cosine path or the flow's straight one.

    Diffusion: (sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t)); flow: (1 - tau, tau) with tau = t / T.
    Derived in notebooks/07_flow_matching.ipynb §3 (a flow's Euler step is DDIM on its own path).
    """
    if path == "flow":
        return 1 - t / schedule.T, t / schedule.T
    if path == "diffusion":
        return float(schedule.sqrt_alpha_bar[t]), float(schedule.sqrt_one_minus_alpha_bar[t])
    raise ValueError(f"path must be one of {PATHS}, got {path!r}.")


def x0_eps_from_prediction(pred: Tensor, x_t: Tensor, alpha: float, sigma: float, target: str) -> tuple[Tensor, Tensor]:
    """(x0_hat, eps_hat) that a prediction of ``target`` implies at x_t = alpha x0 + sigma eps.

    eps: x0 = (x_t - sigma eps) / alpha (Module 04's solve_x0 on any path).
    velocity (the flow's eps - x0): x0 = x_t - sigma u, eps = x_t + alpha u.
    v (Salimans & Ho's a eps - s x0, alpha^2 + sigma^2 = 1): x0 = alpha x_t - sigma v, eps = sigma x_t + alpha v.
    Derived in notebooks/07_flow_matching.ipynb §3.
    """
    if target == "eps":
        return solve_x0(x_t, pred, alpha, sigma), pred
    if target == "velocity":  # on the flow's path sigma is tau
        return x0_from_velocity(x_t, sigma, pred), x_t + alpha * pred
    if target == "v":
        return alpha * x_t - sigma * pred, sigma * x_t + alpha * pred
    raise ValueError(f"target must be one of {tuple(PREDICTIONS)}, got {target!r}.")


def ddim_on_path(
    net_fn: VelocityFn,
    target: str,
    path: str,
    schedule: Schedule,
    x_T: Tensor,
    num_steps: int,
    clip: float | None = 1.0,
) -> Tensor:
    """Deterministic DDIM on ``path`` for a network predicting ``target``: x_prev = alpha_prev x0_hat + sigma_prev eps.

    x0_hat is clipped to [-clip, clip] and eps_hat re-derived from it (Module 05's clip-consistent rule), unless
    clip is None. On the flow path with the velocity target and no clipping this is Euler's method, ``flow_sample``.
    Derived in notebooks/07_flow_matching.ipynb §3 (diffusion and flow, one change at a time).
    """
    if path not in PREDICTIONS.get(target, ()):
        raise ValueError(f"a {target!r} prediction is not defined on the {path!r} path; see PREDICTIONS.")
    x = x_T.clone()
    with torch.no_grad():
        for t, t_prev in timestep_pairs(make_timesteps(schedule.T, num_steps)):
            alpha, sigma = path_coefficients(path, t, schedule)
            x0_hat, eps_hat = x0_eps_from_prediction(net_fn(x, batch_t(t, x.shape[0])), x, alpha, sigma, target)
            if clip is not None:
                x0_hat = x0_hat.clamp(-clip, clip)
                eps_hat = solve_eps(x, x0_hat, alpha, sigma)
            alpha_prev, sigma_prev = path_coefficients(path, t_prev, schedule)
            x = alpha_prev * x0_hat + sigma_prev * eps_hat
    return x
