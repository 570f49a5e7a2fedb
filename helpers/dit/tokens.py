"""From an image to a sequence of tokens and back: patches, their 2-D position and the timestep's features.

The layouts are diffusers' (``PatchEmbed`` and ``DiTTransformer2DModel``'s unpatchify), so that the course's DiT
loads diffusers' weights unchanged. Derived in notebooks/10_diffusion_transformers.ipynb §1.
"""

from __future__ import annotations

import torch
from torch import Tensor

from helpers.models import sinusoidal_embedding


def _check_patch(shape: tuple[int, ...], patch: int) -> None:
    if len(shape) != 4:
        raise ValueError(f"patchify takes images (B, C, H, W), got shape {tuple(shape)}.")
    if patch < 1 or shape[2] % patch or shape[3] % patch:
        raise ValueError(f"the patch size must divide the image's height and width {shape[2:]}; got patch={patch}.")


def patchify(x: Tensor, patch: int) -> Tensor:
    """Cut images (B, C, H, W) into (H/p)(W/p) patches, row by row: tokens (B, N, p·p·C), each patch's pixels
    in (row, column, channel) order.

    Derived in notebooks/10_diffusion_transformers.ipynb §1.
    """
    _check_patch(tuple(x.shape), patch)
    B, C, H, W = x.shape
    x = x.reshape(B, C, H // patch, patch, W // patch, patch)  # (B, C, h, p, w, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(B, (H // patch) * (W // patch), patch * patch * C)


def unpatchify(tokens: Tensor, patch: int, channels: int, height: int, width: int | None = None) -> Tensor:
    """The inverse of :func:`patchify`: tokens (B, N, p·p·C) back to images (B, C, H, W).

    Derived in notebooks/10_diffusion_transformers.ipynb §1.
    """
    width = height if width is None else width
    h, w = height // patch, width // patch
    if tokens.ndim != 3 or tokens.shape[1:] != (h * w, patch * patch * channels):
        raise ValueError(
            f"expected tokens of shape (B, {h * w}, {patch * patch * channels}) for {channels}×{height}×{width} "
            f"images in {patch}×{patch} patches, got {tuple(tokens.shape)}."
        )
    x = tokens.reshape(-1, h, w, patch, patch, channels)  # (B, h, w, p, p, C)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(-1, channels, height, width)


def sincos_1d(dim: int, positions: Tensor) -> Tensor:
    """Sin-cos features of positions (N,) at ``dim / 2`` frequencies 1 / 10000^(2i/dim): (N, dim), sines first.

    Vaswani et al. 2017, sec. 3.5. Derived in notebooks/10_diffusion_transformers.ipynb §1.
    """
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))  # (dim/2,)
    angles = torch.outer(positions.reshape(-1).double(), omega)  # (N, dim/2)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_2d(dim: int, grid: int) -> Tensor:
    """The 2-D position embedding of a grid × grid of patches (MAE, He et al. 2022; DiT): (grid², dim) in float32.

    The first half of each row encodes the patch's column, the second half its row, as diffusers' PatchEmbed does.
    Derived in notebooks/10_diffusion_transformers.ipynb §1.
    """
    if dim % 4:
        raise ValueError(f"the width must be a multiple of 4 for a 2-D sin-cos embedding, got {dim}.")
    rows, columns = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    return torch.cat([sincos_1d(dim // 2, columns), sincos_1d(dim // 2, rows)], dim=1).float()


def timestep_features(t: Tensor, dim: int = 256) -> Tensor:
    """The timestep's sinusoidal features as DiT takes them, cosines first: (B, dim).

    It is Module 03's ``sinusoidal_embedding`` with its halves swapped, diffusers'
    ``Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=1)``.
    Derived in notebooks/10_diffusion_transformers.ipynb §2.
    """
    features = sinusoidal_embedding(t, dim)
    return torch.cat([features[:, dim // 2 :], features[:, : dim // 2]], dim=1)
