"""Shared figures: image grids of digits and animations of a sampler's trajectory.

Derived in notebooks/04_sampling.ipynb.

Images are tensors (B, C, H, W) in [-1, 1], the range DDPM works in (Ho et al. 2020, sec. 3.3);
values a sampler overshoots are clipped for display only.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

from helpers.images import to_unit


def image_grid(x: torch.Tensor, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile images x (B, C, H, W) in [-1, 1] into one array in [0, 1], (rows, cols) or (rows, cols, C); pad shows white.

    Derived in notebooks/04_sampling.ipynb §4.
    """
    x = to_unit(x.detach().float().cpu()).numpy()  # (B, C, H, W) in [0, 1]
    B, C, H, W = x.shape
    ncol = min(B, nrow or int(np.ceil(np.sqrt(B))))
    nrows = int(np.ceil(B / ncol))
    background = 0.0 if C == 1 else 1.0  # one channel is drawn with gray_r (0 is white), colour as is
    grid = np.full((C, nrows * (H + pad) - pad, ncol * (W + pad) - pad), background, dtype=np.float32)
    for i in range(B):
        r, c = divmod(i, ncol)
        grid[:, r * (H + pad) : r * (H + pad) + H, c * (W + pad) : c * (W + pad) + W] = x[i]
    return grid[0] if C == 1 else grid.transpose(1, 2, 0)


def show_images(
    x: torch.Tensor, nrow: int | None = None, title: str | None = None, ax: plt.Axes | None = None, size: float = 0.6
) -> plt.Axes:
    """Draw images x (B, C, H, W) in [-1, 1] as one grid, dark digits on white (size: inches per image).

    Derived in notebooks/04_sampling.ipynb §4.
    """
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


@dataclass(frozen=True)
class Animation:
    """An animated GIF: it plays by itself in JupyterLab, Colab, GitHub and static pages, with no kernel or script.

    Derived in notebooks/04_sampling.ipynb §4.
    """

    gif: bytes
    frames: int
    width: int
    height: int

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The GIF as an <img> (what JupyterLab and nbconvert pick) and as image/gif (for front ends that prefer it)."""
        data = base64.b64encode(self.gif).decode("ascii")
        img = (
            f"<img src='data:image/gif;base64,{data}' width='{self.width}' height='{self.height}' "
            f"alt='animation, {self.frames} frames'/>"
        )
        return {"text/html": img, "image/gif": data, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return (
            f"<animation: {self.frames} frames, {self.width}x{self.height} pixels, {len(self.gif) / 1024:.0f} KiB GIF>"
        )


def _render(fig: plt.Figure) -> Image.Image:
    fig.canvas.draw()
    return Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])


def animate_images(
    frames: Sequence[torch.Tensor],
    titles: Sequence[str],
    nrow: int | None = None,
    size: float = 0.6,
    dpi: int = 60,
    interval: int = 120,
    hold: int = 1500,
) -> Animation:
    """A looping animation with one image grid per frame (each (B, C, H, W) in [-1, 1]) and its own title.

    Each frame shows for ``interval`` ms and the last one for ``hold`` ms, then it starts again.
    Derived in notebooks/04_sampling.ipynb §4.
    """
    if len(frames) != len(titles):
        raise ValueError(f"give one title per frame: {len(frames)} frames, {len(titles)} titles.")
    ax = show_images(frames[0], nrow, titles[0], size=size)
    fig, image = ax.figure, ax.images[0]
    fig.set_dpi(dpi)
    pictures = []
    for frame, title in zip(frames, titles):
        image.set_data(image_grid(frame, nrow))
        ax.set_title(title, fontsize=9)
        pictures.append(_render(fig).convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
    plt.close(fig)  # shown as the GIF, not as a static figure
    buffer = io.BytesIO()
    durations = [interval] * (len(pictures) - 1) + [hold]
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    return Animation(buffer.getvalue(), len(pictures), *pictures[0].size)
