"""helpers.data: the two moons and the digits, shapes, ranges, seeding and the fixed split."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits

from helpers.data import digits, digits_split, two_moons


def test_two_moons_are_standardised_float32_and_seeded():
    x = two_moons(500, seed=3)
    assert x.shape == (500, 2) and x.dtype == torch.float32
    assert torch.allclose(x.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(x.std(0, unbiased=False), torch.ones(2), atol=1e-5)
    assert torch.equal(x, two_moons(500, seed=3))
    assert not torch.equal(x, two_moons(500, seed=4))


def test_digits_match_sklearn_scaled_to_minus_one_one():
    x0, y = digits()
    bunch = load_digits()
    assert x0.shape == (1797, 1, 8, 8) and x0.dtype == torch.float32
    assert y.shape == (1797,) and y.dtype == torch.int64 and set(y.tolist()) == set(range(10))
    assert x0.min() == -1 and x0.max() == 1
    np.testing.assert_allclose(x0[:, 0].numpy(), bunch.images / 8 - 1, atol=1e-6)  # 0..16 -> [-1, 1]
    np.testing.assert_array_equal(y.numpy(), bunch.target)


def test_digits_returns_fresh_tensors():
    x0, _ = digits()
    x0 += 5
    assert digits()[0].max() == 1


def test_digits_split_is_fixed_disjoint_complete_and_stratified():
    split = digits_split()
    assert split.x_train.shape == (1257, 1, 8, 8) and split.x_held_out.shape == (540, 1, 8, 8)
    again = digits_split()
    assert all(torch.equal(a, b) for a, b in zip(split, again))
    x0, y = digits()
    rows = lambda x: sorted(map(bytes, x.reshape(len(x), -1).numpy()))
    assert rows(torch.cat([split.x_train, split.x_held_out])) == rows(x0)  # a partition of the data set
    share = torch.bincount(split.y_held_out, minlength=10) / torch.bincount(y, minlength=10)
    assert torch.allclose(share, torch.full((10,), 0.3), atol=0.02)
