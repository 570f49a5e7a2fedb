"""helpers.guidance against closed forms: the CFG combination, the batched guided eps, label dropout and the sweep metrics."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.guidance import (cfg_eps, drop_labels, guidance_sweep, guided_eps_fn, guided_samples, saturation,
                              within_class_diversity, within_class_spread)
from helpers.models import NULL_CLASS, DigitsUNet
from helpers.schedules import Schedule
from helpers.training import diffusion_loss


@pytest.fixture(scope="module")
def model() -> DigitsUNet:
    """A small untrained conditional U-Net whose label embeddings are random, so cond and uncond differ."""
    torch.manual_seed(0)
    net = DigitsUNet(channels=16, emb_dim=32, T=1000)
    torch.nn.init.normal_(net.label.weight)
    return net.eval()


def _pair(seed: int = 0, shape=(4, 1, 8, 8)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


# --- cfg_eps ----------------------------------------------------------------------------------

def test_cfg_scale_0_is_uncond_and_scale_1_is_cond():
    eps_uncond, eps_cond = _pair()
    assert torch.equal(cfg_eps(eps_uncond, eps_cond, 0.0), eps_uncond)
    torch.testing.assert_close(cfg_eps(eps_uncond, eps_cond, 1.0), eps_cond)


@pytest.mark.parametrize("scale", [0.0, 0.5, 1.0, 3.0, 7.5, 20.0])
def test_cfg_matches_ho_salimans_eq_6(scale):
    eps_uncond, eps_cond = _pair(1)
    w = scale - 1.0  # Ho & Salimans' guidance strength
    torch.testing.assert_close(cfg_eps(eps_uncond, eps_cond, scale), (1 + w) * eps_cond - w * eps_uncond)


def test_cfg_is_linear_in_the_predictions_and_affine_in_the_scale():
    (u1, c1), (u2, c2) = _pair(2), _pair(3)
    a, b, s = 0.3, -1.7, 4.0
    torch.testing.assert_close(cfg_eps(a * u1 + b * u2, a * c1 + b * c2, s), a * cfg_eps(u1, c1, s) + b * cfg_eps(u2, c2, s))
    torch.testing.assert_close(cfg_eps(u1, c1, 5.0), (cfg_eps(u1, c1, 2.0) + cfg_eps(u1, c1, 8.0)) / 2)


def test_cfg_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        cfg_eps(torch.zeros(2, 1, 8, 8), torch.zeros(3, 1, 8, 8), 2.0)


# --- guided_eps_fn ----------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [0.0, 1.0, 3.0, 12.0])
def test_guided_eps_fn_equals_two_separate_forwards(model, scale):
    x_t, _ = _pair(4)
    t = torch.tensor([1, 250, 700, 1000])
    y = torch.tensor([0, 3, 7, 9])
    with torch.no_grad():
        eps_cond = model(x_t, t, y)
        eps_uncond = model(x_t, t, torch.full_like(y, NULL_CLASS))
        got = guided_eps_fn(model, y, scale)(x_t, t)
    assert not torch.allclose(eps_cond, eps_uncond), "the fixture's cond and uncond predictions should differ"
    torch.testing.assert_close(got, eps_uncond + scale * (eps_cond - eps_uncond), atol=1e-5, rtol=1e-5)


def test_guided_eps_fn_accepts_one_digit_for_the_whole_batch(model):
    x_t, _ = _pair(5)
    t = torch.full((4,), 500)
    with torch.no_grad():
        torch.testing.assert_close(guided_eps_fn(model, 7, 3.0)(x_t, t), guided_eps_fn(model, torch.full((4,), 7), 3.0)(x_t, t))
    with pytest.raises(ValueError, match="one label"):
        guided_eps_fn(model, torch.tensor([1, 2]), 3.0)(x_t, t)


def test_guided_samples_share_x_T_across_scales(model):
    y = torch.arange(6) % 10
    schedule = Schedule.create("cosine", 1000)
    a = guided_samples(model, schedule, y, 0.0, num_steps=1)
    b = guided_samples(model, schedule, y, 5.0, num_steps=1)
    assert a.shape == b.shape == (6, 1, 8, 8)
    assert float(a.abs().max()) <= 1.0 and float(b.abs().max()) <= 1.0  # the last DDIM step returns the clipped x0_hat
    # one step from the same x_T: the two scales differ only through eps, so x0_hat differs, but re-running repeats exactly
    assert not torch.equal(a, b) and torch.equal(b, guided_samples(model, schedule, y, 5.0, num_steps=1))


def test_guided_eps_fn_takes_one_scale_per_row(model):
    x_t, _ = _pair(6)
    t, y = torch.full((4,), 300), torch.tensor([1, 1, 4, 4])
    scales = torch.tensor([0.0, 2.0, 5.0, 20.0])
    with torch.no_grad():
        got = guided_eps_fn(model, y, scales)(x_t, t)
        for i, s in enumerate(scales.tolist()):
            # batch size changes float rounding, which the scale (up to 20) amplifies
            torch.testing.assert_close(got[i:i + 1], guided_eps_fn(model, y[i:i + 1], s)(x_t[i:i + 1], t[i:i + 1]),
                                       atol=1e-4, rtol=1e-5)


def test_guidance_sweep_equals_guided_samples_at_each_scale(model):
    schedule = Schedule.create("cosine", 1000)
    y = torch.arange(5)
    sweep = guidance_sweep(model, schedule, y, [0.0, 1.5, 7.0], num_steps=4, seed=3)
    assert list(sweep) == [0.0, 1.5, 7.0]
    for s, x in sweep.items():
        torch.testing.assert_close(x, guided_samples(model, schedule, y, s, num_steps=4, seed=3), atol=1e-5, rtol=1e-5)
    raw = guidance_sweep(model, schedule, y, [7.0], num_steps=4, seed=3, consistent=False)[7.0]
    torch.testing.assert_close(raw, guided_samples(model, schedule, y, 7.0, num_steps=4, seed=3, consistent=False),
                               atol=1e-5, rtol=1e-5)


# --- drop_labels ------------------------------------------------------------------------------

def test_drop_labels_rate_on_a_seed():
    n, p = 100_000, 0.15
    y = torch.arange(n) % 10
    dropped = drop_labels(y, p, torch.Generator().manual_seed(0))
    is_null = dropped == NULL_CLASS
    rate = is_null.float().mean().item()
    assert abs(rate - p) < 4 * np.sqrt(p * (1 - p) / n)  # within 4 standard errors of p
    assert torch.equal(dropped[~is_null], y[~is_null]), "labels that are not dropped must stay as they were"
    assert dropped.dtype == y.dtype


def test_drop_labels_edges_and_reproducibility():
    y = torch.arange(50) % 10
    assert torch.equal(drop_labels(y, 0.0, torch.Generator().manual_seed(1)), y)
    assert torch.equal(drop_labels(y, 1.0, torch.Generator().manual_seed(1)), torch.full_like(y, NULL_CLASS))
    assert torch.equal(drop_labels(y, 0.5, torch.Generator().manual_seed(2)), drop_labels(y, 0.5, torch.Generator().manual_seed(2)))
    with pytest.raises(ValueError):
        drop_labels(y, 1.5)


def test_drop_labels_is_the_dropout_that_training_applies():
    """helpers.training.diffusion_loss draws t, eps, then the dropout; drop_labels after the same draws gives its labels."""
    seen = {}

    class Recorder(torch.nn.Module):
        def forward(self, x_t, t, y):
            seen["y"] = y
            return torch.zeros_like(x_t)

    schedule = Schedule.create("cosine", 1000)
    x0, y = torch.zeros(64, 1, 8, 8), torch.arange(64) % 10
    diffusion_loss(Recorder(), x0, schedule, y, p_uncond=0.3, generator=torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    torch.randint(1, 1001, (64,), generator=g)  # t
    torch.randn(x0.shape, generator=g)  # eps
    assert torch.equal(seen["y"], drop_labels(y, 0.3, g))


# --- metrics ----------------------------------------------------------------------------------

def test_saturation_counts_pixels_at_the_clip_limits():
    x = torch.tensor([1.0, -1.0, 0.995, -2.0, 1.5, 0.5, 0.98, 0.0]).reshape(2, 1, 2, 2)
    assert saturation(x) == pytest.approx(5 / 8)  # 1, -1, 0.995 and the clipped -2 and 1.5
    assert saturation(torch.zeros(3, 1, 8, 8)) == 0.0
    assert saturation(torch.ones(3, 1, 8, 8)) == 1.0
    assert saturation(torch.full((1, 1, 8, 8), 0.5), limit=0.5) == 1.0


def test_within_class_spread_on_constructed_features():
    features = np.array([[1.0, 0.0], [-1.0, 0.0],  # class 0: centroid (0, 0), distances 1 and 1
                         [0.0, 0.0], [6.0, 8.0],  # class 1: centroid (3, 4), distances 5 and 5
                         [100.0, 100.0]])  # class 2: one sample, no spread to measure, left out
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


# --- clip_consistent_eps against diffusers ---------------------------------------------------

@pytest.mark.parametrize("num_steps", [50, 10])
def test_clip_consistent_ddim_step_matches_diffusers_use_clipped_model_output(num_steps):
    """ddim_step on clip_consistent_eps is diffusers' DDIMScheduler.step(..., use_clipped_model_output=True)."""
    from diffusers import DDIMScheduler

    from helpers.guidance import clip_consistent_eps
    from helpers.sampling import ddim_step, make_timesteps, timestep_pairs

    sched = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True,
                          timestep_spacing="leading")
    sched.alphas_cumprod = torch.cumprod(1.0 - sched.betas.double(), dim=0)  # float64, as in tests/test_sampling.py
    sched.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)
    sched.set_timesteps(num_steps)
    ours = Schedule("cosine", 1000, np.concatenate([[0.0], sched.betas.double().numpy()]))
    g = torch.Generator().manual_seed(num_steps)
    for t, t_prev in timestep_pairs(make_timesteps(1000, num_steps, "leading"))[::3]:
        x_t = torch.randn((2, 1, 4, 4), generator=g, dtype=torch.float64)
        eps = 3.0 * torch.randn((2, 1, 4, 4), generator=g, dtype=torch.float64)  # a strongly guided eps: x0_hat leaves [-1, 1]
        expected = sched.step(eps, t - 1, x_t, eta=0.0, use_clipped_model_output=True).prev_sample
        got = ddim_step(x_t, t, t_prev, clip_consistent_eps(x_t, t, eps, ours), ours)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-8, msg=f"t={t}, t_prev={t_prev}")
        plain = ddim_step(x_t, t, t_prev, eps, ours)  # clip x0_hat only: what the wrapper changes
        assert t_prev == 0 or not torch.allclose(plain, expected), "the test inputs should make clipping matter"
