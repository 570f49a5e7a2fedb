"""helpers.data and helpers.models: shapes, ranges, seeding, shape errors, and the time embedding against diffusers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.models.embeddings import get_timestep_embedding
from sklearn.datasets import load_digits

from helpers.data import digits, digits_split, swiss_roll, toy_2d, two_moons, x0_to_unit
from helpers.models import (NULL_CLASS, DigitsUNet, MLPDenoiser, build_model, count_parameters, sinusoidal_embedding)

torch.set_num_threads(1)  # tiny models: one thread is fastest and immune to a busy neighbour


# --- data -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [two_moons, swiss_roll])
def test_toy_sets_are_standardised_float32_and_seeded(make):
    x = make(500, seed=3)
    assert x.shape == (500, 2) and x.dtype == torch.float32
    assert torch.allclose(x.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(x.std(0, unbiased=False), torch.ones(2), atol=1e-5)
    assert torch.equal(x, make(500, seed=3))
    assert not torch.equal(x, make(500, seed=4))


def test_toy_2d_dispatch_and_unknown_name():
    assert torch.equal(toy_2d("moons", 100, seed=1), two_moons(100, seed=1))
    assert torch.equal(toy_2d("swiss_roll", 100, seed=1), swiss_roll(100, seed=1))
    with pytest.raises(ValueError, match="unknown toy set"):
        toy_2d("spiral")


def test_digits_match_sklearn_scaled_to_minus_one_one():
    x0, y = digits()
    bunch = load_digits()
    assert x0.shape == (1797, 1, 8, 8) and x0.dtype == torch.float32
    assert y.shape == (1797,) and y.dtype == torch.int64 and set(y.tolist()) == set(range(10))
    assert x0.min() == -1 and x0.max() == 1
    np.testing.assert_allclose(x0[:, 0].numpy(), bunch.images / 8 - 1, atol=1e-6)  # 0..16 -> [-1, 1]
    np.testing.assert_array_equal(y.numpy(), bunch.target)
    assert torch.allclose(x0_to_unit(x0)[:, 0], torch.from_numpy(bunch.images / 16).float(), atol=1e-6)


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


# --- models -----------------------------------------------------------------------------------------------------

def test_sinusoidal_embedding_matches_diffusers():
    t = torch.tensor([0, 1, 17, 500, 1000])
    ours = sinusoidal_embedding(t, 64)
    # DDPM's embedding divides by half - 1, which is diffusers' downscale_freq_shift=1
    ref = get_timestep_embedding(t, 64, flip_sin_to_cos=False, downscale_freq_shift=1)
    assert ours.shape == (5, 64)
    torch.testing.assert_close(ours, ref)


def test_mlp_shapes_and_errors():
    torch.manual_seed(0)
    model = MLPDenoiser(T=100)
    x_t = torch.randn(16, 2)
    assert model(x_t, torch.randint(0, 101, (16,))).shape == (16, 2)
    assert torch.equal(model(x_t, 7), model(x_t, torch.full((16,), 7)))  # a single t is broadcast
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        model(torch.randn(16, 3), torch.zeros(16, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        model(torch.randn(16), torch.zeros(16, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        model(x_t, torch.rand(16))
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        model(x_t, torch.full((16,), 101))
    with pytest.raises(ValueError, match="one timestep per sample"):
        model(x_t, torch.zeros(8, dtype=torch.long))
    with pytest.raises(ValueError, match="unconditional"):
        model(x_t, 3, torch.zeros(16, dtype=torch.long))


def test_unet_size_shapes_and_shape_errors():
    torch.manual_seed(0)
    model = DigitsUNet()
    assert 100_000 <= count_parameters(model) <= 250_000
    x_t, t = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 500, 1000])
    assert model(x_t, t, torch.tensor([0, 3, 9, NULL_CLASS])).shape == (4, 1, 8, 8)
    for bad in (torch.randn(4, 8, 8), torch.randn(4, 1, 16, 16), torch.randn(4, 3, 8, 8), torch.randn(4, 64)):
        with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\)"):
            model(bad, t)
    with pytest.raises(ValueError, match="NULL_CLASS"):
        model(x_t, t, torch.tensor([0, 1, 2, 11]))
    with pytest.raises(ValueError, match="integer labels"):
        model(x_t, t, torch.zeros(4))
    with pytest.raises(TypeError, match="integer"):
        model(x_t, t.float())


def test_unet_labels_none_means_null_class_and_labels_matter():
    torch.manual_seed(0)
    model = DigitsUNet()
    torch.nn.init.normal_(model.label.weight)  # the embedding starts at zero; make labels informative
    x_t, t = torch.randn(3, 1, 8, 8), torch.tensor([10, 200, 900])
    assert torch.equal(model(x_t, t), model(x_t, t, torch.full((3,), NULL_CLASS)))
    assert not torch.allclose(model(x_t, t, torch.tensor([1, 2, 3])), model(x_t, t))


def test_unconditional_unet_rejects_labels():
    model = DigitsUNet(conditional=False)
    assert model.label is None
    x_t = torch.randn(2, 1, 8, 8)
    assert model(x_t, 5).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="unconditional"):
        model(x_t, 5, torch.tensor([1, 2]))


@pytest.mark.parametrize("make", [lambda: MLPDenoiser(hidden=64, depth=2, T=50), lambda: DigitsUNet(channels=16, T=300)])
def test_build_model_from_config(make):
    model = make()
    rebuilt = build_model(model.config)
    assert type(rebuilt) is type(model) and rebuilt.config == model.config
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model({"kind": "transformer"})
