"""Noise-prediction networks eps_theta(x_t, t, y): an MLP for 2D points and a small U-Net for 8x8 digits.

Both take the noisy sample x_t, an integer timestep t in [0, T] (t = 0 is clean, as in
Ho et al. 2020) and, for the U-Net, an optional class label y. A conditional U-Net has 11
class embeddings: the digits 0..9 and NULL_CLASS = 10, "no class", which classifier-free
guidance (Ho & Salimans 2022) trains by label dropout and uses for the unconditional
prediction. Each model keeps its hyperparameters in ``model.config``, a frozen dataclass
(:class:`MLPConfig` or :class:`UNetConfig`), so that ``build_model(model.config)`` rebuilds it;
:func:`save_weights` stores it in the safetensors header and :func:`load_weights` reads it back.
Derived in notebooks/03_training_objective.ipynb.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from helpers.schedules import check_t

NUM_CLASSES = 10
NULL_CLASS = 10  # the "no class" label of classifier-free guidance


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Transformer position encoding of t (Vaswani et al. 2017, sec. 3.5), as DDPM embeds timesteps: (B, dim).

    Derived in notebooks/03_training_objective.ipynb §3.
    """
    if dim % 2:
        raise ValueError(f"the embedding dimension must be even, got {dim}.")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / (half - 1))  # (half,)
    angles = t.float()[:, None] * freqs[None, :]  # (B, half)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)  # (B, dim)


def check_timesteps(t: torch.Tensor | int, batch: int, T: int) -> torch.Tensor:
    """t as an int64 tensor of shape (B,): one timestep for the batch is expanded; each is checked by schedules.check_t.

    Derived in notebooks/03_training_objective.ipynb §3.
    """
    check_t(t, T)
    t = torch.as_tensor(t)
    if t.ndim == 0:
        t = t.expand(batch)
    if t.shape != (batch,):
        raise ValueError(
            f"t must have shape ({batch},), one timestep per sample of x_t, or be a single timestep; "
            f"got {tuple(t.shape)}."
        )
    return t.long()


def labels_or_null(y: torch.Tensor | None, batch: int) -> torch.Tensor:
    """The labels as int64 of shape (B,), each a digit or NULL_CLASS; None means NULL_CLASS for every sample.

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    if y is None:
        return torch.full((batch,), NULL_CLASS, dtype=torch.long)
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.shape != (batch,):
        raise ValueError(
            f"y must be integer labels of shape ({batch},), got dtype {y.dtype} and shape {tuple(y.shape)}."
        )
    if batch and (y.min() < 0 or y.max() > NULL_CLASS):
        raise ValueError(
            f"labels y must be digits 0..9 or NULL_CLASS = {NULL_CLASS}; got {y.min().item()}..{y.max().item()}."
        )
    return y.long()


@dataclass(frozen=True)
class MLPConfig:
    """Hyperparameters of :class:`MLPDenoiser`.

    Derived in notebooks/03_training_objective.ipynb §3.
    """

    dim: int = 2
    hidden: int = 128
    depth: int = 3
    time_dim: int = 32
    T: int = 1000
    kind = "mlp"


@dataclass(frozen=True)
class UNetConfig:
    """Hyperparameters of :class:`DigitsUNet`.

    Derived in notebooks/03_training_objective.ipynb §4.
    """

    channels: int = 32
    emb_dim: int = 64
    conditional: bool = True
    T: int = 1000
    image_channels: int = 1
    image_size: int = 8
    kind = "digits_unet"


def config_to_dict(config: MLPConfig | UNetConfig) -> dict[str, Any]:
    """The config as the JSON-ready dict stored in a weights file: its fields plus "kind".

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    return {"kind": config.kind, **dataclasses.asdict(config)}


def config_from_dict(data: dict[str, Any]) -> MLPConfig | UNetConfig:
    """The typed config written by :func:`config_to_dict` (as read back from a weights file).

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    data = dict(data)
    kind = data.pop("kind", None)
    types = {c.kind: c for c in (MLPConfig, UNetConfig)}
    if kind not in types:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(types)}.")
    return types[kind](**data)


def _check_x(x_t: torch.Tensor, expected: tuple[int, ...], what: str) -> None:
    if not isinstance(x_t, torch.Tensor) or x_t.ndim != len(expected) + 1 or tuple(x_t.shape[1:]) != expected:
        got = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
        raise ValueError(f"{what} expects x_t of shape (B, {', '.join(map(str, expected))}), got {got}.")


class TimeEmbedding(nn.Module):
    """Sinusoidal embedding of t followed by a 2-layer MLP, as in DDPM (Ho et al. 2020, appendix B).

    Derived in notebooks/03_training_objective.ipynb §3.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.dim))  # (B, dim)


class MLPDenoiser(nn.Module):
    """eps_theta(x_t, t) for 2D points: an MLP on [x_t, time embedding] with SiLU activations.

    Derived in notebooks/03_training_objective.ipynb §3.
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, time_dim: int = 32, T: int = 1000) -> None:
        super().__init__()
        self.config = MLPConfig(dim, hidden, depth, time_dim, T)
        self.dim, self.T = dim, T
        self.time = TimeEmbedding(time_dim)
        layers: list[nn.Module] = []
        width = dim + time_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(hidden, dim))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | int, y: torch.Tensor | None = None) -> torch.Tensor:
        _check_x(x_t, (self.dim,), "MLPDenoiser")
        if y is not None:
            raise ValueError("MLPDenoiser is unconditional: call it without labels y.")
        t = check_timesteps(t, x_t.shape[0], self.T)  # (B,)
        return self.net(torch.cat([x_t, self.time(t)], dim=1))  # (B, dim)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the time(+class) embedding added in between (the DDPM U-Net block).

    Derived in notebooks/03_training_objective.ipynb §4.
    """

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int = 8) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, c_out, H, W)
        h = h + self.emb(F.silu(emb))[:, :, None, None]  # per-channel shift from (t, y)
        h = self.conv2(F.silu(self.norm2(h)))  # (B, c_out, H, W)
        return h + self.skip(x)


class DigitsUNet(nn.Module):
    """A two-level U-Net (Ronneberger et al. 2015, as in Ho et al. 2020) for 8x8 digits, optionally class-conditional.

    Derived in notebooks/03_training_objective.ipynb §4.
    """

    def __init__(
        self,
        channels: int = 32,
        emb_dim: int = 64,
        conditional: bool = True,
        T: int = 1000,
        image_channels: int = 1,
        image_size: int = 8,
    ) -> None:
        super().__init__()
        self.config = UNetConfig(channels, emb_dim, conditional, T, image_channels, image_size)
        self.T, self.conditional = T, conditional
        self.image_shape = (image_channels, image_size, image_size)
        c = channels
        self.time = TimeEmbedding(emb_dim)
        # 10 digits + NULL_CLASS; zero-initialised so that every label starts as "no information"
        self.label = nn.Embedding(NUM_CLASSES + 1, emb_dim) if conditional else None
        if self.label is not None:
            nn.init.zeros_(self.label.weight)
        self.conv_in = nn.Conv2d(image_channels, c, 3, padding=1)
        self.down = ResBlock(c, c, emb_dim)  # at 8x8
        self.downsample = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)  # 8x8 -> 4x4
        self.mid = ResBlock(2 * c, 2 * c, emb_dim)  # at 4x4
        self.upsample = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * c, c, 3, padding=1))
        self.up = ResBlock(2 * c, c, emb_dim)  # [upsampled, skip] at 8x8
        self.norm_out = nn.GroupNorm(8, c)
        self.conv_out = nn.Conv2d(c, image_channels, 3, padding=1)

    def embed(self, t: torch.Tensor, y: torch.Tensor | None, batch: int) -> torch.Tensor:
        """Time embedding plus label embedding; y = None means NULL_CLASS for a conditional model, (B, emb_dim)."""
        emb = self.time(t)  # (B, emb_dim)
        if self.label is None:
            if y is not None:
                raise ValueError("this DigitsUNet is unconditional (conditional=False): call it without labels y.")
            return emb
        return emb + self.label(labels_or_null(y, batch))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | int, y: torch.Tensor | None = None) -> torch.Tensor:
        _check_x(x_t, self.image_shape, "DigitsUNet")
        t = check_timesteps(t, x_t.shape[0], self.T)  # (B,)
        emb = self.embed(t, y, x_t.shape[0])  # (B, emb_dim)
        h1 = self.down(self.conv_in(x_t), emb)  # (B, c, 8, 8)
        h = self.mid(self.downsample(h1), emb)  # (B, 2c, 4, 4)
        h = self.up(torch.cat([self.upsample(h), h1], dim=1), emb)  # (B, c, 8, 8)
        return self.conv_out(F.silu(self.norm_out(h)))  # (B, 1, 8, 8)


MODELS = {"mlp": MLPDenoiser, "digits_unet": DigitsUNet}


def build_model(config: MLPConfig | UNetConfig | dict[str, Any]) -> nn.Module:
    """A fresh (untrained) model from its config: a typed config, or the dict a weights file stores.

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    if isinstance(config, dict):
        config = config_from_dict(config)
    return MODELS[config.kind](**dataclasses.asdict(config))


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (on the meta device too, as Module 06 counts them).

    Derived in notebooks/03_training_objective.ipynb §3.
    """
    return sum(p.numel() for p in model.parameters())
