"""Small seeded builders that several test files share: a tiny MLP denoiser and a pair of noise tensors."""

from __future__ import annotations

import torch

from helpers.models import MLPDenoiser


def small_mlp() -> MLPDenoiser:
    """A fresh MLPDenoiser (hidden 64, depth 2, T = 100) with the weights of torch seed 0: every call the same."""
    torch.manual_seed(0)
    return MLPDenoiser(hidden=64, depth=2, T=100)


def noise_pair(shape: tuple[int, ...], seed: int = 0, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:
    """Two standard normal tensors of ``shape`` drawn one after the other from a generator seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=dtype), torch.randn(shape, generator=g, dtype=dtype)
