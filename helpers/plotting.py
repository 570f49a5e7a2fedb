"""Shared figures: image grids of digits and animations of a sampler's trajectory. Used from notebooks/04_sampling.ipynb on.

Images are tensors (B, C, H, W) in [-1, 1], the range DDPM works in (Ho et al. 2020, sec. 3.3);
values a sampler overshoots are clipped for display only.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import animation


def image_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile images x (B, C, H, W) in [-1, 1] into one array in [0, 1], (rows, cols) or (rows, cols, C); pad shows white."""
    x = ((x.detach().float().cpu() + 1) / 2).clamp(0, 1).numpy()  # (B, C, H, W) in [0, 1]
    B, C, H, W = x.shape
    ncol = min(B, nrow or int(np.ceil(np.sqrt(B))))
    nrows = int(np.ceil(B / ncol))
    background = 0.0 if C == 1 else 1.0  # one channel is drawn with gray_r (0 is white), colour as is
    grid = np.full((C, nrows * (H + pad) - pad, ncol * (W + pad) - pad), background, dtype=np.float32)
    for i in range(B):
        r, c = divmod(i, ncol)
        grid[:, r * (H + pad):r * (H + pad) + H, c * (W + pad):c * (W + pad) + W] = x[i]
    return grid[0] if C == 1 else grid.transpose(1, 2, 0)


def show_images(x: torch.Tensor, nrow: int | None = None, title: str | None = None, ax: plt.Axes | None = None,
                size: float = 0.6) -> plt.Axes:
    """Draw images x (B, C, H, W) in [-1, 1] as one grid, dark digits on white (size: inches per image)."""
    grid = image_grid(x, nrow)
    if ax is None:
        ncol = min(x.shape[0], nrow or int(np.ceil(np.sqrt(x.shape[0]))))
        nrows = int(np.ceil(x.shape[0] / ncol))
        _, ax = plt.subplots(figsize=(max(1.5, size * ncol), size * nrows + (0.35 if title else 0)))
    ax.imshow(grid, cmap="gray_r" if grid.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def animate_images(frames: Sequence[torch.Tensor], titles: Sequence[str], nrow: int | None = None,
                   size: float = 0.6, dpi: int = 60, interval: int = 120) -> animation.FuncAnimation:
    """An animation with one image grid per frame (each (B, C, H, W) in [-1, 1]) and its own title; show it with to_jshtml()."""
    if len(frames) != len(titles):
        raise ValueError(f"give one title per frame: {len(frames)} frames, {len(titles)} titles.")
    ax = show_images(frames[0], nrow, titles[0], size=size)
    fig = ax.figure
    fig.set_dpi(dpi)
    image = ax.images[0]

    def draw(i: int):
        image.set_data(image_grid(frames[i], nrow))
        ax.set_title(titles[i], fontsize=9)
        return [image]

    anim = animation.FuncAnimation(fig, draw, frames=len(frames), interval=interval, blit=False)
    plt.close(fig)  # the animation is shown through its HTML, not as a static figure
    return anim
