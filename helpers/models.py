"""Noise-prediction networks eps_theta(x_t, t, y): an MLP for 2D points and a small U-Net for 8x8 digits.

Both take the noisy sample x_t, an integer timestep t in [0, T] (t = 0 is clean, as in
Ho et al. 2020) and, for the U-Net, an optional class label y. A conditional U-Net has 11
class embeddings: the digits 0..9 and NULL_CLASS = 10, "no class", which classifier-free
guidance (Ho & Salimans 2022) trains by label dropout and uses for the unconditional
prediction. Each model keeps its constructor arguments in ``model.config`` so that
``build_model(model.config)`` rebuilds it (helpers.training.save_weights stores the config).
Used from notebooks/03_training_objective.ipynb on.
"""
from __future__ import annotations

import math
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

NUM_CLASSES = 10
NULL_CLASS = 10  # the "no class" label of classifier-free guidance
PRETRAINED_FILE = "digits_unet.safetensors"


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Transformer position encoding of t (Vaswani et al. 2017, sec. 3.5), as DDPM embeds timesteps: [sin, cos], (B, dim)."""
    if dim % 2:
        raise ValueError(f"the embedding dimension must be even, got {dim}.")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / (half - 1))  # (half,)
    angles = t.float()[:, None] * freqs[None, :]  # (B, half)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)  # (B, dim)


def check_timesteps(t: torch.Tensor | int, batch: int, T: int) -> torch.Tensor:
    """Return t as an int64 tensor of shape (B,), or raise if it is not an integer timestep in [0, T]."""
    t = torch.as_tensor(t)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"t must hold integer timesteps in [0, {T}], got dtype {t.dtype}; use torch.randint or .long().")
    if t.ndim == 0:
        t = t.expand(batch)
    if t.shape != (batch,):
        raise ValueError(f"t must have shape ({batch},), one timestep per sample of x_t, or be a single timestep; got {tuple(t.shape)}.")
    if batch and (t.min() < 0 or t.max() > T):
        raise ValueError(f"t must be in [0, {T}] (t = 0 is clean data, t = T pure noise); got values {t.min().item()}..{t.max().item()}.")
    return t.long()


def _check_x(x_t: torch.Tensor, expected: tuple[int, ...], what: str) -> None:
    if not isinstance(x_t, torch.Tensor) or x_t.ndim != len(expected) + 1 or tuple(x_t.shape[1:]) != expected:
        got = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
        raise ValueError(f"{what} expects x_t of shape (B, {', '.join(map(str, expected))}), got {got}.")


class TimeEmbedding(nn.Module):
    """Sinusoidal embedding of t followed by a 2-layer MLP, as in DDPM (Ho et al. 2020, appendix B)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.dim))  # (B, dim)


class MLPDenoiser(nn.Module):
    """eps_theta(x_t, t) for 2D points: an MLP on [x_t, time embedding] with SiLU activations."""

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, time_dim: int = 32, T: int = 1000) -> None:
        super().__init__()
        self.config = {"kind": "mlp", "dim": dim, "hidden": hidden, "depth": depth, "time_dim": time_dim, "T": T}
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
    """GroupNorm-SiLU-conv twice, with the time(+class) embedding added in between (the DDPM U-Net block)."""

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
    """A two-level U-Net (Ronneberger et al. 2015, as used by Ho et al. 2020) for 8x8 digits, optionally class-conditional."""

    def __init__(self, channels: int = 32, emb_dim: int = 64, conditional: bool = True, T: int = 1000,
                 image_channels: int = 1, image_size: int = 8) -> None:
        super().__init__()
        self.config = {"kind": "digits_unet", "channels": channels, "emb_dim": emb_dim, "conditional": conditional,
                       "T": T, "image_channels": image_channels, "image_size": image_size}
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
        if y is None:
            y = torch.full((batch,), NULL_CLASS, dtype=torch.long)
        y = torch.as_tensor(y)
        if y.is_floating_point() or y.shape != (batch,):
            raise ValueError(f"y must be integer labels of shape ({batch},), got dtype {y.dtype} and shape {tuple(y.shape)}.")
        if batch and (y.min() < 0 or y.max() > NULL_CLASS):
            raise ValueError(f"labels y must be digits 0..9 or NULL_CLASS = {NULL_CLASS}; got {y.min().item()}..{y.max().item()}.")
        return emb + self.label(y.long())

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | int, y: torch.Tensor | None = None) -> torch.Tensor:
        _check_x(x_t, self.image_shape, "DigitsUNet")
        t = check_timesteps(t, x_t.shape[0], self.T)  # (B,)
        emb = self.embed(t, y, x_t.shape[0])  # (B, emb_dim)
        h1 = self.down(self.conv_in(x_t), emb)  # (B, c, 8, 8)
        h = self.mid(self.downsample(h1), emb)  # (B, 2c, 4, 4)
        h = self.up(torch.cat([self.upsample(h), h1], dim=1), emb)  # (B, c, 8, 8)
        return self.conv_out(F.silu(self.norm_out(h)))  # (B, 1, 8, 8)


MODELS = {"mlp": MLPDenoiser, "digits_unet": DigitsUNet}


def build_model(config: dict[str, Any]) -> nn.Module:
    """Rebuild a fresh (untrained) model from its ``config`` dict, e.g. one read back from a weights file."""
    config = dict(config)
    kind = config.pop("kind", None)
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {sorted(MODELS)}.")
    return MODELS[kind](**config)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def pretrained_path() -> Traversable:
    """The packaged weights of the class-conditional digits U-Net, found with importlib.resources."""
    try:
        root = resources.files("helpers")
    except (NotADirectoryError, TypeError):  # helpers as a namespace package under an editable install
        root = Path(__file__).resolve().parent
    return root / "weights" / PRETRAINED_FILE


def pretrained_metadata() -> dict[str, Any]:
    """How the packaged U-Net was trained: config, schedule, T, p_uncond, steps, seed (see scripts/train_pretrained.py)."""
    from helpers.training import read_metadata

    with resources.as_file(pretrained_path()) as path:
        return read_metadata(path)


def load_pretrained() -> DigitsUNet:
    """The class-conditional digits U-Net trained by scripts/train_pretrained.py, in eval mode (eps prediction)."""
    from helpers.training import load_weights

    with resources.as_file(pretrained_path()) as path:
        model = load_weights(path)
    return model.eval()
