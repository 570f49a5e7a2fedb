"""helpers.dit against diffusers: the patch layout, the position and timestep features, the whole DiT; adaLN-Zero's
start; the conditioning variants, the MM-DiT and the packaged models."""

import pytest
import torch
from diffusers import DiTTransformer2DModel
from diffusers.models.embeddings import PatchEmbed, Timesteps, get_2d_sincos_pos_embed
from torch.nn import functional as F

from helpers.data import digits_split
from helpers.dit import packaged
from helpers.dit.mmdit import MMDiT, MMDiTConfig, joint_attention_weights
from helpers.dit.model import DiT, DiTBlock, DiTConfig, attention, modulate, zero_init
from helpers.dit.tokens import patchify, sincos_2d, timestep_features, unpatchify
from helpers.dit.train import train_flow
from helpers.dit.variants import CONDITIONINGS, build_dit


def _randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter moved off its initial value, so that zero gates do not hide a wrong formula."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


def _diffusers_dit(patch: int, layers: int = 2) -> DiTTransformer2DModel:
    return DiTTransformer2DModel(num_attention_heads=4, attention_head_dim=16, in_channels=1, num_layers=layers,
                                 sample_size=8, patch_size=patch, num_embeds_ada_norm=10)  # fmt: skip


@pytest.mark.parametrize("shape, patch", [((2, 3, 8, 12), 2), ((1, 4, 8, 8), 4), ((3, 1, 6, 6), 3)])
def test_patchify_then_one_linear_map_is_diffusers_patch_embedding(shape, patch):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    embed = PatchEmbed(shape[2], shape[3], patch, shape[1], 16, pos_embed_type=None)
    weight = embed.proj.weight.permute(0, 2, 3, 1).reshape(16, -1)  # (D, p, p, C) flattened: patchify's layout
    with torch.no_grad():
        torch.testing.assert_close(patchify(x, patch) @ weight.T + embed.proj.bias, embed(x), atol=1e-5, rtol=1e-5)
    assert torch.equal(unpatchify(patchify(x, patch), patch, shape[1], shape[2], shape[3]), x)


def test_unpatchify_is_diffusers_dit_output_layout():
    tokens = torch.randn(2, 16, 2 * 2 * 3)
    theirs = torch.einsum("nhwpqc->nchpwq", tokens.reshape(2, 4, 4, 2, 2, 3)).reshape(2, 3, 8, 8)
    assert torch.equal(unpatchify(tokens, 2, 3, 8), theirs)


def test_bad_shapes_get_errors_that_say_what_to_do():
    with pytest.raises(ValueError, match="must divide"):
        patchify(torch.zeros(1, 1, 8, 8), 3)
    with pytest.raises(ValueError, match="expected tokens of shape"):
        unpatchify(torch.zeros(1, 16, 4), 2, 1, 6)
    with pytest.raises(ValueError, match="conditioning must be one of"):
        build_dit(DiTConfig(conditioning="concat"))
    with pytest.raises(ValueError, match="unknown recipe entries"):
        train_flow(DiT(), torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long), steps=1, learning_rate=1e-3)


@pytest.mark.parametrize("dim, grid", [(64, 4), (32, 2), (96, 8)])
def test_position_embedding_is_diffusers(dim, grid):
    theirs = get_2d_sincos_pos_embed(dim, grid, base_size=grid, output_type="pt")
    torch.testing.assert_close(sincos_2d(dim, grid), theirs.float(), atol=1e-6, rtol=0)


def test_timestep_features_are_diffusers():
    t = torch.tensor([0, 1, 17, 500, 999, 1000])
    torch.testing.assert_close(timestep_features(t), Timesteps(256, True, 1)(t), atol=1e-5, rtol=1e-5)


def test_attention_is_torch_scaled_dot_product_attention():
    g = torch.Generator().manual_seed(2)
    q, k, v = torch.randn(3, 5, 32, generator=g), torch.randn(3, 7, 32, generator=g), torch.randn(3, 7, 32, generator=g)
    split = lambda a: a.reshape(3, a.shape[1], 4, 8).transpose(1, 2)  # noqa: E731
    theirs = F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(1, 2).reshape(3, 5, 32)
    torch.testing.assert_close(attention(q, k, v, heads=4), theirs, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("patch", [2, 4])
def test_our_dit_computes_diffusers_dit_with_its_weights_either_way(patch):
    torch.manual_seed(0)
    theirs = _randomised(_diffusers_dit(patch))
    ours = DiT(layers=2, patch=patch).eval()
    ours.load_state_dict(theirs.state_dict())  # strict: every name matches
    x, t, y = torch.randn(6, 1, 8, 8), torch.tensor([1, 10, 250, 500, 999, 1000]), torch.tensor([0, 3, 5, 7, 9, 10])
    with torch.no_grad():
        expected = theirs(x, timestep=t, class_labels=y).sample
        torch.testing.assert_close(ours(x, t, y), expected, atol=1e-4, rtol=1e-4)
        mine = _randomised(DiT(layers=2, patch=patch), seed=3)
        back = _diffusers_dit(patch).eval()
        back.load_state_dict(mine.state_dict())
        torch.testing.assert_close(back(x, timestep=t, class_labels=y).sample, mine(x, t, y), atol=1e-4, rtol=1e-4)


def test_adaln_zero_starts_every_block_as_the_identity_and_the_model_at_zero():
    x = torch.randn(4, 16, 64)
    block = zero_init(DiTBlock(64, heads=4))
    assert torch.equal(block(x, torch.full((4,), 500), torch.arange(4)), x)
    digits = torch.randn(4, 1, 8, 8)
    for how in CONDITIONINGS:
        assert torch.equal(build_dit(DiTConfig(conditioning=how))(digits, 500), torch.zeros_like(digits)), how
    assert torch.equal(MMDiT()(torch.randn(2, 4, 8, 8), 500, torch.randn(2, 12, 64), torch.randn(2, 64)),
                       torch.zeros(2, 4, 8, 8))  # fmt: skip


def test_modulate_is_layer_norm_scaled_and_shifted_per_sample():
    x, shift, scale = torch.randn(2, 3, 8), torch.randn(2, 8), torch.randn(2, 8)
    by_hand = (x - x.mean(-1, keepdim=True)) / (x.var(-1, unbiased=False, keepdim=True) + 1e-6).sqrt()
    torch.testing.assert_close(modulate(x, shift, scale), by_hand * (1 + scale[:, None]) + shift[:, None])


def test_variants_are_conditioned_on_t_and_the_label():
    x = torch.randn(2, 1, 8, 8)
    for how in CONDITIONINGS[1:]:
        model = _randomised(build_dit(DiTConfig(conditioning=how)))
        with torch.no_grad():
            base = model(x, torch.tensor([500, 500]), torch.tensor([1, 1]))
            assert not torch.allclose(base, model(x, torch.tensor([500, 500]), torch.tensor([2, 2]))), how
            assert not torch.allclose(base, model(x, torch.tensor([100, 100]), torch.tensor([1, 1]))), how


def test_joint_attention_reads_both_ways_and_its_weights_are_distributions():
    model = _randomised(MMDiT(MMDiTConfig(layers=1)))
    z, states, pooled = torch.randn(2, 4, 8, 8), torch.randn(2, 12, 64), torch.randn(2, 64)
    with torch.no_grad():
        x, c, vector = model.embed(z, torch.tensor([300, 700]), states, pooled)
        weights = joint_attention_weights(model.blocks[0], x, c, vector)
        assert weights.shape == (2, 28, 28)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 28))
        assert weights[:, :12, 12:].sum() > 0 and weights[:, 12:, :12].sum() > 0  # text reads image, image text
        _, c_after = model.blocks[0](x, c, vector)
        _, c_other = model.blocks[0](x + 1, c, vector)
        assert not torch.allclose(c_after, c_other)  # the text tokens change with the image


@pytest.mark.parametrize("name", packaged.PACKAGED)
def test_packaged_models_load_frozen_and_say_how_they_were_trained(name):
    meta = packaged.packaged_metadata(name)
    assert {"steps", "seconds", "threads", "script"} <= set(meta), meta
    model = packaged.load_packaged(name)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_a_short_training_run_lowers_the_flow_loss():
    split = digits_split()
    torch.manual_seed(0)
    _, run = train_flow(DiT(), split.x_train, split.y_train, steps=60, progress=False, ema_decay=0.9)
    assert run["steps"] == 60 and run["loss"] < 1.0  # a zero-initialised model starts at E|eps - x0|^2, about 1.5
    with pytest.raises(ValueError, match="packaged Module 10 model"):
        packaged.packaged_metadata("dit-huge")
