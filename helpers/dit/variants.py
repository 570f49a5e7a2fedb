"""The DiT paper's two other ways to condition on t and the class, for the comparison of its Figure 5.

Both turn t and y into two tokens (B, 2, dim) and use plain pre-LayerNorm transformer blocks:
- "in-context": the two tokens join the patch tokens in the sequence and are dropped after the last block;
- "cross-attention": each block adds a cross-attention layer whose keys and values are the two tokens.
:func:`build_dit` builds any of the three from a :class:`~helpers.dit.model.DiTConfig`.
Derived in notebooks/10_diffusion_transformers.ipynb §3.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from helpers.dit.model import Attention, Conditioning, DiT, DiTConfig, FeedForward, PatchEmbedding, zero_init
from helpers.dit.tokens import unpatchify
from helpers.models import check_timesteps, labels_or_null

CONDITIONINGS = ("adaln-zero", "in-context", "cross-attention")


class PlainBlock(nn.Module):
    """x + Attention(LN(x)) [+ CrossAttention(LN(x), context)] + MLP(LN(x)), LayerNorms with their own affine.

    Derived in notebooks/10_diffusion_transformers.ipynb §3.
    """

    def __init__(self, dim: int, heads: int, cross: bool) -> None:
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim, eps=1e-6), Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6) if cross else None
        self.attn2 = Attention(dim, heads) if cross else None
        self.norm3, self.ff = nn.LayerNorm(dim, eps=1e-6), FeedForward(dim)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        x = x + self.attn1(self.norm1(x))
        if self.attn2 is not None:
            x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class TokenDiT(nn.Module):
    """A DiT whose conditioning is two tokens, t's and y's: in the sequence ("in-context") or attended to
    ("cross-attention"). The output layer starts at zero, as adaLN-Zero's does.

    Derived in notebooks/10_diffusion_transformers.ipynb §3.
    """

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        if config.conditioning not in CONDITIONINGS[1:]:
            raise ValueError(f"TokenDiT conditions in-context or by cross-attention, not {config.conditioning!r}.")
        self.config, dim = config, config.dim
        self.pos_embed = PatchEmbedding(config.channels, dim, config.patch, config.image_size)
        self.emb = Conditioning(dim)
        cross = config.conditioning == "cross-attention"
        self.transformer_blocks = nn.ModuleList(PlainBlock(dim, config.heads, cross) for _ in range(config.layers))
        self.norm_out = nn.LayerNorm(dim, eps=1e-6)
        self.proj_out = nn.Linear(dim, config.patch * config.patch * config.channels)
        zero_init(self)

    def forward(self, x_t: Tensor, t: Tensor | int, y: Tensor | None = None) -> Tensor:
        config = self.config
        t = check_timesteps(t, x_t.shape[0], config.T)
        conditioning = torch.stack(self.emb.parts(t, labels_or_null(y, x_t.shape[0])), dim=1)  # (B, 2, dim)
        h = self.pos_embed(x_t)  # (B, N, dim)
        if config.conditioning == "in-context":
            h = torch.cat([conditioning, h], dim=1)
        for block in self.transformer_blocks:
            h = block(h, conditioning)
        h = h[:, -self.pos_embed.position.shape[0] :]  # the patch tokens only
        return unpatchify(self.proj_out(self.norm_out(h)), config.patch, config.channels, config.image_size)


def build_dit(config: DiTConfig | dict) -> nn.Module:
    """A fresh DiT of ``config`` (or of the dict a weights file stores), conditioned as ``config.conditioning`` says.

    Derived in notebooks/10_diffusion_transformers.ipynb §3.
    """
    if isinstance(config, dict):
        config = DiTConfig(**{k: v for k, v in config.items() if k != "kind"})
    if config.conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {config.conditioning!r}.")
    if config.conditioning == "adaln-zero":
        return DiT(**dataclasses.asdict(config))
    return TokenDiT(config)
