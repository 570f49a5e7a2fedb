"""helpers.plotting: image grids, and the animation as a looping GIF that plays without a kernel."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.plotting import animate_images, image_grid


def test_image_grid_tiles_images_in_rows_with_white_padding():
    x = torch.stack([torch.full((1, 2, 2), v) for v in (-1.0, 0.0, 1.0)])  # (3, 1, 2, 2)
    grid = image_grid(x, nrow=2, pad=1)
    assert grid.shape == (5, 5)
    assert grid[0, 0] == 0.0 and grid[0, 3] == 0.5 and grid[3, 0] == 1.0  # [-1, 1] -> [0, 1]
    assert np.all(grid[:, 2] == 0.0)  # padding (0 is drawn white by gray_r)


def test_animation_is_a_looping_gif_with_one_frame_per_step():
    frames = [torch.full((4, 1, 8, 8), v) for v in np.linspace(-1, 1, 6)]
    anim = animate_images(frames, [f"step {k}" for k in range(6)], nrow=2, interval=50, hold=500)
    gif = Image.open(io.BytesIO(anim.gif))
    assert gif.format == "GIF" and gif.n_frames == anim.frames == 6 and gif.info["loop"] == 0
    first, last = np.asarray(gif.convert("L")), None
    gif.seek(5)
    last = np.asarray(gif.convert("L"))
    assert not np.array_equal(first, last), "the frames must differ"
    bundle = anim._repr_mimebundle_()
    assert bundle["text/html"].startswith("<img src='data:image/gif;base64,") and "image/gif" in bundle
    with pytest.raises(ValueError, match="one title per frame"):
        animate_images(frames, ["only one"])
