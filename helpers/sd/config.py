"""Stable Diffusion 1.5's configuration, copied from its */config.json files, and its tiny twin's.

Latent diffusion is Rombach et al. 2022. Derived in notebooks/06_stable_diffusion.ipynb §1.
"""

from __future__ import annotations

from typing import Any

SD15_MODEL_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"
REMOVED_MODEL_ID = "runwayml/stable-diffusion-v1-5"  # deleted from the Hub in 2024; old tutorials still use it

# The configurations of stable-diffusion-v1-5/stable-diffusion-v1-5 (its */config.json files).
SD15_UNET_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": 8,  # in SD 1.5 this number is really the count of heads, a historical misnomer
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,  # the CLIP text encoder's hidden size
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,  # latent pixels: 64 * 8 = 512 image pixels
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
SD15_VAE_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "scaling_factor": 0.18215,  # rescales latents to about unit variance before diffusion
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
SD15_TEXT_ENCODER_CONFIG: dict[str, Any] = {  # CLIP ViT-L/14's text tower
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "dropout": 0.0,
    "eos_token_id": 2,
    "hidden_act": "quick_gelu",
    "hidden_size": 768,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 1,
    "projection_dim": 768,
    "vocab_size": 49408,
}
SD15_SCHEDULER_CONFIG: dict[str, Any] = {  # PNDMScheduler; DDIM and friends read the same keys
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}
SD15_TOKENIZER_MAX_LENGTH = 77

# The tiny twin: the same classes and block layout, much narrower, so it runs in milliseconds on a CPU.
TINY_UNET_CONFIG: dict[str, Any] = {
    **SD15_UNET_CONFIG,
    "block_out_channels": [32, 32, 64, 64],
    "cross_attention_dim": 32,
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 8,  # 8 * 8 = 64-pixel images
}
TINY_VAE_CONFIG: dict[str, Any] = {
    **SD15_VAE_CONFIG,
    "block_out_channels": [16, 16, 32, 32],  # four blocks, so the same 8x factor as SD 1.5
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 64,
}
TINY_TEXT_ENCODER_CONFIG: dict[str, Any] = {
    **SD15_TEXT_ENCODER_CONFIG,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "projection_dim": 32,
    # vocab_size and the special token ids come from the shipped tokenizer (see build_tiny_pipeline)
}
TINY_SEED = 0
_TINY_BUILD = 1  # bump to rebuild every cached tiny pipeline


def vae_factor(vae_config: dict[str, Any]) -> int:
    """How many image pixels one latent pixel spans per side: each VAE block after the first halves the size.

    Derived in notebooks/06_stable_diffusion.ipynb §1.
    """
    return 2 ** (len(vae_config["block_out_channels"]) - 1)


def latent_shape(height: int, width: int, vae_config: dict[str, Any] = SD15_VAE_CONFIG) -> tuple[int, int, int]:
    """The (channels, height, width) of the latent that an image of ``height`` x ``width`` encodes to.

    Derived in notebooks/06_stable_diffusion.ipynb §1.
    """
    f = vae_factor(vae_config)
    if height % f or width % f:
        raise ValueError(
            f"height and width must be multiples of the VAE factor {f}, got {height} x {width}; "
            f"use {height // f * f} x {width // f * f}."
        )
    return vae_config["latent_channels"], height // f, width // f
