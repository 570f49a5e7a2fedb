"""MM-DiT, the block of Stable Diffusion 3 (Esser et al. 2024, Figure 2): text and image as two token streams.

Each stream keeps weights of its own (adaLN modulation, queries-keys-values, output projection, MLP), and one
attention runs over the two sequences joined, so image tokens read the text and text tokens read the image.
The conditioning vector is t's embedding plus the pooled text embedding, as in SD 3. Here the tokens are Module
09's shapes latents (4 × 8 × 8, patches of 2) and its frozen tiny CLIP's hidden states; the model predicts the
flow velocity of Module 07. Derived in notebooks/10_diffusion_transformers.ipynb §5.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from helpers.dit.model import (
    FeedForward,
    PatchEmbedding,
    TimestepEmbedder,
    attention,
    attention_weights,
    modulate,
    zero_init,
)
from helpers.dit.tokens import unpatchify
from helpers.models import check_timesteps


@dataclass(frozen=True)
class MMDiTConfig:
    """Hyperparameters of :class:`MMDiT`.

    Derived in notebooks/10_diffusion_transformers.ipynb §5.
    """

    dim: int = 64
    heads: int = 4
    layers: int = 4
    patch: int = 2
    image_size: int = 8  # latent pixels per side
    channels: int = 4  # latent channels
    text_dim: int = 64  # the text encoder's width
    T: int = 1000
    kind = "mmdit"


class Stream(nn.Module):
    """One modality's weights in a joint block: its modulation, q-k-v, output projection and MLP.

    Derived in notebooks/10_diffusion_transformers.ipynb §5.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.Linear(dim, 6 * dim)  # (shift, scale, gate) for attention, then for the MLP
        self.qkv, self.out, self.ff = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim), FeedForward(dim)


class JointBlock(nn.Module):
    """Both streams modulated, their q, k and v joined along the tokens, one attention, each stream's residuals.

    Derived in notebooks/10_diffusion_transformers.ipynb §5.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.image, self.text = Stream(dim), Stream(dim)

    def qkv(self, x: Tensor, c: Tensor, vector: Tensor) -> tuple[tuple[Tensor, ...], tuple, tuple]:
        """The joint queries, keys and values (text tokens first), and each stream's six modulation vectors."""
        mods_x = self.image.norm(F.silu(vector)).chunk(6, dim=1)
        mods_c = self.text.norm(F.silu(vector)).chunk(6, dim=1)
        joint = torch.cat([self.text.qkv(modulate(c, *mods_c[:2])), self.image.qkv(modulate(x, *mods_x[:2]))], dim=1)
        return joint.chunk(3, dim=2), mods_x, mods_c

    def forward(self, x: Tensor, c: Tensor, vector: Tensor) -> tuple[Tensor, Tensor]:
        (q, k, v), mods_x, mods_c = self.qkv(x, c, vector)
        a_c, a_x = attention(q, k, v, self.heads).split([c.shape[1], x.shape[1]], dim=1)
        out = []
        for h, a, stream, mods in ((x, a_x, self.image, mods_x), (c, a_c, self.text, mods_c)):
            _, _, gate1, shift2, scale2, gate2 = mods
            h = h + gate1[:, None] * stream.out(a)
            out.append(h + gate2[:, None] * stream.ff(modulate(h, shift2, scale2)))
        return out[0], out[1]


def joint_attention_weights(block: JointBlock, x: Tensor, c: Tensor, vector: Tensor) -> Tensor:
    """One joint block's attention weights averaged over heads: (B, M + N, M + N), the M text tokens first.

    Derived in notebooks/10_diffusion_transformers.ipynb §5.
    """
    (q, k, _), _, _ = block.qkv(x, c, vector)
    return attention_weights(q, k, block.heads).mean(1)


class MMDiT(nn.Module):
    """Stable Diffusion 3's denoiser in small: v(z_t, t, text states, pooled text) on latents (B, C, S, S).

    Derived in notebooks/10_diffusion_transformers.ipynb §5.
    """

    def __init__(self, config: MMDiTConfig = MMDiTConfig()) -> None:
        super().__init__()
        self.config, dim = config, config.dim
        self.patch_embed = PatchEmbedding(config.channels, dim, config.patch, config.image_size)
        self.context_embedder = nn.Linear(config.text_dim, dim)  # text tokens into the joint width
        self.timestep_embedder = TimestepEmbedder(dim)
        self.pooled_embedder = nn.Linear(config.text_dim, dim)
        self.blocks = nn.ModuleList(JointBlock(dim, config.heads) for _ in range(config.layers))
        self.norm_out = nn.Linear(dim, 2 * dim)
        self.proj_out = nn.Linear(dim, config.patch * config.patch * config.channels)
        zero_init(self)

    def embed(self, z_t: Tensor, t: Tensor | int, states: Tensor, pooled: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Image tokens (B, N, dim), text tokens (B, M, dim) and the conditioning vector (B, dim)."""
        t = check_timesteps(t, z_t.shape[0], self.config.T)
        vector = self.timestep_embedder(t) + self.pooled_embedder(pooled)
        return self.patch_embed(z_t), self.context_embedder(states), vector

    def forward(self, z_t: Tensor, t: Tensor | int, states: Tensor, pooled: Tensor) -> Tensor:
        x, c, vector = self.embed(z_t, t, states, pooled)
        for block in self.blocks:
            x, c = block(x, c, vector)
        shift, scale = self.norm_out(F.silu(vector)).chunk(2, dim=1)
        config = self.config
        return unpatchify(self.proj_out(modulate(x, shift, scale)), config.patch, config.channels, config.image_size)
