"""The DDPM training objective and a seeded CPU training loop. Derived in notebooks/03_training_objective.ipynb.

Algorithm 1 of Ho et al. 2020: draw x0 from the data, t ~ Uniform{1, ..., T} and
eps ~ N(0, I), form x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps, and regress
the network's output on eps with the mean squared error (the "simple" loss, eq. 14).
``target="x0"`` regresses on x0 instead, the alternative the lesson compares against.
``train`` draws batches, t, eps and label dropout from a torch.Generator seeded with ``seed``,
so a run is reproducible from the same initial weights (and the same torch thread count).
Ctrl-C (KeyboardInterrupt) ends it cleanly and keeps the weights trained so far;
``callback(step, loss)`` runs after every step (the training script keeps an EMA with it).
Weights are stored with safetensors; the model's config travels in the file's metadata.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from helpers.models import NULL_CLASS, build_model
from helpers.schedules import Schedule

TARGETS = ("eps", "x0")


@dataclass(frozen=True)
class TorchSchedule:
    """A Schedule's arrays as float32 torch tensors, each of shape (T + 1,) and indexed by t."""

    name: str
    T: int
    beta: torch.Tensor
    alpha: torch.Tensor
    alpha_bar: torch.Tensor
    sqrt_alpha_bar: torch.Tensor
    sqrt_one_minus_alpha_bar: torch.Tensor


def torch_schedule(schedule: Schedule, device: torch.device | str = "cpu") -> TorchSchedule:
    """Convert a helpers.schedules.Schedule (computed in float64 numpy) to float32 tensors on ``device``."""
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)
    return TorchSchedule(schedule.name, schedule.T, as_t(schedule.beta), as_t(schedule.alpha), as_t(schedule.alpha_bar),
                         as_t(schedule.sqrt_alpha_bar), as_t(schedule.sqrt_one_minus_alpha_bar))


def _as_torch(schedule: Schedule | TorchSchedule) -> TorchSchedule:
    return schedule if isinstance(schedule, TorchSchedule) else torch_schedule(schedule)


def q_sample(x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: Schedule | TorchSchedule) -> torch.Tensor:
    """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps (Ho et al. 2020, eq. 4), one t per row of x0."""
    s = _as_torch(schedule)
    if x0.shape != eps.shape:
        raise ValueError(f"x0 has shape {tuple(x0.shape)} but eps has shape {tuple(eps.shape)}; draw eps with torch.randn_like(x0).")
    if t.shape != x0.shape[:1]:
        raise ValueError(f"t must have shape ({x0.shape[0]},), one timestep per row of x0; got {tuple(t.shape)}.")
    shape = (-1,) + (1,) * (x0.ndim - 1)  # broadcast t over the non-batch axes
    return s.sqrt_alpha_bar[t].view(shape) * x0 + s.sqrt_one_minus_alpha_bar[t].view(shape) * eps  # (B, ...)


def diffusion_loss(model: nn.Module, x0: torch.Tensor, schedule: Schedule | TorchSchedule, y: torch.Tensor | None = None,
                   target: str = "eps", p_uncond: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """The simple loss of Ho et al. 2020 (eq. 14): MSE between the model's output and eps (or x0) at a random t."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}.")
    s = _as_torch(schedule)
    B = x0.shape[0]
    t = torch.randint(1, s.T + 1, (B,), generator=generator)  # t ~ Uniform{1, ..., T}
    eps = torch.randn(x0.shape, generator=generator)  # (B, ...)
    x_t = q_sample(x0, t, eps, s)
    if y is not None and p_uncond > 0:
        # label dropout: classifier-free guidance's unconditional model shares the weights (Ho & Salimans 2022)
        drop = torch.rand(B, generator=generator) < p_uncond
        y = torch.where(drop, torch.full_like(y, NULL_CLASS), y)
    pred = model(x_t, t, y)  # same shape as x0
    return F.mse_loss(pred, eps if target == "eps" else x0)


def train(model: nn.Module, x0: torch.Tensor, schedule: Schedule | TorchSchedule, *, y: torch.Tensor | None = None,
          steps: int | None = 1000, max_seconds: float | None = None, batch_size: int = 128, lr: float = 2e-3,
          target: str = "eps", p_uncond: float = 0.0, grad_clip: float | None = 1.0, seed: int = 0,
          progress: bool = True, callback: Callable[[int, float], None] | None = None) -> list[float]:
    """Train ``model`` in place with Adam on the simple loss for ``steps`` and/or ``max_seconds``; return the loss of each step."""
    if steps is None and max_seconds is None:
        raise ValueError("give a budget: steps, max_seconds, or both.")
    if y is not None and y.shape != x0.shape[:1]:
        raise ValueError(f"y must hold one label per row of x0: shape ({x0.shape[0]},), got {tuple(y.shape)}.")
    s = _as_torch(schedule)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[float] = []
    model.train()
    bar = tqdm(total=steps, disable=not progress, desc=f"training ({target} prediction)")
    start = time.perf_counter()
    try:
        while (steps is None or len(history) < steps) and (max_seconds is None or time.perf_counter() - start < max_seconds):
            idx = torch.randint(0, x0.shape[0], (batch_size,), generator=generator)  # sample with replacement
            loss = diffusion_loss(model, x0[idx], s, None if y is None else y[idx], target, p_uncond, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            history.append(loss.item())
            bar.update(1)
            if len(history) % 10 == 0:
                bar.set_postfix(loss=f"{sum(history[-50:]) / len(history[-50:]):.4f}")
            if callback is not None:
                callback(len(history), history[-1])
    except KeyboardInterrupt:
        print(f"Interrupted after {len(history)} steps; keeping the weights trained so far.")
    finally:
        bar.close()
        model.eval()
    return history


def save_weights(model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Write the model's weights to a safetensors file, with model.config and ``metadata`` as JSON strings in its header."""
    header = {"config": json.dumps(model.config)}
    header.update({k: json.dumps(v) for k, v in (metadata or {}).items()})
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata=header)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON-decoded metadata of a file written by save_weights (always has "config")."""
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata() or {}
    if "config" not in header:
        raise ValueError(f"{path} has no model config in its metadata; was it written by helpers.training.save_weights?")
    return {k: json.loads(v) for k, v in header.items()}


def load_weights(path: str | Path) -> nn.Module:
    """Rebuild the model described by the file's config and load its weights (eval mode)."""
    model = build_model(read_metadata(path)["config"])
    model.load_state_dict(load_file(str(path)))
    return model.eval()
