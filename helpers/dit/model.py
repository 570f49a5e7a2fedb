"""The DiT of Peebles & Xie 2023: patch tokens, transformer blocks conditioned by adaLN-Zero, and back to pixels.

The parameters carry the names of diffusers' ``DiTTransformer2DModel`` (``pos_embed.proj``, ``transformer_blocks``,
``norm1.emb``, ``attn1``, ``ff``, ``proj_out_1`` and ``proj_out_2``), so that its state dict loads into ours and
ours into it. Like diffusers, each block holds its own timestep and label embedder, and the output layer reuses
the first block's. Unlike diffusers, :func:`zero_init` starts every gate and the output at zero, as the paper does.
A DiT takes what the course's U-Net takes: x_t (B, C, H, W), integer t in 1..T and labels y (None: NULL_CLASS).
Derived in notebooks/10_diffusion_transformers.ipynb §2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from helpers.dit.tokens import sincos_2d, timestep_features, unpatchify
from helpers.models import NUM_CLASSES, check_timesteps, labels_or_null

FEATURES = 256  # the timestep's sinusoidal features, as in DiT and diffusers


@dataclass(frozen=True)
class DiTConfig:
    """Hyperparameters of :class:`DiT` (and of the variants in :mod:`helpers.dit.variants`).

    Derived in notebooks/10_diffusion_transformers.ipynb §2.
    """

    dim: int = 64
    heads: int = 4
    layers: int = 4
    patch: int = 4
    image_size: int = 8
    channels: int = 1
    T: int = 1000
    conditioning: str = "adaln-zero"  # or "in-context", "cross-attention" (helpers.dit.variants)
    kind = "dit"


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: LayerNorm without its own affine, then the conditioning's scale and shift, x̂ (1 + scale) + shift.

    x is (B, N, D); shift and scale are (B, D), one per sample, the same for all its tokens.
    Derived in notebooks/10_diffusion_transformers.ipynb §2.
    """
    return F.layer_norm(x, x.shape[-1:], eps=1e-6) * (1 + scale[:, None]) + shift[:, None]


def split_heads(a: Tensor, heads: int) -> Tensor:
    """(B, N, D) as ``heads`` heads of width D / heads: (B, heads, N, D / heads).

    Derived in notebooks/10_diffusion_transformers.ipynb §1.
    """
    B, N, D = a.shape
    return a.reshape(B, N, heads, D // heads).transpose(1, 2)


def attention_weights(q: Tensor, k: Tensor, heads: int) -> Tensor:
    """softmax(q kᵀ / √d) per head, d the head's width: (B, heads, N, M) for (B, N, D) queries and (B, M, D) keys.

    Vaswani et al. 2017, eq. 1. Derived in notebooks/10_diffusion_transformers.ipynb §1.
    """
    q, k = split_heads(q, heads), split_heads(k, heads)
    return torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)


def attention(q: Tensor, k: Tensor, v: Tensor, heads: int) -> Tensor:
    """Multi-head attention of (B, N, D) queries over (B, M, D) keys and values: each head's weights times its
    values, the heads side by side again, (B, N, D). Written out rather than fused so that its cost can be counted.

    Derived in notebooks/10_diffusion_transformers.ipynb §1.
    """
    B, N, D = q.shape
    return (attention_weights(q, k, heads) @ split_heads(v, heads)).transpose(1, 2).reshape(B, N, D)


class Attention(nn.Module):
    """Queries, keys, values and an output projection, named as diffusers' ``Attention`` names them.

    Derived in notebooks/10_diffusion_transformers.ipynb §2.
    """

    def __init__(self, dim: int, heads: int, context_dim: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k, self.to_v = nn.Linear(context_dim or dim, dim), nn.Linear(context_dim or dim, dim)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        context = x if context is None else context
        return self.to_out[0](attention(self.to_q(x), self.to_k(context), self.to_v(context), self.heads))


class FeedForward(nn.Module):
    """Linear to 4·dim, GELU (tanh), linear back: diffusers' ``FeedForward(activation_fn="gelu-approximate")``.

    Derived in notebooks/10_diffusion_transformers.ipynb §2.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        first = nn.Module()
        first.proj = nn.Linear(dim, 4 * dim)
        self.net = nn.ModuleList([first, nn.Dropout(0.0), nn.Linear(4 * dim, dim)])

    def forward(self, x: Tensor) -> Tensor:
        return self.net[2](F.gelu(self.net[0].proj(x), approximate="tanh"))


class PatchEmbedding(nn.Module):
    """Patch tokens with their 2-D positions added, (B, N, dim): one linear map of each patch, written as diffusers'
    ``PatchEmbed`` writes it, a convolution whose kernel and stride are the patch size.

    Derived in notebooks/10_diffusion_transformers.ipynb §1.
    """

    def __init__(self, channels: int, dim: int, patch: int, image_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, patch, stride=patch)
        self.register_buffer("position", sincos_2d(dim, image_size // patch), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2) + self.position


class TimestepEmbedder(nn.Module):
    """An MLP of t's sinusoidal features, (B, dim): diffusers' ``TimestepEmbedding`` after ``Timesteps``.

    Derived in notebooks/10_diffusion_transformers.ipynb §2.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear_1, self.linear_2 = nn.Linear(FEATURES, dim), nn.Linear(dim, dim)

    def forward(self, t: Tensor) -> Tensor:
        return self.linear_2(F.silu(self.linear_1(timestep_features(t, FEATURES))))


class Conditioning(nn.Module):
    """c = MLP(timestep features) + the label's embedding: diffusers' ``CombinedTimestepLabelEmbeddings``.

    Derived in notebooks/10_diffusion_transformers.ipynb §2.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.timestep_embedder = TimestepEmbedder(dim)
        self.class_embedder = nn.Module()
        self.class_embedder.embedding_table = nn.Embedding(NUM_CLASSES + 1, dim)  # the last row is NULL_CLASS

    def parts(self, t: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """The timestep's embedding and the label's, each (B, dim)."""
        return self.timestep_embedder(t), self.class_embedder.embedding_table(y)

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        time, label = self.parts(t, y)
        return time + label


class AdaLNZero(nn.Module):
    """The conditioning and the linear map from it to six vectors: shift, scale and gate, for attention and MLP.

    Derived in notebooks/10_diffusion_transformers.ipynb §2.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.emb = Conditioning(dim)
        self.linear = nn.Linear(dim, 6 * dim)

    def forward(self, t: Tensor, y: Tensor) -> tuple[Tensor, ...]:
        return self.linear(F.silu(self.emb(t, y))).chunk(6, dim=1)


class DiTBlock(nn.Module):
    """x + gate₁ · Attention(adaLN(x)), then + gate₂ · MLP(adaLN(x)): Peebles & Xie 2023, Figure 3 (right).

    Derived in notebooks/10_diffusion_transformers.ipynb §2.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = AdaLNZero(dim)
        self.attn1 = Attention(dim, heads)
        self.ff = FeedForward(dim)

    def forward(self, x: Tensor, t: Tensor, y: Tensor) -> Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.norm1(t, y)  # each (B, D)
        x = x + gate1[:, None] * self.attn1(modulate(x, shift1, scale1))
        return x + gate2[:, None] * self.ff(modulate(x, shift2, scale2))


class DiT(nn.Module):
    """A class-conditional diffusion transformer for C × S × S images, conditioned by adaLN-Zero.

    Derived in notebooks/10_diffusion_transformers.ipynb §2.
    """

    def __init__(self, dim: int = 64, heads: int = 4, layers: int = 4, patch: int = 4, image_size: int = 8,
                 channels: int = 1, T: int = 1000, conditioning: str = "adaln-zero") -> None:  # fmt: skip
        super().__init__()
        if conditioning != "adaln-zero":
            raise ValueError("DiT conditions by adaLN-Zero; helpers.dit.variants.build_dit builds the other two.")
        self.config = DiTConfig(dim, heads, layers, patch, image_size, channels, T, conditioning)
        self.pos_embed = PatchEmbedding(channels, dim, patch, image_size)
        self.transformer_blocks = nn.ModuleList(DiTBlock(dim, heads) for _ in range(layers))
        self.proj_out_1, self.proj_out_2 = nn.Linear(dim, 2 * dim), nn.Linear(dim, patch * patch * channels)
        zero_init(self)

    def forward(self, x_t: Tensor, t: Tensor | int, y: Tensor | None = None) -> Tensor:
        config = self.config
        t = check_timesteps(t, x_t.shape[0], config.T)
        y = labels_or_null(y, x_t.shape[0])
        h = self.pos_embed(x_t)
        for block in self.transformer_blocks:
            h = block(h, t, y)
        shift, scale = self.proj_out_1(F.silu(self.transformer_blocks[0].norm1.emb(t, y))).chunk(2, dim=1)
        out = self.proj_out_2(modulate(h, shift, scale))  # (B, N, p·p·C)
        return unpatchify(out, config.patch, config.channels, config.image_size)


def zero_init(model: nn.Module) -> nn.Module:
    """adaLN-Zero's start: every modulation (its gates too) and the output layer at zero: each block is the identity.

    Peebles & Xie 2023, sec. 3.2. Derived in notebooks/10_diffusion_transformers.ipynb §2.
    """
    for name, module in model.named_modules():
        modulation = name.endswith(("norm1.linear", ".norm")) or name in ("norm_out", "proj_out_1")
        if isinstance(module, nn.Linear) and (modulation or name in ("proj_out", "proj_out_2")):
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)
    return model
