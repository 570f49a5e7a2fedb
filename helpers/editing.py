"""Editing with a trained diffusion model: image-to-image, inpainting, DDIM inversion and interpolation.

Derived in notebooks/08_editing.ipynb. Every technique here leaves the network untouched and
changes only where sampling starts or what it keeps:

- image-to-image (SDEdit, Meng et al. 2022): noise a real image to an intermediate t with
  ``q_sample``, then sample from there; ``strength`` picks the t (diffusers' convention);
- inpainting: after every step, paste the known pixels back, noised to that step's t
  (Lugmayr et al. 2022, RePaint, eq. 8), optionally jumping back and forth ("resampling"),
  one step or ``jump`` steps at a time (RePaint §4.2, its jump length j);
- DDIM inversion (Song et al. 2021, §4.3; Mokady et al. 2023): run deterministic DDIM from
  t = 0 upwards, so that sampling from the result returns the image;
- interpolation between two x_T with spherical interpolation (Shoemake 1985), which keeps the
  norm of Gaussian noise where linear interpolation shrinks it;
- Stable Diffusion's image-to-image: ``StableDiffusionImg2ImgPipeline`` unrolled by hand on
  Module 06's loop (``img2img_by_hand``): encode the image, noise it to the strength's t, denoise, decode.

Negative conditioning needs no code of its own: it is ``cfg_eps`` with the negative label's
prediction in place of the unconditional one (``helpers.guidance.guided_eps_fn(..., negative=)``).
Masks follow diffusers' inpainting pipelines: 1 marks the pixels to generate, 0 the pixels to keep.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from tqdm.auto import tqdm

from helpers.sampling import EpsFn, check_eps, ddim_sample, ddim_update, make_timesteps, timestep_pairs
from helpers.sampling.loops import batch_t, randn
from helpers.sampling.steps import _ddpm_step, _predict_x0  # the steps without their checks, for loops that checked t
from helpers.schedules import Schedule, per_row, q_sample
from helpers.sd.loop import decode, denoise, seeded_generator, text_embeddings


def _check_strength(strength: float) -> float:
    if not 0.0 <= float(strength) <= 1.0:
        raise ValueError(f"strength must be in [0, 1] (0 keeps the image, 1 starts from pure noise), got {strength}.")
    return float(strength)


def strength_timesteps(timesteps: list[int], strength: float) -> list[int]:
    """The timesteps image-to-image runs: the last int(N * strength) of a sampler's N, as diffusers' img2img keeps.

    The first of them is the t the input is noised to; strength 1 runs them all, from pure noise.
    Derived in notebooks/08_editing.ipynb §1.
    """
    n = len(timesteps)
    kept = min(int(n * _check_strength(strength)), n)  # StableDiffusionImg2ImgPipeline.get_timesteps
    return list(timesteps)[n - kept :]


def sdedit(
    eps_fn: EpsFn,
    x0: Tensor,
    strength: float,
    schedule: Schedule,
    num_steps: int = 50,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Image-to-image (SDEdit, Meng et al. 2022): x0 (B, ...) noised to the strength's t, then DDIM (eta = 0) to t = 0.

    Derived in notebooks/08_editing.ipynb §1.
    """
    timesteps = strength_timesteps(make_timesteps(schedule.T, num_steps), strength)
    if not timesteps:  # strength so small that no step runs: the image comes back as it was
        return x0.clone()
    x_t = q_sample(x0, timesteps[0], randn(tuple(x0.shape), generator, x0.device, x0.dtype), schedule)
    return ddim_sample(eps_fn, tuple(x0.shape), schedule, timesteps=timesteps, x_T=x_t, progress=False)


def inpaint_merge(x_generated: Tensor, x_known: Tensor, mask: Tensor) -> Tensor:
    """mask * generated + (1 - mask) * known: RePaint's eq. 8, and the merge of diffusers' inpainting pipelines.

    ``mask`` is 1 where pixels are generated and 0 where they are kept; it broadcasts over the batch.
    Derived in notebooks/08_editing.ipynb §2.
    """
    return mask * x_generated + (1 - mask) * x_known


def renoise(x_prev: Tensor, t_prev: int, t: int, schedule: Schedule, noise: Tensor) -> Tensor:
    """One jump back up, x_t ~ q(x_t | x_{t_prev}) = N(sqrt(a) x_{t_prev}, (1 - a) I), a = alpha_bar_t / alpha_bar_prev.

    RePaint's "resampling" (Lugmayr et al. 2022, Algorithm 1, line 12). Derived in notebooks/08_editing.ipynb §2.
    """
    a = float(schedule.alpha_bar[t] / schedule.alpha_bar[t_prev])
    return a**0.5 * x_prev + (1 - a) ** 0.5 * noise


class Inpainted(NamedTuple):
    """The inpainted images, and the network's own last image before the known pixels were pasted back.

    Derived in notebooks/08_editing.ipynb §2.
    """

    image: Tensor  # (B, ...): the known pixels exactly, the generated ones elsewhere
    generated: Tensor  # (B, ...): what the last step produced everywhere, known region included


def repaint_blocks(timesteps: list[int], jump: int = 1) -> list[list[tuple[int, int]]]:
    """The sampler's (t, t_prev) steps cut into runs of ``jump`` steps from t = T down; the last run may be shorter.

    Resampling repeats each run, jumping back from its last t_prev to its first t in between: RePaint's
    jump length j (Lugmayr et al. 2022, §4.2; diffusers' ``RePaintScheduler.set_timesteps(jump_length=)``).
    Derived in notebooks/08_editing.ipynb §2.
    """
    if jump < 1:
        raise ValueError(f"jump must be 1 (jump back one step) or more, got {jump}.")
    pairs = timestep_pairs(timesteps)
    return [pairs[i : i + jump] for i in range(0, len(pairs), jump)]


def inpaint(
    eps_fn: EpsFn,
    x0: Tensor,
    mask: Tensor,
    schedule: Schedule,
    num_steps: int = 25,
    resample: int = 1,
    generator: torch.Generator | None = None,
    progress: bool = False,
    jump: int = 1,
) -> Inpainted:
    """Fill the pixels where mask = 1 with DDPM steps, pasting the known pixels back at every step's t.

    ``resample`` = U > 1 runs each stretch of ``jump`` = j steps U times, jumping back up the stretch
    with ``renoise`` in between (RePaint, Lugmayr et al. 2022, Algorithm 1 and §4.2); U = 1 is plain
    replacement, and j = 1 jumps back one step. Derived in notebooks/08_editing.ipynb §2.
    """
    if resample < 1:
        raise ValueError(f"resample must be 1 (no resampling) or more, got {resample}.")
    shape = tuple(x0.shape)
    draw = lambda: randn(shape, generator, x0.device, x0.dtype)
    x_t, generated = draw(), x0
    blocks = repaint_blocks(make_timesteps(schedule.T, num_steps), jump)
    for block in tqdm(blocks, desc="inpainting", disable=not progress):
        for u in range(resample):
            for t, t_prev in block:
                with torch.no_grad():
                    eps = eps_fn(x_t, batch_t(t, shape[0], x0.device))  # (B, ...)
                    check_eps(eps, x_t)
                    generated = _ddpm_step(x_t, t, t_prev, eps, schedule, draw() if t_prev else None)
                known = q_sample(x0, t_prev, draw(), schedule) if t_prev else x0  # the known pixels at t_prev
                x_t = inpaint_merge(generated, known, mask)
            if u < resample - 1:  # back up the whole stretch with the forward process, q(x_top | x_bottom)
                x_t = renoise(x_t, block[-1][1], block[0][0], schedule, draw())
    return Inpainted(x_t, generated)


def ddim_invert_step(x_t: Tensor, t: int, t_next: int, eps: Tensor, schedule: Schedule) -> Tensor:
    """x_{t_next} = sqrt(alpha_bar_next) x0_hat + sqrt(1 - alpha_bar_next) eps, DDIM's eq. 12 run upwards (t < t_next).

    t = 0 is the clean image (alpha_bar_0 = 1); eps is the network's prediction, taken as unchanged over the step.
    Derived in notebooks/08_editing.ipynb §3.
    """
    if not 0 <= t < t_next <= schedule.T:
        raise ValueError(
            f"inversion goes up in t: need 0 <= t < t_next <= T = {schedule.T}, got t={t}, t_next={t_next}."
        )
    check_eps(eps, x_t)
    return _ddim_invert_step(x_t, t, t_next, eps, schedule)


def _ddim_invert_step(x_t: Tensor, t: int, t_next: int, eps: Tensor, schedule: Schedule) -> Tensor:
    """ddim_invert_step for t < t_next already checked (ddim_invert's timesteps, checked once)."""
    return ddim_update(_predict_x0(x_t, t, eps, schedule), eps, schedule.alpha_bar[t_next])  # (B, ...)


def ddim_invert(
    eps_fn: EpsFn,
    x0: Tensor,
    schedule: Schedule,
    num_steps: int = 50,
    spacing: str = "leading",
    strength: float = 1.0,
) -> tuple[Tensor, list[int]]:
    """DDIM inversion of x0 (B, ...): (x_t, timesteps), where ddim_sample(..., timesteps=timesteps, x_T=x_t) returns x0.

    eps is evaluated at the t the step goes to, as diffusers' DDIMInverseScheduler and null-text
    inversion do. "leading" spacing stops at t = T - T/N + 1: at t = T itself the cosine schedule's
    sqrt(alpha_bar_T) is 5e-5 and sampling back would magnify any mismatch 20,000 times.
    ``strength`` < 1 inverts only part of the way, to the t image-to-image would start from.
    Derived in notebooks/08_editing.ipynb §3.
    """
    timesteps = strength_timesteps(make_timesteps(schedule.T, num_steps, spacing), strength)
    x_t, t = x0, 0
    with torch.no_grad():
        for t_next in reversed(timesteps):
            eps = eps_fn(x_t, batch_t(t_next, x0.shape[0], x0.device))  # (B, ...)
            check_eps(eps, x_t)
            x_t = _ddim_invert_step(x_t, t, t_next, eps, schedule)
            t = t_next
    return x_t, timesteps


def slerp(z0: Tensor, z1: Tensor, w: float) -> Tensor:
    """Spherical interpolation of each row pair: sin((1 - w) theta) / sin(theta) z0 + sin(w theta) / sin(theta) z1.

    theta is the angle between z0 and z1 (Shoemake 1985); w = 0 gives z0, w = 1 gives z1.
    Derived in notebooks/08_editing.ipynb §5.
    """
    if z0.shape != z1.shape:
        raise ValueError(f"z0 has shape {tuple(z0.shape)} but z1 has shape {tuple(z1.shape)}.")
    a, b = z0.flatten(1), z1.flatten(1)  # (B, D)
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
    theta = per_row(torch.arccos(cos.clamp(-1.0, 1.0)), z0.ndim)  # (B, 1, ..., 1)
    sin = torch.sin(theta)
    w = torch.as_tensor(w, dtype=z0.dtype, device=z0.device)  # one weight, or one per row shaped (B, 1, ..., 1)
    parallel = sin < 1e-6  # (nearly) the same direction: slerp tends to lerp there
    c0 = torch.where(parallel, 1 - w, torch.sin((1 - w) * theta) / sin.clamp_min(1e-6))
    c1 = torch.where(parallel, w, torch.sin(w * theta) / sin.clamp_min(1e-6))
    return c0 * z0 + c1 * z1


def encode_image(pipe, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """An image (B, 3, H, W) in [0, 1] to VAE latents (B, 4, H/f, W/f): preprocess, sample the encoder, scale.

    Derived in notebooks/08_editing.ipynb §6.
    """
    pixels = pipe.image_processor.preprocess(image).to(pipe._execution_device, pipe.vae.dtype)  # [-1, 1]
    latents = pipe.vae.encode(pixels).latent_dist.sample(generator)  # (B, 4, h, w)
    return pipe.vae.config.scaling_factor * latents


def img2img_timesteps(pipe, steps: int, strength: float) -> torch.Tensor:
    """The scheduler's timesteps for ``steps`` steps, of which image-to-image runs the last int(steps * strength).

    Derived in notebooks/08_editing.ipynb §6.
    """
    scheduler = pipe.scheduler
    scheduler.set_timesteps(steps, device=pipe._execution_device)
    kept = len(strength_timesteps(list(range(steps)), strength))  # the same rule as on digits
    start = (steps - kept) * scheduler.order
    if hasattr(scheduler, "set_begin_index"):  # schedulers that count their own steps start counting there
        scheduler.set_begin_index(start)
    return scheduler.timesteps[start:]


@torch.no_grad()
def img2img_by_hand(
    pipe,
    image: torch.Tensor,
    prompt: str,
    strength: float = 0.8,
    steps: int = 50,
    guidance_scale: float = 7.5,
    seed: int = 0,
    progress: bool = True,
) -> torch.Tensor:
    """``StableDiffusionImg2ImgPipeline(**pipe.components)(prompt, image, ...)`` unrolled: (B, 3, H, W) in [0, 1].

    Same seed, same image as the pipeline with ``generator=seeded_generator(seed)`` and output_type="pt".
    Derived in notebooks/08_editing.ipynb §6.
    """
    generator = seeded_generator(seed)
    text = text_embeddings(pipe, prompt, use_cfg=guidance_scale > 1)  # (1 or 2, 77, D)
    timesteps = img2img_timesteps(pipe, steps, strength)
    if len(timesteps) == 0:
        raise ValueError(f"strength {strength} with {steps} steps runs no step; raise one of them.")
    latents = encode_image(pipe, image, generator)  # the encoder draws from the generator first, as the pipeline does
    from diffusers.utils.torch_utils import randn_tensor

    noise = randn_tensor(latents.shape, generator=generator, device=latents.device, dtype=latents.dtype)
    latents = pipe.scheduler.add_noise(latents, noise, timesteps[:1].repeat(latents.shape[0]))  # q_sample at t_start
    latents = denoise(pipe, latents, text.to(latents.dtype), guidance_scale, generator, progress, timesteps)
    return decode(pipe, latents)
