"""Training data shipped with scikit-learn: 2D toy point clouds and the 8x8 handwritten digits.

Nothing is downloaded: ``make_moons`` and ``make_swiss_roll`` generate their points, and
``load_digits`` reads the 1,797 UCI digits bundled inside scikit-learn. Every draw is seeded.
Used from notebooks/03_training_objective.ipynb on.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split

TOY_SETS = ("moons", "swiss_roll")
DIGITS_SHAPE = (1, 8, 8)  # (C, H, W)
DIGITS_MAX = 16.0  # load_digits stores pixel intensities as integers 0..16
HELD_OUT_FRACTION = 0.3
SPLIT_SEED = 0


def standardise(x: np.ndarray) -> np.ndarray:
    """Shift and scale each column to mean 0 and standard deviation 1, the scale of eps ~ N(0, I)."""
    return (x - x.mean(axis=0)) / x.std(axis=0)


def two_moons(n: int = 2000, noise: float = 0.05, seed: int = 0) -> torch.Tensor:
    """Two interleaved half circles (sklearn's make_moons), standardised, shape (n, 2), float32."""
    x, _ = datasets.make_moons(n_samples=n, noise=noise, random_state=seed)
    return torch.from_numpy(standardise(x)).float()  # (n, 2)


def swiss_roll(n: int = 2000, noise: float = 0.3, seed: int = 0) -> torch.Tensor:
    """The 2D swiss roll: the (x, z) columns of sklearn's 3D make_swiss_roll, standardised, shape (n, 2)."""
    x, _ = datasets.make_swiss_roll(n_samples=n, noise=noise, random_state=seed)
    return torch.from_numpy(standardise(x[:, [0, 2]])).float()  # (n, 2)


def toy_2d(name: str, n: int = 2000, seed: int = 0) -> torch.Tensor:
    """The toy set called ``name`` ("moons" or "swiss_roll"), standardised, shape (n, 2)."""
    if name == "moons":
        return two_moons(n, seed=seed)
    if name == "swiss_roll":
        return swiss_roll(n, seed=seed)
    raise ValueError(f"unknown toy set {name!r}; choose one of {TOY_SETS}.")


def pixels_to_x0(pixels: np.ndarray) -> np.ndarray:
    """Map load_digits intensities 0..16 to [-1, 1], the range DDPM uses for images (Ho et al. 2020, sec. 3.3)."""
    return pixels / (DIGITS_MAX / 2) - 1.0


def x0_to_unit(x: torch.Tensor) -> torch.Tensor:
    """Map images from [-1, 1] to [0, 1] for display, clipping what a sampler overshoots."""
    return ((x + 1) / 2).clamp(0, 1)


@lru_cache(maxsize=1)
def _digits_numpy() -> tuple[np.ndarray, np.ndarray]:
    bunch = datasets.load_digits()
    x0 = pixels_to_x0(bunch.images.astype(np.float32)).reshape(-1, *DIGITS_SHAPE)  # (N, 1, 8, 8)
    return x0.astype(np.float32), bunch.target.astype(np.int64)


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 handwritten digits (sklearn's load_digits) as x0 in [-1, 1], shape (N, 1, 8, 8), and labels (N,)."""
    x0, y = _digits_numpy()
    return torch.from_numpy(x0.copy()), torch.from_numpy(y.copy())


class DigitsSplit(NamedTuple):
    """The digits cut once into a training part and a held-out part."""

    x_train: torch.Tensor  # (N_train, 1, 8, 8)
    y_train: torch.Tensor  # (N_train,)
    x_held_out: torch.Tensor  # (N_held_out, 1, 8, 8)
    y_held_out: torch.Tensor  # (N_held_out,)


def digits_split(held_out: float = HELD_OUT_FRACTION, seed: int = SPLIT_SEED) -> DigitsSplit:
    """A stratified train/held-out split of the digits (30% held out, fixed seed): 1,257 to train on, 540 to evaluate."""
    x0, y = _digits_numpy()
    x_tr, x_ho, y_tr, y_ho = train_test_split(x0, y, test_size=held_out, random_state=seed, stratify=y)
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    return DigitsSplit(as_tensor(x_tr), as_tensor(y_tr), as_tensor(x_ho), as_tensor(y_ho))
