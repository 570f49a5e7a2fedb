"""``StableDiffusionImg2ImgPipeline`` unrolled: encode the image, noise it to the strength's t, denoise, decode.

Derived in notebooks/08_editing.ipynb §6.
"""

from __future__ import annotations

import torch

from helpers.editing import strength_timesteps
from helpers.sd.loop import decode, denoise, seeded_generator, text_embeddings


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
