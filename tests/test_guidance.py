"""helpers.guidance against closed forms: the CFG combination, the batched guided eps, guided samples and the sweep."""

from __future__ import annotations

import pytest
import torch
from builders import noise_pair

from helpers.guidance import cfg_eps, guidance_sweep, guided_eps_fn, guided_samples
from helpers.models import NULL_CLASS, DigitsUNet
from helpers.schedules import Schedule

SHAPE = (4, 1, 8, 8)


@pytest.fixture(scope="module")
def model() -> DigitsUNet:
    """A small untrained conditional U-Net whose label embeddings are random, so cond and uncond differ."""
    torch.manual_seed(0)
    net = DigitsUNet(channels=16, emb_dim=32, T=1000)
    torch.nn.init.normal_(net.label.weight)
    return net.eval()


# --- cfg_eps ----------------------------------------------------------------------------------


def test_cfg_scale_0_is_uncond_and_scale_1_is_cond():
    eps_uncond, eps_cond = noise_pair(SHAPE)
    assert torch.equal(cfg_eps(eps_uncond, eps_cond, 0.0), eps_uncond)
    torch.testing.assert_close(cfg_eps(eps_uncond, eps_cond, 1.0), eps_cond)


@pytest.mark.parametrize("scale", [0.0, 0.5, 1.0, 3.0, 7.5, 20.0])
def test_cfg_matches_ho_salimans_eq_6(scale):
    eps_uncond, eps_cond = noise_pair(SHAPE, 1)
    w = scale - 1.0  # Ho & Salimans' guidance strength
    torch.testing.assert_close(cfg_eps(eps_uncond, eps_cond, scale), (1 + w) * eps_cond - w * eps_uncond)


def test_cfg_is_linear_in_the_predictions_and_affine_in_the_scale():
    (u1, c1), (u2, c2) = noise_pair(SHAPE, 2), noise_pair(SHAPE, 3)
    a, b, s = 0.3, -1.7, 4.0
    torch.testing.assert_close(
        cfg_eps(a * u1 + b * u2, a * c1 + b * c2, s), a * cfg_eps(u1, c1, s) + b * cfg_eps(u2, c2, s)
    )
    torch.testing.assert_close(cfg_eps(u1, c1, 5.0), (cfg_eps(u1, c1, 2.0) + cfg_eps(u1, c1, 8.0)) / 2)


def test_cfg_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        cfg_eps(torch.zeros(2, 1, 8, 8), torch.zeros(3, 1, 8, 8), 2.0)


# --- guided_eps_fn ----------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.0, 1.0, 3.0, 12.0])
def test_guided_eps_fn_equals_two_separate_forwards(model, scale):
    x_t, _ = noise_pair(SHAPE, 4)
    t = torch.tensor([1, 250, 700, 1000])
    y = torch.tensor([0, 3, 7, 9])
    with torch.no_grad():
        eps_cond = model(x_t, t, y)
        eps_uncond = model(x_t, t, torch.full_like(y, NULL_CLASS))
        got = guided_eps_fn(model, y, scale)(x_t, t)
    assert not torch.allclose(eps_cond, eps_uncond), "the fixture's cond and uncond predictions should differ"
    torch.testing.assert_close(got, eps_uncond + scale * (eps_cond - eps_uncond), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("y", "scale", "negative", "batches"),
    [(3, 1.0, NULL_CLASS, [4]), (NULL_CLASS, 7.5, NULL_CLASS, [4]), (5, 2.0, 5, [4]), (3, 2.0, NULL_CLASS, [8])],
)
def test_guided_eps_fn_runs_one_branch_when_the_other_cannot_change_the_answer(model, y, scale, negative, batches):
    seen = []
    counting = lambda x, t, labels: seen.append(x.shape[0]) or model(x, t, labels)
    x_t, _ = noise_pair(SHAPE, 4)
    t = torch.tensor([1, 250, 700, 1000])
    with torch.no_grad():
        got = guided_eps_fn(counting, y, scale, negative)(x_t, t)
        eps_cond, eps_neg = model(x_t, t, torch.full((4,), y)), model(x_t, t, torch.full((4,), negative))
    assert seen == batches
    torch.testing.assert_close(got, eps_neg + scale * (eps_cond - eps_neg), atol=1e-5, rtol=1e-5)


def test_guided_eps_fn_accepts_one_digit_for_the_whole_batch(model):
    x_t, _ = noise_pair(SHAPE, 5)
    t = torch.full((4,), 500)
    with torch.no_grad():
        torch.testing.assert_close(
            guided_eps_fn(model, 7, 3.0)(x_t, t), guided_eps_fn(model, torch.full((4,), 7), 3.0)(x_t, t)
        )
    with pytest.raises(ValueError, match="one label"):
        guided_eps_fn(model, torch.tensor([1, 2]), 3.0)(x_t, t)


def test_guided_samples_share_x_T_across_scales(model):
    y = torch.arange(6) % 10
    schedule = Schedule.create("cosine", 1000)
    a = guided_samples(model, schedule, y, 0.0, num_steps=1)
    b = guided_samples(model, schedule, y, 5.0, num_steps=1)
    assert a.shape == b.shape == (6, 1, 8, 8)
    assert float(a.abs().max()) <= 1.0 and float(b.abs().max()) <= 1.0  # the last DDIM step returns the clipped x0_hat
    # one step from the same x_T: the scales differ only through eps, so x0_hat differs; re-running repeats exactly
    assert not torch.equal(a, b) and torch.equal(b, guided_samples(model, schedule, y, 5.0, num_steps=1))


def test_guided_eps_fn_takes_one_scale_per_row(model):
    x_t, _ = noise_pair(SHAPE, 6)
    t, y = torch.full((4,), 300), torch.tensor([1, 1, 4, 4])
    scales = torch.tensor([0.0, 2.0, 5.0, 20.0])
    with torch.no_grad():
        got = guided_eps_fn(model, y, scales)(x_t, t)
        for i, s in enumerate(scales.tolist()):
            # batch size changes float rounding, which the scale (up to 20) amplifies
            torch.testing.assert_close(
                got[i : i + 1],
                guided_eps_fn(model, y[i : i + 1], s)(x_t[i : i + 1], t[i : i + 1]),
                atol=1e-4,
                rtol=1e-5,
            )


def test_guidance_sweep_equals_guided_samples_at_each_scale(model):
    schedule = Schedule.create("cosine", 1000)
    y = torch.arange(5)
    sweep = guidance_sweep(model, schedule, y, [0.0, 1.5, 7.0], num_steps=4, seed=3)
    assert list(sweep) == [0.0, 1.5, 7.0]
    for s, x in sweep.items():
        torch.testing.assert_close(x, guided_samples(model, schedule, y, s, num_steps=4, seed=3), atol=1e-5, rtol=1e-5)
    raw = guidance_sweep(model, schedule, y, [7.0], num_steps=4, seed=3, consistent=False)[7.0]
    torch.testing.assert_close(
        raw, guided_samples(model, schedule, y, 7.0, num_steps=4, seed=3, consistent=False), atol=1e-5, rtol=1e-5
    )
