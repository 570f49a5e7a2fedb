"""helpers.metrics against scipy and closed forms: the classifier, Fréchet, kernel and energy distances."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
from safetensors.torch import load_file

from helpers.data import digits_split, two_moons
from helpers.metrics import (
    class_accuracy,
    classifier_held_out_accuracy,
    digit_features,
    digits_classifier,
    digits_frechet_distance,
    digits_kernel_distance,
    energy_distance,
    frechet_distance,
    frechet_distance_from_stats,
    kernel_distance,
    real_frechet_baseline,
)
from helpers.metrics.classifier import SHIPPED, fit_classifier
from helpers.paths import ROOT

torch.set_num_threads(1)


def test_classifier_held_out_accuracy_and_features():
    split = digits_split()
    assert classifier_held_out_accuracy() >= 0.95
    assert digits_classifier() is digits_classifier()  # cached
    assert class_accuracy(split.x_held_out, (split.y_held_out + 1) % 10) < 0.05
    assert digit_features(split.x_held_out[:7]).shape == (7, 64)
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\)"):
        digits_classifier().predict(torch.zeros(3, 64))
    with pytest.raises(ValueError, match="one intended label"):
        class_accuracy(split.x_held_out[:5], split.y_held_out[:4])


def test_frechet_distance_against_scipy_sqrtm_and_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2, mu1, mu2 = a @ a.T, b @ b.T, rng.normal(size=6), rng.normal(size=6)
    ref = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert np.isclose(frechet_distance_from_stats(mu1, s1, mu2, s2), ref, rtol=1e-8)
    d1, d2 = rng.uniform(0.5, 2, size=6), rng.uniform(0.5, 2, size=6)  # diagonal: sum (sqrt d1 - sqrt d2)^2
    closed = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)
    assert np.isclose(frechet_distance_from_stats(mu1, np.diag(d1), mu2, np.diag(d2)), closed, rtol=1e-10)


def test_digits_frechet_distance_zero_for_identical_sets_and_large_for_noise():
    split = digits_split()
    features = digit_features(split.x_train[:300])
    assert frechet_distance(features, features) < 1e-6
    baseline = real_frechet_baseline(300)
    generator = torch.Generator().manual_seed(0)
    x = split.x_held_out[:300]
    shuffled = x.reshape(300, 64)[:, torch.randperm(64, generator=generator)].reshape(300, 1, 8, 8)
    noisy = (x + 0.5 * torch.randn(x.shape, generator=generator)).clamp(-1, 1)
    assert 0 < baseline < digits_frechet_distance(noisy) < digits_frechet_distance(shuffled)
    assert digits_frechet_distance(shuffled) > 10 * baseline
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(features, features[:, :10])


def test_energy_distance_properties():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 2, generator=generator), torch.randn(300, 2, generator=generator)
    assert energy_distance(a, a) == 0
    assert energy_distance(a, b) == pytest.approx(energy_distance(b, a))
    shift = torch.tensor([1.0, -2.0])
    assert energy_distance(a + shift, b + shift) == pytest.approx(energy_distance(a, b))  # translation invariant
    assert energy_distance(a, b) < energy_distance(a, b + 0.5) < energy_distance(a, b + 2.0)
    u, v = a[:, 0], 0.5 + 2 * b[:, 0]
    assert energy_distance(u[:, None], v[:, None]) == pytest.approx(scipy.stats.energy_distance(u, v), rel=1e-9)
    moons = two_moons(500, seed=0)
    assert energy_distance(moons, two_moons(500, seed=1)) < 0.2 * energy_distance(moons, b)
    with pytest.raises(ValueError, match="same D"):
        energy_distance(a, torch.randn(5, 3))


def test_the_shipped_classifier_is_what_its_script_fits_even_under_no_grad(tmp_path):
    """scripts/fit_classifier.py, run as its docstring says, fits (under no_grad too) the weights that ship."""
    out = tmp_path / "clf.safetensors"
    run = subprocess.run(
        [sys.executable, "scripts/fit_classifier.py", "--out", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    fitted, shipped = load_file(str(out)), load_file(str(SHIPPED))
    assert fitted.keys() == shipped.keys()
    for name in shipped:  # the same on this machine; another CPU's float rounding may move the last digits
        torch.testing.assert_close(fitted[name], shipped[name], rtol=1e-4, atol=1e-5)
    split = digits_split()
    with torch.no_grad():  # a caller may sit under no_grad (digit_features does); the fit must still train
        start, trained = (fit_classifier(split.x_train[:200], split.y_train[:200], steps=n) for n in (0, 5))
    assert not torch.equal(start.head.weight, trained.head.weight)
    assert digits_classifier().head.weight.requires_grad is False and not digits_classifier().training


# --- the kernel distance (KID) ---------------------------------------------------------------------


def test_kid_matches_a_direct_unbiased_mmd_and_sees_a_shift():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 3)) + 0.5
    k = lambda a, b: (a @ b.T / 3 + 1) ** 3
    direct = (
        (k(x, x).sum() - np.trace(k(x, x))) / (40 * 39)
        + (k(y, y).sum() - np.trace(k(y, y))) / (40 * 39)
        - 2 * k(x, y).mean()
    )
    from helpers.metrics.distances import _mmd2_unbiased

    assert _mmd2_unbiased(x, y) == pytest.approx(direct, rel=1e-12)
    far = rng.normal(size=(400, 3)), rng.normal(size=(400, 3)) + 1.0
    mean, se = kernel_distance(*far, folds=4)
    assert mean > 4 * se > 0  # a real shift is many standard errors away from 0
    with pytest.raises(ValueError, match="at least 2 folds"):
        kernel_distance(x[:3], y[:3], folds=2)


def test_kid_of_two_disjoint_real_sets_is_within_two_standard_errors_of_0():
    """Averaged over ten random disjoint halves of the held-out digits: an unbiased distance scores 0 on average."""
    held_out = digits_split().x_held_out
    means, ses = [], []
    for seed in range(10):
        order = torch.randperm(len(held_out), generator=torch.Generator().manual_seed(seed))
        mean, se = digits_kernel_distance(held_out[order[:270]], seed=seed, reference=held_out[order[270:]])
        means.append(mean)
        ses.append(se)
    average, se_of_average = np.mean(means), np.sqrt(np.mean(np.square(ses)) / len(ses))
    assert abs(average) < 2 * se_of_average, (average, se_of_average)
    noisy = (held_out[:270] + 0.4 * torch.randn(270, 1, 8, 8, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    assert digits_kernel_distance(noisy)[0] > 10 * se_of_average  # and it does see a difference
