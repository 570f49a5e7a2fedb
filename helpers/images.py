"""Real photographs that ship inside installed packages, as float arrays in [-1, 1].

Derived in notebooks/02_forward_process.ipynb.

No downloads: scikit-learn bundles two photos (``china.jpg``, a temple, and ``flower.jpg``) and
matplotlib bundles a portrait of Grace Hopper (``grace_hopper.jpg``).
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image

PHOTOS = ("temple", "flower", "grace hopper")


def _open(name: str) -> Image.Image:
    """The bundled photo called ``name`` as a PIL image (RGB)."""
    if name == "temple":
        from sklearn.datasets import load_sample_image

        return Image.fromarray(load_sample_image("china.jpg"))
    if name == "flower":
        from sklearn.datasets import load_sample_image

        return Image.fromarray(load_sample_image("flower.jpg"))
    if name == "grace hopper":
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            return Image.open(f).convert("RGB")
    raise ValueError(f"unknown photo {name!r}; choose one of {PHOTOS}.")


def center_square(image: Image.Image) -> Image.Image:
    """Crop the largest centred square out of ``image``.

    Derived in notebooks/02_forward_process.ipynb §4.
    """
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return image.crop((left, top, left + side, top + side))


@cache
def _load(name: str, size: int) -> np.ndarray:
    if not isinstance(size, (int, np.integer)) or size <= 0:
        raise ValueError(f"size must be a positive number of pixels, got {size!r}; use e.g. size=128.")
    image = center_square(_open(name)).resize((size, size), Image.Resampling.LANCZOS)
    x0 = np.asarray(image, dtype=np.float64) / 127.5 - 1.0  # [0, 255] -> [-1, 1], as DDPM trains on
    x0.setflags(write=False)  # cached: shared by every caller
    return x0


def load_photo(name: str = "temple", size: int = 128) -> np.ndarray:
    """A bundled photo ("temple", "flower" or "grace hopper"), centre-cropped, in [-1, 1], shape (size, size, 3).

    Derived in notebooks/02_forward_process.ipynb §4.
    """
    return _load(name, size).copy()


def to_unit(x):
    """Map an image from [-1, 1] (the range DDPM works in) to [0, 1] for display, clipping overshoot; numpy or torch.

    Written as x / 2 + 0.5, exactly as diffusers' VaeImageProcessor.denormalize, so decoded images match the pipeline's.
    Derived in notebooks/04_sampling.ipynb §4.
    """
    if isinstance(x, np.ndarray):
        return np.clip(x / 2 + 0.5, 0.0, 1.0)
    return (x / 2 + 0.5).clamp(0, 1)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Map an image in [-1, 1] to displayable bytes in [0, 255]; values outside are clipped, shape kept.

    Derived in notebooks/02_forward_process.ipynb §4.
    """
    return np.round((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def to_png(x: np.ndarray, scale: int = 1) -> bytes:
    """PNG bytes of an image in [-1, 1] of shape (H, W, 3), enlarged ``scale`` times with sharp pixels.

    Derived in notebooks/02_forward_process.ipynb §4.
    """
    image = Image.fromarray(to_uint8(x))
    if scale != 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
