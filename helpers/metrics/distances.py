"""Distances between sets of samples: the Fréchet distance, the kernel (KID) distance, and the energy distance.

The Fréchet distance (Heusel et al. 2017) fits one Gaussian to each set's classifier features; the
kernel distance (Bińkowski et al. 2018) is an unbiased MMD with a polynomial kernel, reported with
its standard error over random subsets; the energy distance (Székely & Rizzo 2013) compares 2D
point clouds directly. Derived in notebooks/03_training_objective.ipynb §3-4.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from helpers.data import digits_split
from helpers.metrics.classifier import digit_features


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance_from_stats(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)): the squared 2-Wasserstein distance of two Gaussians.

    Dowson & Landau 1982.

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    root1 = _sqrtm_psd(sigma1)
    # Tr (S1 S2)^(1/2) = Tr (S1^(1/2) S2 S1^(1/2))^(1/2); the inner matrix is symmetric PSD, so eigh is stable
    eigenvalues = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    d2 = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    return float(max(d2, 0.0))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets of shape (N, D) (Heusel et al. 2017).

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    fa, fb = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    if fa.ndim != 2 or fb.ndim != 2 or fa.shape[1] != fb.shape[1]:
        raise ValueError(f"feature sets must be (N, D) arrays with the same D, got {fa.shape} and {fb.shape}.")
    stats = [(f.mean(axis=0), np.cov(f, rowvar=False)) for f in (fa, fb)]
    return frechet_distance_from_stats(*stats[0], *stats[1])


def reference_digits(n: int, seed: int = 0) -> torch.Tensor:
    """n real training digits drawn without replacement (seeded), the reference set for Fréchet distances.

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    x_train = digits_split().x_train
    if not 1 < n <= x_train.shape[0]:
        raise ValueError(f"n must be between 2 and {x_train.shape[0]} (the training digits), got {n}.")
    idx = torch.randperm(x_train.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
    return x_train[idx]  # (n, 1, 8, 8)


def digits_frechet_distance(x: torch.Tensor, seed: int = 0) -> float:
    """Fréchet distance in classifier-feature space between digits x (B, 1, 8, 8) and B real training digits.

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    return frechet_distance(digit_features(x), digit_features(reference_digits(x.shape[0], seed)))


def real_frechet_baseline(n: int | None = None, seed: int = 0) -> float:
    """digits_frechet_distance of n held-out real digits (default all 540): a perfect generator's score at that n.

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    x_held_out = digits_split().x_held_out
    n = x_held_out.shape[0] if n is None else n
    if not 1 < n <= x_held_out.shape[0]:
        raise ValueError(f"n must be between 2 and {x_held_out.shape[0]} (the held-out digits), got {n}.")
    return digits_frechet_distance(x_held_out[:n], seed)


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Energy distance sqrt(2 E|X - Y| - E|X - X'| - E|Y - Y'|) between point clouds (N, D) and (M, D).

    Székely & Rizzo 2013.

    Expectations are plain averages over all pairs (the V-statistic), so the value is >= 0, is 0
    for identical clouds and, for 1D data, equals scipy.stats.energy_distance. It compares whole
    distributions with no kernel bandwidth to choose. Memory grows as N * M.
    Derived in notebooks/03_training_objective.ipynb §3.
    """
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"point clouds must be (N, D) and (M, D) with the same D, got {tuple(a.shape)} and {tuple(b.shape)}."
        )
    d2 = 2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean()
    return float(d2.clamp_min(0).sqrt())


def _over_folds(a: np.ndarray, b: np.ndarray, folds: int, seed: int, distance) -> tuple[float, float]:
    """(mean, standard error) of ``distance`` between fold i of a and fold i of b, each set shuffled (seeded) and
    cut into ``folds`` disjoint parts: independent fold values, so their spread is an honest error bar."""
    rng = np.random.default_rng(seed)
    parts_a = np.array_split(a[rng.permutation(len(a))], folds)
    parts_b = np.array_split(b[rng.permutation(len(b))], folds)
    values = np.array([distance(x, y) for x, y in zip(parts_a, parts_b)])
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(folds))


def energy_distance_se(a: torch.Tensor, b: torch.Tensor, folds: int = 4, seed: int = 0) -> tuple[float, float]:
    """The energy distance as (mean, standard error) over disjoint folds, as KID is reported.

    Each cloud is shuffled (seeded) and cut into ``folds`` parts; fold i of one is compared with fold i of the
    other, so the fold values are independent and their spread is an honest error bar. A fold's value is
    larger than the whole clouds' (the V-statistic's bias grows as the folds shrink), so compare only
    values computed with the same fold sizes. Derived in notebooks/07_flow_matching.ipynb §3, from the
    energy distance of notebooks/03_training_objective.ipynb §3 and the folds of 04_sampling.ipynb §6.
    """
    if folds < 2 or min(len(a), len(b)) < 2 * folds:
        raise ValueError(
            f"need at least 2 folds of at least 2 points each; got {folds} folds of {len(a)} and {len(b)} points."
        )
    as_array = lambda c: torch.as_tensor(c, dtype=torch.float64).numpy()
    return _over_folds(as_array(a), as_array(b), folds, seed, energy_distance)


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased squared MMD of two samples with the kernel k(a, b) = (a·b / d + 1)³."""
    d, m, n = x.shape[1], len(x), len(y)
    k_xx, k_yy, k_xy = ((p @ q.T / d + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))  # the i = j terms left out: that is the "unbiased"
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2 * k_xy.mean())


def kernel_distance(
    features_a: np.ndarray, features_b: np.ndarray, folds: int = 4, seed: int = 0
) -> tuple[float, float]:
    """KID: the unbiased squared MMD with the cubic polynomial kernel, as (mean, standard error) over disjoint folds.

    Each set is shuffled (seeded) and cut into ``folds`` disjoint parts; fold i of one set is compared
    with fold i of the other, so the folds are independent and their spread gives an honest standard
    error. Bińkowski et al. 2018, "Demystifying MMD GANs". Unlike FD it has no bias from a set's own
    spread: two samples of one distribution score 0 on average. Derived in notebooks/04_sampling.ipynb §6.
    """
    fa, fb = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    if fa.ndim != 2 or fb.ndim != 2 or fa.shape[1] != fb.shape[1]:
        raise ValueError(f"feature sets must be (N, D) arrays with the same D, got {fa.shape} and {fb.shape}.")
    if folds < 2 or min(len(fa), len(fb)) < 2 * folds:
        raise ValueError(
            f"KID needs at least 2 folds of at least 2 samples each; got {folds} folds of "
            f"{len(fa)} and {len(fb)} samples."
        )
    return _over_folds(fa, fb, folds, seed, _mmd2_unbiased)


@lru_cache(maxsize=1)
def _feature_scale() -> float:
    """The root-mean-square of the training digits' features: KID divides by it so the kernel sees values near 1."""
    return float(np.sqrt((digit_features(digits_split().x_train) ** 2).mean()))


def digits_kernel_distance(
    x: torch.Tensor, seed: int = 0, folds: int = 4, reference: torch.Tensor | None = None
) -> tuple[float, float]:
    """KID (mean, standard error) between digits x (B, 1, 8, 8) and B real training digits (or ``reference``).

    Features are the classifier's, divided by their typical size on the training digits.
    Derived in notebooks/04_sampling.ipynb §6.
    """
    reference = reference_digits(x.shape[0], seed) if reference is None else reference
    scale = _feature_scale()
    return kernel_distance(digit_features(x) / scale, digit_features(reference) / scale, folds, seed)
