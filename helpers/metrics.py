"""How good are the samples? A digits classifier, class accuracy, a Fréchet distance and the energy distance.

- ``digits_classifier()``: a small MLP trained (deterministically, in under a second) on the
  training split of helpers.data.digits_split(); it supplies predictions and 64-dim features.
- ``class_accuracy(x, y)``: the share of generated digits that the classifier reads as the label
  they were asked for (the "classification accuracy" of conditional samples).
- ``digits_frechet_distance(x)``: the Fréchet distance between Gaussians fitted to classifier
  features of generated and real digits, the recipe of FID (Heusel et al. 2017) with our small
  classifier in place of Inception. Compare it with ``real_frechet_baseline(n)``, the distance
  between two real samples of the same size: finite samples never reach 0.
- ``energy_distance(a, b)``: a distance between 2D point clouds (Székely & Rizzo 2013).
Used from notebooks/03_training_objective.ipynb on.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from helpers.data import DIGITS_SHAPE, digits_split

CLASSIFIER_SEED = 0
FEATURE_DIM = 64


class DigitsClassifier(nn.Module):
    """MLP 64 -> 128 -> 64 -> 10 on flattened 8x8 digits in [-1, 1]; the 64 ReLU units before the last layer are its features."""

    def __init__(self, hidden: int = 128, feature_dim: int = FEATURE_DIM) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features, (B, 64); pixels are clipped to [-1, 1] first, as samplers may overshoot."""
        if x.ndim != 4 or tuple(x.shape[1:]) != DIGITS_SHAPE:
            raise ValueError(f"the digits classifier expects images of shape (B, 1, 8, 8) in [-1, 1], got {tuple(x.shape)}.")
        return self.body(x.float().clamp(-1, 1))  # (B, 64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, 10) logits

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most likely digit for each image, (B,)."""
        return self(x).argmax(dim=1)


def fit_classifier(x: torch.Tensor, y: torch.Tensor, steps: int = 300, lr: float = 1e-2, noise: float = 0.2,
                   seed: int = CLASSIFIER_SEED) -> DigitsClassifier:
    """Full-batch Adam on cross-entropy, with Gaussian pixel noise (std ``noise``) so that slightly imperfect samples are still read."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, without touching the caller's global RNG
        torch.manual_seed(seed)
        clf = DigitsClassifier()
    optimizer = torch.optim.Adam(clf.parameters(), lr=lr, weight_decay=1e-4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # float rounding depends on the thread count; one thread gives the same classifier everywhere
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
    clf.eval()
    for p in clf.parameters():
        p.requires_grad_(False)
    return clf


@lru_cache(maxsize=1)
def digits_classifier() -> DigitsClassifier:
    """The course's digits classifier, trained once per process on the training split (cached)."""
    split = digits_split()
    return fit_classifier(split.x_train, split.y_train)


def classifier_held_out_accuracy() -> float:
    """Accuracy of digits_classifier() on the held-out real digits it never saw (about 0.99)."""
    split = digits_split()
    return class_accuracy(split.x_held_out, split.y_held_out)


def class_accuracy(x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of images x (B, 1, 8, 8) that the classifier reads as their intended label y (B,); chance is 0.1."""
    y = torch.as_tensor(y)
    if y.shape != x.shape[:1]:
        raise ValueError(f"give one intended label per image: y of shape ({x.shape[0]},), got {tuple(y.shape)}.")
    return (digits_classifier().predict(x) == y).float().mean().item()


@torch.no_grad()
def digit_features(x: torch.Tensor) -> np.ndarray:
    """Classifier features of images x (B, 1, 8, 8) as a float64 array (B, 64)."""
    return digits_classifier().features(x).double().numpy()


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance_from_stats(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), the squared 2-Wasserstein distance of two Gaussians (Dowson & Landau 1982)."""
    root1 = _sqrtm_psd(sigma1)
    # Tr (S1 S2)^(1/2) = Tr (S1^(1/2) S2 S1^(1/2))^(1/2); the inner matrix is symmetric PSD, so eigh is stable
    eigenvalues = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    d2 = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    return float(max(d2, 0.0))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted (mean, covariance) to two feature sets of shape (N, D) (Heusel et al. 2017)."""
    fa, fb = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    if fa.ndim != 2 or fb.ndim != 2 or fa.shape[1] != fb.shape[1]:
        raise ValueError(f"feature sets must be (N, D) arrays with the same D, got {fa.shape} and {fb.shape}.")
    stats = [(f.mean(axis=0), np.cov(f, rowvar=False)) for f in (fa, fb)]
    return frechet_distance_from_stats(*stats[0], *stats[1])


def reference_digits(n: int, seed: int = 0) -> torch.Tensor:
    """n real training digits drawn without replacement (seeded), the reference set for Fréchet distances."""
    x_train = digits_split().x_train
    if not 1 < n <= x_train.shape[0]:
        raise ValueError(f"n must be between 2 and {x_train.shape[0]} (the training digits), got {n}.")
    idx = torch.randperm(x_train.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
    return x_train[idx]  # (n, 1, 8, 8)


def digits_frechet_distance(x: torch.Tensor, seed: int = 0) -> float:
    """Fréchet distance in classifier-feature space between digits x (B, 1, 8, 8) and B real training digits."""
    return frechet_distance(digit_features(x), digit_features(reference_digits(x.shape[0], seed)))


def real_frechet_baseline(n: int | None = None, seed: int = 0) -> float:
    """digits_frechet_distance of n held-out real digits (all 540 by default): the score of a perfect generator at that n."""
    x_held_out = digits_split().x_held_out
    n = x_held_out.shape[0] if n is None else n
    if not 1 < n <= x_held_out.shape[0]:
        raise ValueError(f"n must be between 2 and {x_held_out.shape[0]} (the held-out digits), got {n}.")
    return digits_frechet_distance(x_held_out[:n], seed)


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Energy distance sqrt(2 E|X - Y| - E|X - X'| - E|Y - Y'|) between point clouds (N, D) and (M, D) (Székely & Rizzo 2013).

    Expectations are plain averages over all pairs (the V-statistic), so the value is >= 0, is 0
    for identical clouds and, for 1D data, equals scipy.stats.energy_distance. It compares whole
    distributions with no kernel bandwidth to choose. Memory grows as N * M.
    """
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"point clouds must be (N, D) and (M, D) with the same D, got {tuple(a.shape)} and {tuple(b.shape)}.")
    d2 = 2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean()
    return float(d2.clamp_min(0).sqrt())
