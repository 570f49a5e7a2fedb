"""The four parts of the shapes model, each one the diffusers or transformers class Stable Diffusion uses, made small.

A 32×32 RGB scene becomes a 4×8×8 latent (AutoencoderKL, three blocks: a factor of 4 per side); a caption
becomes 12 vectors of 64 numbers (CLIPTextModel, two layers); the denoiser is a UNet2DConditionModel whose
cross-attention reads those vectors; the scheduler is diffusers' on the course's cosine schedule
(Nichol & Dhariwal 2021, diffusers' ``squaredcos_cap_v2``). Derived in notebooks/09_text_to_image.ipynb §2.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import torch

from helpers.sd.tokenizer import check_tokenizer, tokenizer_files
from helpers.text_to_image.scenes import SIZE, corpus

MAX_TOKENS = 12  # start + the longest caption's 8 words + end, with room to spare
HIDDEN = 64  # the text encoder's width, which is the U-Net's cross-attention width

VAE_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3,
    "block_out_channels": [16, 32, 32],  # three blocks: two halvings, 32 pixels -> 8 latent pixels
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 8,
    "sample_size": SIZE,
    "mid_block_add_attention": False,
}
TEXT_CONFIG: dict[str, Any] = {
    "hidden_size": HIDDEN,
    "intermediate_size": 4 * HIDDEN,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": MAX_TOKENS,
    "projection_dim": HIDDEN,
    "hidden_act": "quick_gelu",
    # vocab_size and the special token ids come from the tokenizer (see build_text_encoder)
}
UNET_CONFIG: dict[str, Any] = {
    "sample_size": SIZE // 4,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],  # text is read at 4×4 and in the middle block
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "cross_attention_dim": HIDDEN,
    "attention_head_dim": 4,  # heads, as in SD 1.5's config
    "norm_num_groups": 16,
}
SCHEDULER_CONFIG: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_schedule": "squaredcos_cap_v2",  # the course's cosine schedule (helpers.schedules.cosine_betas)
    "prediction_type": "epsilon",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "timestep_spacing": "leading",
}


def write_tokenizer(folder: Path) -> None:
    """A CLIP tokenizer trained on every caption the grammar can write (each word one token), into ``folder``.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tokenizer_files(corpus()).items():
        if name == "tokenizer_config.json":
            config = json.loads(text)
            text = json.dumps({**config, "model_max_length": MAX_TOKENS}, indent=2) + "\n"
        (folder / name).write_text(text, encoding="utf-8")


def build_tokenizer(folder: Path):
    """The grammar's CLIP tokenizer, written to ``folder`` and loaded back through CLIPTokenizer (and checked).

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    from transformers import CLIPTokenizer

    write_tokenizer(folder)
    tokenizer = CLIPTokenizer.from_pretrained(str(folder))
    check_tokenizer(tokenizer, len(json.loads((folder / "vocab.json").read_text(encoding="utf-8"))), "a red circle")
    return tokenizer


def build_text_encoder(tokenizer, seed: int = 0):
    """A freshly initialised CLIPTextModel sized by TEXT_CONFIG, with the tokenizer's vocabulary and special ids.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    from transformers import CLIPTextConfig, CLIPTextModel

    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    config = CLIPTextConfig(**TEXT_CONFIG, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **ids)
    torch.manual_seed(seed)
    return CLIPTextModel(config)


def build_vae(seed: int = 0):
    """A freshly initialised AutoencoderKL sized by VAE_CONFIG.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(**VAE_CONFIG)


def build_unet(seed: int = 0):
    """A freshly initialised UNet2DConditionModel sized by UNET_CONFIG.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(**UNET_CONFIG)


@functools.cache
def _compatible_schedulers() -> tuple[str, ...]:
    """The names of diffusers' schedulers that read the course's scheduler config, as diffusers lists them."""
    import diffusers

    return tuple(sorted(c.__name__ for c in diffusers.DDIMScheduler.from_config(SCHEDULER_CONFIG).compatibles))


def build_scheduler(name: str = "DDIMScheduler"):
    """diffusers' scheduler ``name`` on the course's cosine schedule, 1,000 training steps, predicting the noise.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    import diffusers

    known = _compatible_schedulers()
    if name not in known:
        raise ValueError(f"{name!r} is not a diffusers scheduler for this model; use one of: {', '.join(known)}.")
    return getattr(diffusers, name).from_config(SCHEDULER_CONFIG)
