"""helpers.guidance_metrics on constructed inputs: saturation, within-class spread and diversity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.guidance_metrics import saturation, within_class_diversity, within_class_spread

torch.set_num_threads(1)


def test_saturation_counts_pixels_at_the_clip_limits():
    x = torch.tensor([1.0, -1.0, 0.995, -2.0, 1.5, 0.5, 0.98, 0.0]).reshape(2, 1, 2, 2)
    assert saturation(x) == pytest.approx(5 / 8)  # 1, -1, 0.995 and the clipped -2 and 1.5
    assert saturation(torch.zeros(3, 1, 8, 8)) == 0.0
    assert saturation(torch.ones(3, 1, 8, 8)) == 1.0
    assert saturation(torch.full((1, 1, 8, 8), 0.5), limit=0.5) == 1.0


def test_within_class_spread_on_constructed_features():
    features = np.array(
        [
            [1.0, 0.0],
            [-1.0, 0.0],  # class 0: centroid (0, 0), distances 1 and 1
            [0.0, 0.0],
            [6.0, 8.0],  # class 1: centroid (3, 4), distances 5 and 5
            [100.0, 100.0],
        ]
    )  # class 2: one sample, no spread to measure, left out
    y = np.array([0, 0, 1, 1, 2])
    assert within_class_spread(features, y) == pytest.approx(3.0)
    perm = np.array([4, 2, 0, 3, 1])
    assert within_class_spread(features[perm], y[perm]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="two or more"):
        within_class_spread(features[[0, 2]], y[[0, 2]])


def test_within_class_diversity_is_zero_for_copies_and_grows_with_spread():
    g = torch.Generator().manual_seed(0)
    base = torch.rand(2, 1, 1, 8, 8, generator=g) * 2 - 1  # one image per class
    copies = base.expand(2, 5, 1, 8, 8).reshape(10, 1, 8, 8)
    y = torch.arange(2).repeat_interleave(5)
    assert within_class_diversity(copies, y) == pytest.approx(0.0, abs=1e-5)  # float32 features
    noisy = (copies + 0.5 * torch.randn(copies.shape, generator=g)).clamp(-1, 1)
    assert within_class_diversity(noisy, y) > 0.1
