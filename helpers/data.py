"""Training data shipped with scikit-learn: the two-moons point cloud and the 8x8 handwritten digits.

Nothing is downloaded: ``make_moons`` generates its points, and ``load_digits`` reads the 1,797
UCI digits bundled inside scikit-learn. Every draw is seeded. Derived in notebooks/03_training_objective.ipynb §1.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split

DIGITS_SHAPE = (1, 8, 8)  # (C, H, W)
DIGITS_MAX = 16.0  # load_digits stores pixel intensities as integers 0..16
HELD_OUT_FRACTION = 0.3
SPLIT_SEED = 0


def standardise(x: np.ndarray) -> np.ndarray:
    """Shift and scale each column to mean 0 and standard deviation 1, the scale of eps ~ N(0, I).

    Derived in notebooks/03_training_objective.ipynb §3.
    """
    return (x - x.mean(axis=0)) / x.std(axis=0)


def two_moons(n: int = 2000, noise: float = 0.05, seed: int = 0) -> torch.Tensor:
    """Two interleaved half circles (sklearn's make_moons), standardised, shape (n, 2), float32.

    Derived in notebooks/03_training_objective.ipynb §3.
    """
    x, _ = datasets.make_moons(n_samples=n, noise=noise, random_state=seed)
    return torch.from_numpy(standardise(x)).float()  # (n, 2)


def pixels_to_x0(pixels: np.ndarray) -> np.ndarray:
    """Map load_digits intensities 0..16 to [-1, 1], the range DDPM uses for images (Ho et al. 2020, sec. 3.3).

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    return pixels / (DIGITS_MAX / 2) - 1.0


@lru_cache(maxsize=1)
def _digits_numpy() -> tuple[np.ndarray, np.ndarray]:
    bunch = datasets.load_digits()
    x0 = pixels_to_x0(bunch.images.astype(np.float32)).reshape(-1, *DIGITS_SHAPE)  # (N, 1, 8, 8)
    return x0.astype(np.float32), bunch.target.astype(np.int64)


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 handwritten digits (sklearn's load_digits) as x0 in [-1, 1], shape (N, 1, 8, 8), and labels (N,).

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    x0, y = _digits_numpy()
    return torch.from_numpy(x0.copy()), torch.from_numpy(y.copy())


class DigitsSplit(NamedTuple):
    """The digits cut once into a training part and a held-out part.

    Derived in notebooks/03_training_objective.ipynb §4.
    """

    x_train: torch.Tensor  # (N_train, 1, 8, 8)
    y_train: torch.Tensor  # (N_train,)
    x_held_out: torch.Tensor  # (N_held_out, 1, 8, 8)
    y_held_out: torch.Tensor  # (N_held_out,)


def digits_split(held_out: float = HELD_OUT_FRACTION, seed: int = SPLIT_SEED) -> DigitsSplit:
    """A stratified train/held-out split of the digits (30% held out, fixed seed): 1,257 to train on, 540 to evaluate.

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    x0, y = _digits_numpy()
    x_tr, x_ho, y_tr, y_ho = train_test_split(x0, y, test_size=held_out, random_state=seed, stratify=y)
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    return DigitsSplit(as_tensor(x_tr), as_tensor(y_tr), as_tensor(x_ho), as_tensor(y_ho))
