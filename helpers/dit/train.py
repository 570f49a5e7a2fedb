"""Train a digits denoiser with Module 07's flow matching and measure what it draws, the same way for every model.

Derived in notebooks/10_diffusion_transformers.ipynb §4.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from helpers.flow import flow_loss, flow_sample
from helpers.metrics import class_accuracy, digits_kernel_distance
from helpers.schedules import Schedule
from helpers.training import EMA, train
from helpers.verdicts import Estimate, rate

# One recipe for every model the lesson compares (U-Net and DiTs alike): Adam, the flow loss, label dropout for
# guidance, and an exponential moving average of the weights, as Module 03's one-minute recipe keeps.
RECIPE = {"batch_size": 128, "lr": 2e-3, "p_uncond": 0.15, "grad_clip": 1.0, "ema_decay": 0.995}


def train_flow(
    model: nn.Module,
    x0: torch.Tensor,
    y: torch.Tensor,
    steps: int | None = None,
    max_seconds: float | None = None,
    seed: int = 0,
    progress: bool = True,
    **changes: float,
) -> tuple[nn.Module, dict]:
    """Train ``model`` in place by RECIPE with the flow loss: (its moving average, what the run took).

    ``changes`` replace entries of RECIPE (batch_size, lr, p_uncond, grad_clip, ema_decay).

    What the run took: steps, seconds and the last 100 steps' mean loss. flow_loss uses only the schedule's T, the
    grid of tau = t / T, as in Module 07.
    Derived in notebooks/10_diffusion_transformers.ipynb §4.
    """
    unknown = set(changes) - set(RECIPE)
    if unknown:
        raise ValueError(f"unknown recipe entries {sorted(unknown)}; the recipe has {sorted(RECIPE)}.")
    recipe = {**RECIPE, **changes}
    ema = EMA(model, recipe["ema_decay"])
    start = time.perf_counter()
    losses = train(
        model, x0, Schedule.create("cosine", model.config.T), y=y, steps=steps, max_seconds=max_seconds,
        batch_size=int(recipe["batch_size"]), lr=recipe["lr"], loss=flow_loss, p_uncond=recipe["p_uncond"],
        grad_clip=recipe["grad_clip"], seed=seed, progress=progress, callback=lambda *_: ema.update(model),
    )  # fmt: skip
    seconds = time.perf_counter() - start
    run = {"steps": len(losses), "seconds": round(seconds, 1), "loss": sum(losses[-100:]) / len(losses[-100:])}
    return ema.model.eval(), run


@torch.no_grad()
def draw_digits(
    model: nn.Module, n: int = 500, num_steps: int = 20, seed: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """n digits, 0..9 in turn, drawn with ``num_steps`` Euler steps of the flow ODE: (images in [-1, 1], labels).

    Derived in notebooks/10_diffusion_transformers.ipynb §4.
    """
    y = torch.arange(n) % 10
    generator = torch.Generator().manual_seed(seed)
    x = flow_sample(lambda x_t, t: model(x_t, t, y), (n, 1, 8, 8), model.config.T, num_steps, generator=generator)
    return x.clamp(-1, 1), y


def score_digits(model: nn.Module, n: int = 500, num_steps: int = 20, seed: int = 1) -> dict[str, Estimate]:
    """What a digits model draws, measured: class accuracy (binomial SE) and KID against real digits (SE over folds).

    Derived in notebooks/10_diffusion_transformers.ipynb §4.
    """
    x, y = draw_digits(model, n, num_steps, seed)
    kid, se = digits_kernel_distance(x, seed=seed)
    return {"accuracy": rate(class_accuracy(x, y), n), "KID": Estimate(kid, se)}
