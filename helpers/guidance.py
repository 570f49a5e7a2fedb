"""Classifier-free guidance (Ho & Salimans 2022): one network, two predictions, and a scale.

Derived in notebooks/05_guidance.ipynb.

A class-conditional network trained with **label dropout** (each label replaced by
``NULL_CLASS``, "no class", with probability ``p_uncond``) predicts both
eps_cond = eps_theta(x_t, t, y) and eps_uncond = eps_theta(x_t, t, NULL_CLASS). Guidance
extrapolates from the second towards the first:

    eps_hat = eps_uncond + scale * (eps_cond - eps_uncond)

scale = 0 is the unconditional model, scale = 1 the conditional one, scale > 1 pushes past
it. Ho & Salimans write the same thing as (1 + w) eps_cond - w eps_uncond, so their
w = scale - 1; diffusers' ``guidance_scale`` is our scale.

Guidance and clipping: a large scale extrapolates eps so far that the implied x0_hat leaves
[-1, 1]. helpers.sampling's steps clip x0_hat but keep the model's eps for the "direction
pointing to x_t" (diffusers' default), so the two halves of a DDIM step disagree and guided
samples fall apart. ``clip_consistent_eps`` re-derives eps from the clipped x0_hat, as GLIDE's
sampler and diffusers' ``DDIMScheduler.step(..., use_clipped_model_output=True)`` do;
``guided_samples`` (one scale) and ``guidance_sweep`` (many scales in one batched run, the
same x_T for each) sample that way.

What the scale trades is measured by helpers.guidance_metrics' ``sweep_metrics`` (fidelity,
diversity, saturation).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from helpers.models import NULL_CLASS, NUM_CLASSES
from helpers.sampling import EpsFn, clip_consistent_eps_fn, ddim_sample
from helpers.schedules import Schedule, per_row


def cfg_eps(eps_uncond: Tensor, eps_cond: Tensor, scale: float | Tensor) -> Tensor:
    """eps_hat = eps_uncond + s (eps_cond - eps_uncond): Ho & Salimans 2022, eq. 6, whose w is our s - 1.

    s is one scale, or one per row of the batch.

    The one home of classifier-free guidance (helpers.sd uses it for Stable Diffusion).
    Derived in notebooks/05_guidance.ipynb §2.
    """
    if eps_uncond.shape != eps_cond.shape:
        raise ValueError(
            f"eps_uncond has shape {tuple(eps_uncond.shape)} but eps_cond has shape {tuple(eps_cond.shape)}."
        )
    return eps_uncond + scale * (eps_cond - eps_uncond)  # (B, ...)


def _labels(y: Tensor | int, batch: int) -> Tensor:
    """y as an int64 tensor of shape (batch,): one digit for every row, or one label per row."""
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"labels y must be integer digits, got dtype {y.dtype}.")
    y = y.long().expand(batch) if y.ndim == 0 else y.long()
    if y.shape != (batch,):
        raise ValueError(f"give one label, or one per row of x_t: shape ({batch},), got {tuple(y.shape)}.")
    if batch and (y.min() < 0 or y.max() > NULL_CLASS):
        raise ValueError(f"labels must be digits 0..{NUM_CLASSES - 1} or NULL_CLASS = {NULL_CLASS}.")
    return y


def _scales(scale: float | Tensor, x_t: Tensor) -> float | Tensor:
    """A float scale as is, or one scale per row of x_t shaped (B, 1, ..., 1) to broadcast over the pixels."""
    if not isinstance(scale, Tensor) or scale.ndim == 0:
        return float(scale)
    if scale.shape != x_t.shape[:1]:
        raise ValueError(f"give one scale, or one per row of x_t: shape ({x_t.shape[0]},), got {tuple(scale.shape)}.")
    return per_row(scale.to(x_t), x_t.ndim)  # (B, 1, ..., 1)


def guided_eps_fn(
    model: nn.Module, y: Tensor | int, scale: float | Tensor, negative: Tensor | int = NULL_CLASS
) -> EpsFn:
    """eps_fn(x_t, t) for the samplers: cond and uncond in one batched forward, combined by cfg_eps.

    At scale 1, or when the negative label is the condition itself, it runs the one branch that decides the answer.

    ``scale`` is one scale, or one per row. ``negative`` replaces "no class" in the second branch
    with a label to steer away from, as Stable Diffusion's negative prompt replaces the empty prompt
    (negative conditioning, derived in notebooks/08_editing.ipynb §4).
    Derived in notebooks/05_guidance.ipynb §2.
    """

    def eps_fn(x_t: Tensor, t: Tensor) -> Tensor:
        B = x_t.shape[0]
        labels = _labels(y, B).to(x_t.device)  # (B,)
        away = _labels(negative, B).to(x_t.device)  # (B,), "no class" unless a negative label is given
        scales = _scales(scale, x_t)
        if torch.equal(labels, away) or (isinstance(scale, int | float) and scale == 1):
            # one branch is enough: cfg_eps(e, e, s) = e at any s, and cfg_eps(u, c, 1) = c (as diffusers'
            # pipelines skip the unconditional batch at guidance_scale <= 1)
            return model(x_t, t, labels)
        eps = model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([labels, away]))  # (2B, ...)
        eps_cond, eps_uncond = eps.chunk(2)  # (B, ...) each
        return cfg_eps(eps_uncond, eps_cond, scales)

    return eps_fn


def guided_samples(
    model: nn.Module,
    schedule: Schedule,
    y: Tensor,
    scale: float,
    num_steps: int = 50,
    seed: int = 0,
    consistent: bool = True,
    progress: bool = False,
) -> Tensor:
    """Deterministic DDIM samples (eta = 0) of digits y (B,) at one scale.

    eps is re-derived from the clipped x0_hat unless consistent=False.

    The same seed gives the same x_T at every scale, so a sweep over scales changes only the guidance.
    Derived in notebooks/05_guidance.ipynb §3.
    """
    generator = torch.Generator().manual_seed(seed)
    shape = (y.shape[0], *model.image_shape)  # (B, 1, 8, 8)
    eps_fn = guided_eps_fn(model, y, scale)
    if consistent:
        eps_fn = clip_consistent_eps_fn(eps_fn, schedule)
    return ddim_sample(eps_fn, shape, schedule, num_steps, generator=generator, progress=progress)


def guidance_sweep(
    model: nn.Module,
    schedule: Schedule,
    y: Tensor,
    scales: list[float],
    num_steps: int = 50,
    seed: int = 0,
    consistent: bool = True,
    progress: bool = False,
) -> dict[float, Tensor]:
    """guided_samples at every scale from one batched run: {scale: samples (B, 1, 8, 8)}, the same x_T for each scale.

    One forward pass on len(scales) * 2B images per step instead of len(scales) passes on 2B: the
    same arithmetic, far fewer calls (each call has a fixed cost, large on a busy CPU).
    Derived in notebooks/05_guidance.ipynb §4.
    """
    B, k = y.shape[0], len(scales)
    x_T = torch.randn((B, *model.image_shape), generator=torch.Generator().manual_seed(seed))  # guided_samples' x_T
    scale = torch.tensor([float(s) for s in scales]).repeat_interleave(B)  # (k B,), one scale per row
    eps_fn = guided_eps_fn(model, y.repeat(k), scale)
    if consistent:
        eps_fn = clip_consistent_eps_fn(eps_fn, schedule)
    x = ddim_sample(
        eps_fn, (k * B, *model.image_shape), schedule, num_steps, x_T=x_T.repeat(k, 1, 1, 1), progress=progress
    )  # (k B, 1, 8, 8)
    return dict(zip(scales, x.split(B)))
