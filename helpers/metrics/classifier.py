"""The course's digits classifier: a small MLP on the training digits, for class accuracy and 64-number features.

Fitted deterministically by :func:`fit_classifier` and shipped in helpers/weights/digits_classifier.safetensors
(``python scripts/fit_classifier.py`` writes it; tests/test_metrics.py fits it again and compares), so that every
process loads the same classifier in milliseconds. Derived in notebooks/03_training_objective.ipynb §4.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from helpers.data import DIGITS_SHAPE, digits_split

CLASSIFIER_SEED = 0
FEATURE_DIM = 64
SHIPPED = Path(__file__).resolve().parent.parent / "weights" / "digits_classifier.safetensors"


class DigitsClassifier(nn.Module):
    """MLP 64 -> 128 -> 64 -> 10 on flattened 8x8 digits in [-1, 1]; its features: the 64 units before the last layer.

    Derived in notebooks/03_training_objective.ipynb §4.
    """

    def __init__(self, hidden: int = 128, feature_dim: int = FEATURE_DIM) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, feature_dim), nn.ReLU()
        )
        self.head = nn.Linear(feature_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features, (B, 64); pixels are clipped to [-1, 1] first, as samplers may overshoot."""
        if x.ndim != 4 or tuple(x.shape[1:]) != DIGITS_SHAPE:
            raise ValueError(
                f"the digits classifier expects images of shape (B, 1, 8, 8) in [-1, 1], got {tuple(x.shape)}."
            )
        return self.body(x.float().clamp(-1, 1))  # (B, 64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, 10) logits

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most likely digit for each image, (B,)."""
        return self(x).argmax(dim=1)


def fit_classifier(
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int = 300,
    lr: float = 1e-2,
    noise: float = 0.2,
    seed: int = CLASSIFIER_SEED,
) -> DigitsClassifier:
    """Full-batch Adam on cross-entropy, with Gaussian pixel noise (std ``noise``) so imperfect samples are still read.

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, without touching the caller's global RNG
        torch.manual_seed(seed)
        clf = DigitsClassifier()
    optimizer = torch.optim.Adam(clf.parameters(), lr=lr, weight_decay=1e-4)
    threads = torch.get_num_threads()
    torch.set_num_threads(
        1
    )  # float rounding depends on the thread count; one thread gives the same classifier everywhere
    try:
        with torch.enable_grad():  # a caller may sit under no_grad (digit_features does)
            for _ in range(steps):
                x_noisy = x + noise * torch.randn(x.shape, generator=generator)  # (N, 1, 8, 8)
                loss = F.cross_entropy(clf(x_noisy), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return clf.eval().requires_grad_(False)


@lru_cache(maxsize=1)
def digits_classifier() -> DigitsClassifier:
    """The course's digits classifier: fit_classifier on the training split, loaded from its shipped file (cached).

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    if not SHIPPED.is_file():
        raise FileNotFoundError(f"{SHIPPED} is missing; write it with `python scripts/fit_classifier.py`.")
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten: leave the caller's RNG alone
        clf = DigitsClassifier()
    clf.load_state_dict(load_file(str(SHIPPED)))
    return clf.eval().requires_grad_(False)


def classifier_held_out_accuracy() -> float:
    """Accuracy of digits_classifier() on the held-out real digits it never saw (about 0.99).

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    split = digits_split()
    return class_accuracy(split.x_held_out, split.y_held_out)


def class_accuracy(x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of images x (B, 1, 8, 8) that the classifier reads as their intended label y (B,); chance is 0.1.

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    y = torch.as_tensor(y)
    if y.shape != x.shape[:1]:
        raise ValueError(f"give one intended label per image: y of shape ({x.shape[0]},), got {tuple(y.shape)}.")
    return (digits_classifier().predict(x) == y).float().mean().item()


@torch.no_grad()
def digit_features(x: torch.Tensor) -> np.ndarray:
    """Classifier features of images x (B, 1, 8, 8) as a float64 array (B, 64).

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    return digits_classifier().features(x).double().numpy()
