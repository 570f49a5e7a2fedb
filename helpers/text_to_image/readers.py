"""Read a generated scene back: how many shapes, and each one's colour, shape, size and place.

Colour, size and place are read exactly from the pixels (the nearest palette colour, the area, the
centroid's third of the canvas); the shape by a small classifier trained on the generated scenes.
Derived in notebooks/09_text_to_image.ipynb §4.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from helpers.text_to_image.scenes import COLOURS, COLUMNS, ROWS, SIZE, Shape, make_scenes

FOREGROUND = 0.35  # a pixel whose brightest channel (in [0, 1]) passes this belongs to a shape
MIN_AREA = 12  # pixels: smaller blobs are specks, not shapes
LARGE_AREA = 95  # pixels: small shapes cover 40-64, large ones 128-201
CROP = 20  # side of the window around a shape that the shape classifier sees


def _to_unit(image: np.ndarray) -> np.ndarray:
    """A (3, H, W) image in [-1, 1] as (H, W, 3) in [0, 1]."""
    image = np.asarray(image, dtype=np.float64)
    if image.shape != (3, SIZE, SIZE):
        raise ValueError(f"a scene is (3, {SIZE}, {SIZE}) in [-1, 1], got shape {image.shape}.")
    return np.clip((image.transpose(1, 2, 0) + 1) / 2, 0, 1)


def _crop(mask: np.ndarray, y: float, x: float) -> np.ndarray:
    """The CROP × CROP window of ``mask`` centred on (y, x), zero outside the canvas, pooled and flattened."""
    padded = np.pad(mask, CROP)
    top, left = int(round(y)) + CROP - CROP // 2, int(round(x)) + CROP - CROP // 2
    window = padded[top : top + CROP, left : left + CROP]
    return window.reshape(CROP // 2, 2, CROP // 2, 2).mean(axis=(1, 3)).ravel()  # pooled 2 × 2: 100 features


def blobs(image: np.ndarray) -> list[tuple[np.ndarray, float, float]]:
    """Each shape's (mask, y, x) in ``image`` (3, SIZE, SIZE): a connected blob of bright pixels of one colour.

    Splitting by colour keeps apart two shapes that touch (the two shapes of a scene differ in colour).

    Derived in notebooks/09_text_to_image.ipynb §4.
    """
    unit = _to_unit(image)
    nearest = _nearest_colour(unit)  # (H, W) palette index
    bright = unit.max(axis=2) > FOREGROUND
    found = []
    for c in range(len(COLOURS)):
        labels, n = ndimage.label(bright & (nearest == c))
        for k in range(1, n + 1):
            mask = labels == k
            if mask.sum() >= MIN_AREA:
                rows, columns = np.nonzero(mask)  # the box's centre, not the centroid, which sits low in a triangle
                found.append((mask, (rows.min() + rows.max() + 1) / 2, (columns.min() + columns.max() + 1) / 2))
    return found


def _nearest_colour(rgb: np.ndarray) -> np.ndarray:
    """The index of the palette colour of the same hue as each (..., 3) pixel: both scaled to a brightest channel of
    1, so that a dim edge pixel, half covered, reads as its shape's colour."""
    palette = np.array(list(COLOURS.values()))  # (C, 3)
    palette = palette / palette.max(axis=1, keepdims=True)
    hue = rgb / np.maximum(rgb.max(axis=-1, keepdims=True), 1e-6)
    return np.argmin(((hue[..., None, :] - palette) ** 2).sum(-1), axis=-1)


def colour_of(image: np.ndarray, mask: np.ndarray) -> str:
    """The palette colour of the same hue as the mean colour of the masked pixels.

    Derived in notebooks/09_text_to_image.ipynb §4.
    """
    return list(COLOURS)[int(_nearest_colour(_to_unit(image)[mask].mean(axis=0)))]


@lru_cache(maxsize=1)
def shape_classifier():
    """A logistic regression from a shape's CROP × CROP mask to its name, fitted on 1,500 generated scenes.

    Derived in notebooks/09_text_to_image.ipynb §4.
    """
    from sklearn.linear_model import LogisticRegression

    images, _, scenes = make_scenes(1500, seed=12345, split="all")
    features, names = [], []
    for image, shapes in zip(images, scenes):
        found = blobs(image)
        for s in shapes:  # the blob nearest each drawn shape is that shape
            mask, y, x = min(found, key=lambda b: (b[1] - s.y) ** 2 + (b[2] - s.x) ** 2)
            features.append(_crop(mask.astype(float), y, x))
            names.append(s.shape)
    return LogisticRegression(max_iter=2000).fit(np.array(features), names)


def read(image: np.ndarray) -> list[Shape]:
    """Every shape in ``image`` (3, SIZE, SIZE) in [-1, 1], top to bottom, left to right.

    Derived in notebooks/09_text_to_image.ipynb §4.
    """
    found = sorted(blobs(image), key=lambda b: (b[1], b[2]))
    if not found:
        return []
    kinds = shape_classifier().predict(np.array([_crop(m.astype(float), y, x) for m, y, x in found]))
    third = SIZE / 3
    return [
        Shape(
            colour=colour_of(image, mask),
            shape=str(kind),
            size="large" if mask.sum() >= LARGE_AREA else "small",
            row=ROWS[min(int(y // third), 2)],
            column=COLUMNS[min(int(x // third), 2)],
            y=y,
            x=x,
        )
        for (mask, y, x), kind in zip(found, kinds)
    ]
