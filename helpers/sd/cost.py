"""What latent diffusion saves, counted and timed: parameters and FLOPs on the meta device, median wall times.

Derived in notebooks/06_stable_diffusion.ipynb §1.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from helpers.models import count_parameters  # noqa: F401 (the one home; used here on the meta device)
from helpers.sd.config import SD15_TOKENIZER_MAX_LENGTH


def on_meta(cls: type, config: dict[str, Any]) -> torch.nn.Module:
    """Build a diffusers model from ``config`` on the meta device: shapes without memory or weights.

    Derived in notebooks/06_stable_diffusion.ipynb §1.
    """
    with torch.device("meta"):
        return cls(**config)


def unet_flops(config: dict[str, Any], channels: int, size: int, batch: int = 1) -> dict[str, int]:
    """Floating-point operations of one U-Net forward on a (batch, channels, size, size) input, by op, counted on meta.

    Counted by torch.utils.flop_counter (a multiply-add is 2 FLOPs); nothing is computed, only shapes.
    Keys: "convolution", "attention" (the batched matmuls of self- and cross-attention), "linear"
    (projections and feed-forward layers) and "total".
    Derived in notebooks/06_stable_diffusion.ipynb §1.
    """
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    unet = on_meta(
        UNet2DConditionModel, {**config, "in_channels": channels, "out_channels": channels, "sample_size": size}
    )
    with torch.device("meta"):
        x = torch.zeros(batch, channels, size, size)  # (B, C, H, W)
        text = torch.zeros(batch, SD15_TOKENIZER_MAX_LENGTH, config["cross_attention_dim"])  # (B, 77, D)
        with FlopCounterMode(display=False) as counter:
            unet(x, torch.tensor([500] * batch), encoder_hidden_states=text)
    ops = {str(k).removeprefix("aten."): v for k, v in counter.get_flop_counts()["Global"].items()}
    groups = {
        "convolution": ops.get("convolution", 0),
        "attention": ops.get("bmm", 0),
        "linear": ops.get("addmm", 0) + ops.get("mm", 0),
    }
    groups["total"] = counter.get_total_flops()
    return groups


def median_seconds(fn, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after ``warmup`` untimed runs.

    Derived in notebooks/06_stable_diffusion.ipynb §1.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]
