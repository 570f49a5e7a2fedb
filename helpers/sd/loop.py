"""``pipe(prompt)`` unrolled: encode the text, start from latent noise, denoise with guidance, decode.

Derived in notebooks/06_stable_diffusion.ipynb §3.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from tqdm.auto import tqdm

from helpers.guidance import cfg_eps
from helpers.images import to_unit


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU generator: the same seed gives the same starting noise whichever device the pipeline is on.

    Derived in notebooks/06_stable_diffusion.ipynb §3.
    """
    return torch.Generator("cpu").manual_seed(seed)


def encode_prompt(pipe, prompt: str) -> torch.Tensor:
    """Tokenize ``prompt`` to 77 ids and run the CLIP text encoder: (1, 77, D) embeddings, as the pipeline does.

    Derived in notebooks/06_stable_diffusion.ipynb §4.
    """
    tokens = pipe.tokenizer(
        prompt, padding="max_length", max_length=pipe.tokenizer.model_max_length, truncation=True, return_tensors="pt"
    )
    embeddings = pipe.text_encoder(tokens.input_ids.to(pipe._execution_device))[0]  # (1, 77, D)
    return embeddings.to(dtype=pipe.text_encoder.dtype)


def decode_latents(pipe, latents: torch.Tensor) -> torch.Tensor:
    """Undo the VAE's scaling, decode, and map [-1, 1] to [0, 1]: (B, 4, h, w) latents -> (B, 3, H, W) image.

    Derived in notebooks/06_stable_diffusion.ipynb §4.
    """
    image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample  # (B, 3, H, W) in about [-1, 1]
    return to_unit(image)


def text_embeddings(pipe, prompt: str, use_cfg: bool) -> torch.Tensor:
    """Step 1: the prompt (and, for guidance, the empty prompt first) through the tokenizer and CLIP: (1 or 2, 77, D).

    Derived in notebooks/06_stable_diffusion.ipynb §4.
    """
    cond = encode_prompt(pipe, prompt)  # (1, 77, D)
    return torch.cat([encode_prompt(pipe, ""), cond]) if use_cfg else cond


def initial_latents(
    pipe, steps: int, height: int, width: int, generator: torch.Generator, dtype: torch.dtype
) -> torch.Tensor:
    """Step 2: Gaussian noise in latent space, scaled to the scheduler's first noise level, (1, 4, H/f, W/f).

    Derived in notebooks/06_stable_diffusion.ipynb §4.
    """
    from diffusers.utils.torch_utils import randn_tensor

    f = pipe.vae_scale_factor  # 2 ** (len(vae.config.block_out_channels) - 1)
    pipe.scheduler.set_timesteps(steps, device=pipe._execution_device)
    shape = (1, pipe.unet.config.in_channels, height // f, width // f)  # (1, 4, h, w)
    noise = randn_tensor(shape, generator=generator, device=pipe._execution_device, dtype=dtype)
    return noise * pipe.scheduler.init_noise_sigma


def denoise(
    pipe,
    latents: torch.Tensor,
    text: torch.Tensor,
    guidance_scale: float,
    generator: torch.Generator,
    progress: bool = True,
    timesteps: torch.Tensor | None = None,
) -> torch.Tensor:
    """Step 3: for each timestep, scale the input, predict eps for both texts in one batch, guide, and step.

    ``timesteps`` defaults to all of the scheduler's; image-to-image passes the last ones only.
    Derived in notebooks/06_stable_diffusion.ipynb §4.
    """
    use_cfg = text.shape[0] == 2
    step_kwargs = _extra_step_kwargs(pipe.scheduler, generator)
    timesteps = pipe.scheduler.timesteps if timesteps is None else timesteps
    for t in tqdm(timesteps, desc="denoising by hand", disable=not progress):
        x_in = torch.cat([latents] * 2) if use_cfg else latents  # (2, 4, h, w)
        x_in = pipe.scheduler.scale_model_input(x_in, t)
        eps = pipe.unet(x_in, t, encoder_hidden_states=text).sample  # (2, 4, h, w)
        if use_cfg:
            eps_uncond, eps_text = eps.chunk(2)
            eps = cfg_eps(eps_uncond, eps_text, guidance_scale)
        latents = pipe.scheduler.step(eps, t, latents, **step_kwargs).prev_sample
    return latents


def decode(pipe, latents: torch.Tensor) -> torch.Tensor:
    """Step 4: the VAE decoder, undoing its scaling factor, (B, 3, H, W) in [0, 1]; SD 1.5 also runs its safety checker.

    Derived in notebooks/06_stable_diffusion.ipynb §4.
    """
    if pipe.safety_checker is None:
        return decode_latents(pipe, latents)
    image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    image, nsfw = pipe.run_safety_checker(image, pipe._execution_device, latents.dtype)
    return pipe.image_processor.postprocess(image, output_type="pt", do_denormalize=[not n for n in nsfw])


@torch.no_grad()
def generate_by_hand(
    pipe,
    prompt: str,
    steps: int = 25,
    guidance_scale: float = 7.5,
    seed: int = 0,
    height: int | None = None,
    width: int | None = None,
    output_type: str = "pt",
    progress: bool = True,
) -> torch.Tensor:
    """``pipe(prompt, ...)`` unrolled: encode, start from noise, denoise with guidance, decode. Same seed, same image.

    Returns what ``pipe(..., generator=seeded_generator(seed), output_type=output_type).images``
    returns for ``output_type`` "pt" (B, 3, H, W) in [0, 1] or "latent" (B, 4, h, w).
    Derived in notebooks/06_stable_diffusion.ipynb §4.
    """
    if output_type not in ("pt", "latent"):
        raise ValueError(f"output_type must be 'pt' or 'latent', got {output_type!r}.")
    default = pipe.unet.config.sample_size * pipe.vae_scale_factor
    generator = seeded_generator(seed)
    text = text_embeddings(
        pipe, prompt, use_cfg=guidance_scale > 1
    )  # the pipeline skips the unconditional pass at s <= 1
    latents = initial_latents(pipe, steps, height or default, width or default, generator, text.dtype)
    latents = denoise(pipe, latents, text, guidance_scale, generator, progress)
    return latents if output_type == "latent" else decode(pipe, latents)


def _extra_step_kwargs(scheduler, generator: torch.Generator) -> dict[str, Any]:
    """What the pipeline passes to ``scheduler.step`` besides (eps, t, x_t): DDIM's eta, a sampler's generator."""
    accepted = inspect.signature(scheduler.step).parameters
    kwargs: dict[str, Any] = {}
    if "eta" in accepted:
        kwargs["eta"] = 0.0
    if "generator" in accepted:
        kwargs["generator"] = generator
    return kwargs
