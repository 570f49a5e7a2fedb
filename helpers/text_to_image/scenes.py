"""Captioned scenes made by code: one or two coloured shapes on a black 32×32 canvas, captioned by a small grammar.

``make_scenes(n, seed)`` draws ``n`` scenes and their captions, the same ones for the same seed. Some
colour-and-shape pairs (``HELD_OUT``) never appear in training, so that a model's pictures of them show
whether it composes what it learned. Derived in notebooks/09_text_to_image.ipynb §1.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

SIZE = 32  # pixels per side
COLOURS = {  # name: RGB in [0, 1], far apart so that the colour of a pixel names its shape's colour
    "red": (0.9, 0.1, 0.1),
    "green": (0.1, 0.8, 0.2),
    "blue": (0.2, 0.3, 1.0),
    "yellow": (0.95, 0.85, 0.1),
}
SHAPES = ("circle", "square", "triangle")
SIZES = {"small": 4.5, "large": 8.0}  # half-width in pixels
ROWS, COLUMNS = ("top", "middle", "bottom"), ("left", "centre", "right")
PLACES = {  # (row, column): the words of the caption
    ("top", "left"): "at the top left",
    ("top", "centre"): "at the top",
    ("top", "right"): "at the top right",
    ("middle", "left"): "on the left",
    ("middle", "centre"): "in the middle",
    ("middle", "right"): "on the right",
    ("bottom", "left"): "at the bottom left",
    ("bottom", "centre"): "at the bottom",
    ("bottom", "right"): "at the bottom right",
}
CENTRES = (8.5, 16.0, 23.5)  # pixel centre of each row or column
RELATIONS = ("left of", "above")
HELD_OUT = (("green", "triangle"), ("blue", "circle"))  # never drawn in training
SUPERSAMPLE = 4  # each pixel is the mean of 4×4 samples, so edges are smooth
PARTS = {"size": 0.25, "place": 0.25}  # chance that a one-shape caption leaves this part out
TWO_SHAPES = 0.25  # chance that a scene has two shapes


@dataclass(frozen=True)
class Shape:
    """One shape of a scene: what it is, and where (pixel centre ``y``, ``x``; half-width ``r``).

    Derived in notebooks/09_text_to_image.ipynb §1.
    """

    colour: str
    shape: str
    size: str
    row: str
    column: str
    y: float
    x: float

    @property
    def r(self) -> float:
        return SIZES[self.size]


def shape_mask(shape: str, y: float, x: float, r: float, size: int = SIZE) -> np.ndarray:
    """The fraction of each pixel that ``shape`` covers, shape (size, size), in [0, 1].

    Derived in notebooks/09_text_to_image.ipynb §1.
    """
    n = size * SUPERSAMPLE
    grid = (np.arange(n) + 0.5) / SUPERSAMPLE
    yy, xx = np.meshgrid(grid, grid, indexing="ij")  # (n, n) sample positions in pixels
    dy, dx = yy - y, xx - x
    if shape == "circle":
        inside = dy**2 + dx**2 <= r**2
    elif shape == "square":
        inside = (np.abs(dy) <= r * 0.85) & (np.abs(dx) <= r * 0.85)  # the same area as the circle, nearly
    elif shape == "triangle":  # apex up; the base as wide as the height
        inside = (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
    else:
        raise ValueError(f"unknown shape {shape!r}; the shapes are {', '.join(SHAPES)}.")
    return inside.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))


def render(shapes: list[Shape] | tuple[Shape, ...]) -> np.ndarray:
    """The scene as an RGB image in [-1, 1], shape (3, SIZE, SIZE), black where no shape is.

    Derived in notebooks/09_text_to_image.ipynb §1.
    """
    image = np.zeros((3, SIZE, SIZE))
    for s in shapes:
        cover = shape_mask(s.shape, s.y, s.x, s.r)  # (H, W)
        image = image * (1 - cover) + np.multiply.outer(COLOURS[s.colour], cover)  # (3, H, W)
    return (image * 2 - 1).astype(np.float32)


def caption(shapes: list[Shape] | tuple[Shape, ...], parts: tuple[str, ...] = ("size", "place")) -> str:
    """The grammar's caption: "a small red circle at the top left", or "a red circle left of a blue square".

    Derived in notebooks/09_text_to_image.ipynb §1.
    """
    if len(shapes) == 2:
        a, b = shapes
        relation = "left of" if a.row == b.row else "above"
        return f"a {a.colour} {a.shape} {relation} a {b.colour} {b.shape}"
    (s,) = shapes
    words = ["a", s.size if "size" in parts else "", s.colour, s.shape]
    if "place" in parts:
        words.append(PLACES[(s.row, s.column)])
    return " ".join(w for w in words if w)


def allowed(colour: str, shape: str, split: str) -> bool:
    """Whether a colour-and-shape pair belongs to ``split``: "train" draws every pair except HELD_OUT.

    Derived in notebooks/09_text_to_image.ipynb §1.
    """
    return split == "all" or ((colour, shape) in HELD_OUT) == (split == "held_out")


def _one_shape(rng: np.random.Generator, split: str, size: str | None = None, cell=None) -> Shape:
    """A random shape of ``split`` with jitter, of the given size and (row, column) cell when they are given."""
    pairs = [p for p in itertools.product(COLOURS, SHAPES) if allowed(*p, split)]
    colour, shape = pairs[rng.integers(len(pairs))]
    size = size or list(SIZES)[rng.integers(len(SIZES))]
    row, column = cell or (ROWS[rng.integers(3)], COLUMNS[rng.integers(3)])
    jitter = rng.uniform(-1.5, 1.5, size=2)
    y, x = CENTRES[ROWS.index(row)] + jitter[0], CENTRES[COLUMNS.index(column)] + jitter[1]
    return Shape(colour, shape, size, row, column, float(y), float(x))


def _two_shapes(rng: np.random.Generator, split: str) -> tuple[Shape, Shape]:
    """Two small shapes of different colours in neighbouring cells of one row ("left of") or column ("above")."""
    line, first = rng.integers(3), rng.integers(2)
    if rng.random() < 0.5:  # same row: the first is left of the second
        cells = [(ROWS[line], COLUMNS[first]), (ROWS[line], COLUMNS[first + 1])]
    else:  # same column: the first is above the second
        cells = [(ROWS[first], COLUMNS[line]), (ROWS[first + 1], COLUMNS[line])]
    a = _one_shape(rng, split, "small", cells[0])
    b = _one_shape(rng, split, "small", cells[1])
    while b.colour == a.colour:
        b = _one_shape(rng, split, "small", cells[1])
    return a, b


def make_scenes(n: int, seed: int = 0, split: str = "train") -> tuple[np.ndarray, list[str], list[tuple[Shape, ...]]]:
    """``n`` scenes of ``split`` ("train", "held_out" or "all"): images (n, 3, SIZE, SIZE) in [-1, 1], captions, shapes.

    Derived in notebooks/09_text_to_image.ipynb §1.
    """
    if split not in ("train", "held_out", "all"):
        raise ValueError(f"split must be 'train', 'held_out' or 'all', got {split!r}.")
    rng = np.random.default_rng(seed)
    images, captions, scenes = np.empty((n, 3, SIZE, SIZE), np.float32), [], []
    for i in range(n):
        shapes = _two_shapes(rng, split) if rng.random() < TWO_SHAPES else (_one_shape(rng, split),)
        parts = tuple(p for p, chance in PARTS.items() if rng.random() >= chance)
        images[i] = render(shapes)
        captions.append(caption(shapes, parts))
        scenes.append(shapes)
    return images, captions, scenes


def vocabulary() -> list[str]:
    """Every word the grammar uses, in a fixed order.

    Derived in notebooks/09_text_to_image.ipynb §1.
    """
    words = ["a", *SIZES, *COLOURS, *SHAPES, *RELATIONS, *PLACES.values()]
    return list(dict.fromkeys(w for phrase in words for w in phrase.split()))


def corpus() -> str:
    """One caption per line for every one-shape scene the grammar can describe, and every two-shape pair of each
    relation: the text a tokenizer for these captions is trained on.

    Derived in notebooks/09_text_to_image.ipynb §1.
    """
    lines = []
    for colour, shape, size, place in itertools.product(COLOURS, SHAPES, SIZES, PLACES.values()):
        lines.append(f"a {size} {colour} {shape} {place}")
    pairs = list(itertools.product(COLOURS, SHAPES))
    for (c1, s1), (c2, s2), relation in itertools.product(pairs, pairs, RELATIONS):
        lines.append(f"a {c1} {s1} {relation} a {c2} {s2}")
    return "\n".join(lines)
