"""What classifier-free guidance trades: fidelity (class accuracy), diversity (within-class spread), saturation.

Measured with the digits classifier of helpers.metrics (Module 03) on ``helpers.guidance.guidance_sweep``'s
samples. Derived in notebooks/05_guidance.ipynb §4.
"""

from __future__ import annotations

import numpy as np
import torch

from helpers.metrics.classifier import class_accuracy, digit_features, digits_classifier

SATURATION_LIMIT = 0.99  # a pixel with |x| >= 0.99 after clipping to [-1, 1] counts as saturated


def saturation(x: torch.Tensor, limit: float = SATURATION_LIMIT) -> float:
    """Share of pixels at the clip limits: |clip(x, -1, 1)| >= limit, over every pixel of every image.

    Derived in notebooks/05_guidance.ipynb §4.
    """
    return (x.detach().float().clamp(-1, 1).abs() >= limit).float().mean().item()


def within_class_spread(features: np.ndarray, y: torch.Tensor | np.ndarray) -> float:
    """Mean distance of feature rows (N, D) to their class centroid, averaged over the classes with 2 or more rows.

    Derived in notebooks/05_guidance.ipynb §4.
    """
    features, y = np.asarray(features, dtype=np.float64), np.asarray(y)
    if features.ndim != 2 or y.shape != features.shape[:1]:
        raise ValueError(f"give features (N, D) and one label per row, got {features.shape} and {y.shape}.")
    spreads = []
    for c in np.unique(y):
        f = features[y == c]  # (N_c, D)
        if len(f) >= 2:
            spreads.append(np.linalg.norm(f - f.mean(axis=0), axis=1).mean())
    if not spreads:
        raise ValueError("no class has two or more samples; diversity needs at least two per class.")
    return float(np.mean(spreads))


def within_class_diversity(x: torch.Tensor, y: torch.Tensor) -> float:
    """Within-class spread of images x (B, 1, 8, 8) in the classifier's feature space, grouped by requested digit y.

    Derived in notebooks/05_guidance.ipynb §4.
    """
    with torch.enable_grad():  # the cached classifier is fitted on first use; digit_features runs under no_grad
        digits_classifier()
    return within_class_spread(digit_features(x), torch.as_tensor(y).numpy())


def sweep_metrics(x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Fidelity, diversity and saturation of guided samples x (B, 1, 8, 8) asked to be digits y (B,).

    Derived in notebooks/05_guidance.ipynb §4.
    """
    return {"accuracy": class_accuracy(x, y), "diversity": within_class_diversity(x, y), "saturation": saturation(x)}
