"""helpers.models: shapes and errors, the time embedding vs diffusers, typed configs, weights, the pretrained U-Net."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from builders import small_mlp
from diffusers.models.embeddings import get_timestep_embedding

from helpers.models import (
    NULL_CLASS,
    DigitsUNet,
    MLPConfig,
    MLPDenoiser,
    UNetConfig,
    build_model,
    config_from_dict,
    config_to_dict,
    count_parameters,
    sinusoidal_embedding,
)
from helpers.pretrained import (
    load_weights,
    read_metadata,
    save_weights,
)

torch.set_num_threads(1)  # tiny models: one thread is fastest and immune to a busy neighbour


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


@pytest.mark.parametrize(
    "make", [lambda: MLPDenoiser(hidden=64, depth=2, T=50), lambda: DigitsUNet(channels=16, T=300)]
)
def test_build_model_from_a_typed_config_or_its_dict(make):
    model = make()
    assert isinstance(model.config, (MLPConfig, UNetConfig))
    for config in (model.config, config_to_dict(model.config)):
        rebuilt = build_model(config)
        assert type(rebuilt) is type(model) and rebuilt.config == model.config
        assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]
    assert config_from_dict(config_to_dict(model.config)) == model.config
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model({"kind": "transformer"})
    with pytest.raises(dataclasses.FrozenInstanceError):  # frozen: a config cannot drift from its model
        model.config.T = 7


@pytest.mark.parametrize("make", [small_mlp, lambda: DigitsUNet(channels=16, T=1000)])
def test_safetensors_round_trip_reproduces_outputs_exactly(make, tmp_path):
    torch.manual_seed(0)
    model = make().eval()
    for p in model.parameters():  # move away from the initialisation (the label embedding starts at zero)
        p.data += 0.1 * torch.randn_like(p)
    path = tmp_path / "model.safetensors"
    save_weights(model, path, {"schedule": "cosine", "steps": 12})
    loaded = load_weights(path)
    assert type(loaded) is type(model) and not loaded.training
    assert read_metadata(path) == {"config": config_to_dict(model.config), "schedule": "cosine", "steps": 12}
    x_t = torch.randn(5, 2) if isinstance(model, MLPDenoiser) else torch.randn(5, 1, 8, 8)
    t = torch.tensor([0, 3, 50, 99, 100])
    with torch.no_grad():
        assert torch.equal(loaded(x_t, t), model(x_t, t))


def test_read_metadata_rejects_foreign_files(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="no model config"):
        read_metadata(tmp_path / "other.safetensors")
