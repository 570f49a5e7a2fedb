"""Score the shapes model: prompts with known answers, the attributes read back from its pictures, rates with SEs.

Derived in notebooks/09_text_to_image.ipynb §4.
"""

from __future__ import annotations

import numpy as np

from helpers.text_to_image.readers import read
from helpers.text_to_image.scenes import Shape, caption, make_scenes
from helpers.verdicts import Estimate, rate

ATTRIBUTES = ("colour", "shape", "size", "place")  # what a one-shape prompt asks for


def prompts(n: int, seed: int, split: str = "train", two: bool = False) -> tuple[list[str], list[tuple[Shape, ...]]]:
    """``n`` full prompts of ``split`` (every attribute said) and the shapes each asks for: one shape each, or two.

    Derived in notebooks/09_text_to_image.ipynb §4.
    """
    captions, scenes = [], []
    k = 0
    while len(captions) < n:
        _, _, drawn = make_scenes(4 * n, seed=seed + 1000 * k, split=split)
        for shapes in drawn:
            if (len(shapes) == 2) == two and len(captions) < n:
                captions.append(caption(shapes))
                scenes.append(shapes)
        k += 1
    return captions, scenes


def _matches(reading: Shape, shape: Shape, attribute: str) -> bool:
    if attribute == "place":
        return (reading.row, reading.column) == (shape.row, shape.column)
    return getattr(reading, attribute) == getattr(shape, attribute)


def score_one_shape(
    images: np.ndarray, asked: list[tuple[Shape, ...]], attributes: tuple[str, ...] = ATTRIBUTES
) -> dict[str, Estimate]:
    """For one-shape prompts: the rate at which the picture holds exactly one shape, each attribute is right, and
    "all" of ``attributes`` are (an attribute counts as wrong when the picture does not hold exactly one shape).

    Derived in notebooks/09_text_to_image.ipynb §4.
    """
    hits = dict.fromkeys(("count", *attributes, "all"), 0)
    for image, (shape,) in zip(images, asked):
        found = read(image)
        if len(found) != 1:
            continue
        hits["count"] += 1
        right = [_matches(found[0], shape, attribute) for attribute in attributes]
        for attribute, ok in zip(attributes, right):
            hits[attribute] += ok
        hits["all"] += all(right)
    return {k: rate(v / len(asked), len(asked)) for k, v in hits.items()}


def read_right(images: np.ndarray, drawn: list[tuple[Shape, ...]]) -> Estimate:
    """The share of drawn shapes that the readers get entirely right: each matched to the nearest shape read.

    Derived in notebooks/09_text_to_image.ipynb §4.
    """
    right = total = 0
    for image, shapes in zip(images, drawn):
        found = read(image)
        total += len(shapes)
        if len(found) != len(shapes):
            continue
        for s in shapes:
            nearest = min(found, key=lambda r: (r.y - s.y) ** 2 + (r.x - s.x) ** 2)
            right += all(_matches(nearest, s, a) for a in ATTRIBUTES)
    return rate(right / total, total)


def score_two_shapes(images: np.ndarray, asked: list[tuple[Shape, ...]]) -> dict[str, Estimate]:
    """For two-shape prompts: two shapes drawn; both colour-and-shape pairs right; and the relation right too.

    Derived in notebooks/09_text_to_image.ipynb §4.
    """
    hits = {"count": 0, "both objects": 0, "relation": 0}
    for image, (a, b) in zip(images, asked):
        found = read(image)
        if len(found) != 2:
            continue
        hits["count"] += 1
        first = [f for f in found if (f.colour, f.shape) == (a.colour, a.shape)]
        second = [f for f in found if (f.colour, f.shape) == (b.colour, b.shape)]
        if first and second:
            hits["both objects"] += 1
            left_of = a.row == b.row
            dy, dx = second[0].y - first[0].y, second[0].x - first[0].x
            hits["relation"] += (dx > abs(dy)) if left_of else (dy > abs(dx))
    return {k: rate(v / len(asked), len(asked)) for k, v in hits.items()}


def diversity(images: np.ndarray) -> np.ndarray:
    """Per prompt, the mean pixel distance (RMS over pixels) between two of its pictures: (K,) from (K, S, 3, H, W)
    for K prompts × S seeds.

    Derived in notebooks/09_text_to_image.ipynb §4.
    """
    flat = images.reshape(images.shape[0], images.shape[1], -1)  # (K, S, D)
    s = flat.shape[1]
    gaps = np.sqrt(((flat[:, :, None] - flat[:, None]) ** 2).mean(-1))  # (K, S, S)
    return gaps.sum(axis=(1, 2)) / (s * (s - 1))
