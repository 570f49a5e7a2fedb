"""The DDPM training objective and a seeded CPU training loop. Derived in notebooks/03_training_objective.ipynb.

Algorithm 1 of Ho et al. 2020: draw x0 from the data, t ~ Uniform{1, ..., T} and
eps ~ N(0, I), form x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps, and regress
the network's output on eps with the mean squared error (the "simple" loss, eq. 14).
``x0_loss`` regresses on x0 instead, the alternative the lesson compares against; ``train``
takes any loss of that form (Module 07's ``helpers.flow.flow_loss`` trains a flow with it).
``train`` draws batches, t, eps and label dropout from a torch.Generator seeded with ``seed``,
so a run is reproducible from the same initial weights (and the same torch thread count).
Ctrl-C (KeyboardInterrupt) ends it cleanly and keeps the weights trained so far;
``callback(step, loss)`` runs after every step (``train_recipe`` keeps an EMA with it).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from helpers.models import NULL_CLASS, DigitsUNet
from helpers.schedules import Schedule, TorchSchedule
from helpers.schedules import q_sample as _q_sample

TARGETS = ("eps", "x0")
# loss(model, x0 (B, ...), schedule, y=labels (B,) or None, p_uncond=, generator=) -> a scalar tensor
LossFn = Callable[..., torch.Tensor]


def drop_labels(y: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Label dropout: each label becomes NULL_CLASS with probability p (Ho & Salimans 2022), one uniform draw per label.

    Derived in notebooks/05_guidance.ipynb §1; diffusion_loss uses it when p_uncond > 0.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p is a probability in [0, 1], got {p}.")
    drop = torch.rand(y.shape[0], generator=generator) < p  # (B,)
    return torch.where(drop.to(y.device), torch.full_like(y, NULL_CLASS), y)


def diffusion_loss(
    model: nn.Module,
    x0: torch.Tensor,
    schedule: Schedule | TorchSchedule,
    y: torch.Tensor | None = None,
    target: str = "eps",
    p_uncond: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The simple loss of Ho et al. 2020 (eq. 14): MSE between the model's output and eps (or x0) at a random t.

    Derived in notebooks/03_training_objective.ipynb §2.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r} (a velocity is helpers.flow.flow_loss's).")
    B = x0.shape[0]
    t = torch.randint(1, schedule.T + 1, (B,), generator=generator)  # t ~ Uniform{1, ..., T}
    eps = torch.randn(x0.shape, generator=generator)  # (B, ...)
    x_t = _q_sample(x0, t, eps, schedule)
    if y is not None and p_uncond > 0:  # the unconditional model of classifier-free guidance shares the weights
        y = drop_labels(y, p_uncond, generator)
    pred = model(x_t, t, y)  # same shape as x0
    return F.mse_loss(pred, eps if target == "eps" else x0)


def x0_loss(
    model: nn.Module,
    x0: torch.Tensor,
    schedule: Schedule | TorchSchedule,
    y: torch.Tensor | None = None,
    p_uncond: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The simple loss with x0 as the target: the network is scored on ||x0 - x0_hat||^2, diffusion_loss(target="x0").

    Derived in notebooks/03_training_objective.ipynb §5.
    """
    return diffusion_loss(model, x0, schedule, y, "x0", p_uncond, generator)


class EMA:
    """An exponential moving average of a model's weights: p_ema <- decay p_ema + (1 - decay) p after every step.

    DDPM samples from such an average (Ho et al. 2020, appendix B); its weights move less from step to step.
    Derived in notebooks/03_training_objective.ipynb §4.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be between 0 and 1 (e.g. 0.999), got {decay}.")
        self.decay, self.model = decay, copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average a step towards ``model``'s current weights."""
        for p_ema, p in zip(self.model.parameters(), model.parameters()):
            p_ema.lerp_(p, 1 - self.decay)  # p_ema + (1 - decay) (p - p_ema)


def optimizer_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor, grad_clip: float | None = None
) -> float:
    """Clear the old gradients, backpropagate ``loss``, (clip,) move the weights; return the loss as a float.

    Derived in notebooks/03_training_objective.ipynb §2.
    """
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def train(
    model: nn.Module,
    x0: torch.Tensor,
    schedule: Schedule | TorchSchedule,
    *,
    y: torch.Tensor | None = None,
    steps: int | None = 1000,
    max_seconds: float | None = None,
    batch_size: int = 128,
    lr: float = 2e-3,
    loss: LossFn = diffusion_loss,
    p_uncond: float = 0.0,
    grad_clip: float | None = 1.0,
    seed: int = 0,
    progress: bool = True,
    callback: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train ``model`` in place with Adam for ``steps`` and/or ``max_seconds``: each step's loss.

    The loss is the simple loss unless ``loss`` says otherwise (x0_loss; Module 07's flow_loss).
    Derived in notebooks/03_training_objective.ipynb §2.
    """
    _check_run(x0, y, steps, max_seconds)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def step() -> float:  # one batch drawn with replacement, then t, eps and label dropout inside the loss
        idx = torch.randint(0, x0.shape[0], (batch_size,), generator=generator)
        y_batch = None if y is None else y[idx]
        batch_loss = loss(model, x0[idx], schedule, y=y_batch, p_uncond=p_uncond, generator=generator)
        return optimizer_step(model, optimizer, batch_loss, grad_clip)

    bar = tqdm(total=steps, disable=not progress, desc=f"training ({getattr(loss, '__name__', 'loss')})")
    return run_steps(model, step, steps, max_seconds, bar, callback)


def _check_run(x0: torch.Tensor, y: torch.Tensor | None, steps: int | None, max_seconds: float | None) -> None:
    if steps is None and max_seconds is None:
        raise ValueError("give a budget: steps, max_seconds, or both.")
    if y is not None and y.shape != x0.shape[:1]:
        raise ValueError(f"y must hold one label per row of x0: shape ({x0.shape[0]},), got {tuple(y.shape)}.")


def run_steps(
    model: nn.Module,
    step: Callable[[], float],
    steps: int | None,
    max_seconds: float | None,
    bar: tqdm,
    callback: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Call ``step()`` until the budget is spent or Ctrl-C: the losses; train mode meanwhile, eval mode after.

    Derived in notebooks/03_training_objective.ipynb §2; Module 09 trains its four parts with it.
    """
    history: list[float] = []
    model.train()
    start = time.perf_counter()
    try:
        while (steps is None or len(history) < steps) and (
            max_seconds is None or time.perf_counter() - start < max_seconds
        ):
            history.append(step())
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


@dataclass(frozen=True)
class Recipe:
    """How to train the digits U-Net in a short budget: its width, the steps and time cap, Adam, the EMA.

    Derived in notebooks/03_training_objective.ipynb §4; benchmarks/training.py compares the recipes.
    """

    channels: int = 32
    steps: int = 1500
    max_seconds: float | None = 60.0  # the one-minute budget: a guard, so that a slow machine stops in time
    batch_size: int = 128
    lr: float = 4e-3
    ema_decay: float | None = 0.995
    p_uncond: float = 0.0
    seed: int = 0
    loss: LossFn = diffusion_loss  # helpers.flow.flow_loss trains the same U-Net as a flow (Module 07)


FIRST_RECIPE = Recipe(steps=600, ema_decay=None)  # the course's first one-minute model
ONE_MINUTE = Recipe()


def train_recipe(
    recipe: Recipe, x0: torch.Tensor, y: torch.Tensor, schedule: Schedule | TorchSchedule, progress: bool = True
) -> tuple[nn.Module, list[float]]:
    """A fresh, seeded, class-conditional DigitsUNet trained by ``recipe``: (the model, or its EMA; the losses).

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    torch.manual_seed(recipe.seed)
    model = DigitsUNet(channels=recipe.channels, T=schedule.T)
    ema = EMA(model, recipe.ema_decay) if recipe.ema_decay else None
    losses = train(
        model,
        x0,
        schedule,
        y=y,
        steps=recipe.steps,
        max_seconds=recipe.max_seconds,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        loss=recipe.loss,
        p_uncond=recipe.p_uncond,
        seed=recipe.seed,
        progress=progress,
        callback=(lambda step, loss: ema.update(model)) if ema else None,
    )
    return (ema.model if ema else model), losses
