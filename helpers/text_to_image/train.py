"""Train the shapes model's parts in Stable Diffusion's order: the VAE, then a tiny CLIP, then the denoiser on latents.

Each trainer draws its batches from a seeded generator, shows a progress bar and returns its losses, as
helpers.training.train does. Derived in notebooks/09_text_to_image.ipynb §2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from helpers.schedules import per_row
from helpers.training import EMA, optimizer_step, run_steps


def token_ids(tokenizer, captions: list[str]) -> torch.Tensor:
    """The captions as token ids padded to the tokenizer's length (N, MAX_TOKENS), as the pipeline pads them.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    return tokenizer(
        captions, padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt"
    ).input_ids


def kl_to_standard_normal(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per element, averaged: the prior term of Kingma & Welling 2014, eq. 10.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    return 0.5 * (mean**2 + logvar.exp() - 1 - logvar).mean()


def train_vae(
    vae,
    images: torch.Tensor,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    kl_weight: float = 1e-4,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Fit the AutoencoderKL to ``images`` (N, 3, 32, 32) in [-1, 1]: squared error plus a small KL to N(0, I).

    SD's VAE adds a perceptual and an adversarial loss (Rombach et al. 2022, appendix G); flat shapes need neither.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(vae.parameters(), lr=lr)

    def step() -> float:
        x = images[torch.randint(0, len(images), (batch_size,), generator=generator)]
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=generator)
        loss = F.mse_loss(vae.decode(z).sample, x) + kl_weight * kl_to_standard_normal(posterior.mean, posterior.logvar)
        return optimizer_step(vae, optimizer, loss, grad_clip=1.0)

    return run_steps(vae, step, steps, None, tqdm(total=steps, desc="VAE", disable=not progress))


class ImageTower(nn.Module):
    """CLIP's image side, made small: three convolutions, then a linear map of the whole grid (so it keeps where).

    Derived in notebooks/09_text_to_image.ipynb §2.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1),
            nn.SiLU(),  # (B, 32, 16, 16)
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.SiLU(),  # (B, 64, 8, 8)
            nn.Conv2d(64, 32, 3, padding=1),
            nn.SiLU(),
            nn.Flatten(),  # (B, 32 * 8 * 8)
            nn.Linear(32 * 8 * 8, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TinyCLIP(nn.Module):
    """The text encoder and an image tower, each projected to a shared space; ``logit_scale`` is CLIP's temperature.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """

    def __init__(self, text_encoder) -> None:
        super().__init__()
        dim = text_encoder.config.hidden_size
        self.text_encoder, self.image_tower = text_encoder, ImageTower(dim)
        self.text_projection = nn.Linear(dim, dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # log(1 / 0.07), as CLIP starts

    def embed_text(self, ids: torch.Tensor) -> torch.Tensor:
        """Unit vectors (B, dim) from the end token's state, CLIP's pooled output."""
        return F.normalize(self.text_projection(self.text_encoder(ids).pooler_output), dim=-1)

    def embed_image(self, x: torch.Tensor) -> torch.Tensor:
        """Unit vectors (B, dim) of images (B, 3, 32, 32)."""
        return F.normalize(self.image_tower(x), dim=-1)


def clip_loss(clip: TinyCLIP, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric cross-entropy (Radford et al. 2021, Figure 3) over a batch; a caption that appears twice in
    the batch counts as right for each of its images.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    logits = clip.logit_scale.exp().clamp(max=100) * clip.embed_text(ids) @ clip.embed_image(x).T  # (B, B)
    same = (ids[:, None, :] == ids[None, :, :]).all(-1).float()  # (B, B): captions that are the same words
    targets = same / same.sum(1, keepdim=True)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets.T)) / 2


def train_clip(
    clip: TinyCLIP,
    images: torch.Tensor,
    ids: torch.Tensor,
    steps: int,
    batch_size: int = 256,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train the text encoder and the image tower together so that each caption points where its image does.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(clip.parameters(), lr=lr)

    def step() -> float:
        idx = torch.randint(0, len(images), (batch_size,), generator=generator)
        return optimizer_step(clip, optimizer, clip_loss(clip, images[idx], ids[idx]), grad_clip=1.0)

    return run_steps(clip, step, steps, None, tqdm(total=steps, desc="CLIP", disable=not progress))


@torch.no_grad()
def retrieval_accuracy(clip: TinyCLIP, images: torch.Tensor, ids: torch.Tensor) -> float:
    """The fraction of captions whose own image is the most similar of all ``images`` (distinct captions assumed).

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    clip.eval()
    similarity = clip.embed_text(ids) @ clip.embed_image(images).T  # (N, N)
    return (similarity.argmax(1) == torch.arange(len(ids))).float().mean().item()


@torch.no_grad()
def encode_latents(vae, images: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """The VAE posterior's mean and standard deviation of each image, each (N, 4, 8, 8), unscaled.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    vae.eval()
    parts = [vae.encode(images[i : i + batch_size]).latent_dist for i in range(0, len(images), batch_size)]
    return torch.cat([p.mean for p in parts]), torch.cat([p.std for p in parts])


@torch.no_grad()
def text_states(text_encoder, ids: torch.Tensor) -> torch.Tensor:
    """The text encoder's last hidden states (N, MAX_TOKENS, HIDDEN): what the U-Net's cross-attention reads.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    text_encoder.eval()
    return text_encoder(ids).last_hidden_state


def train_unet(
    unet,
    latents: tuple[torch.Tensor, torch.Tensor],
    states: torch.Tensor,
    empty: torch.Tensor,
    scheduler,
    steps: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    p_uncond: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> tuple[list[float], nn.Module]:
    """The simple loss on scaled latents (Ho et al. 2020, Algorithm 1; Rombach et al. 2022, eq. 2), each caption
    replaced by the empty one with chance ``p_uncond`` for classifier-free guidance: losses and the EMA model.

    ``latents`` is (mean, std) already multiplied by the scaling factor; ``empty`` is the empty caption's states.

    Derived in notebooks/09_text_to_image.ipynb §2.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer, ema = torch.optim.Adam(unet.parameters(), lr=lr), EMA(unet, decay=0.995)
    mean, std = latents

    def step() -> float:
        idx = torch.randint(0, len(mean), (batch_size,), generator=generator)
        z0 = mean[idx] + std[idx] * torch.randn(mean[idx].shape, generator=generator)  # a posterior sample
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch_size,), generator=generator)
        eps = torch.randn(z0.shape, generator=generator)
        z_t = scheduler.add_noise(z0, eps, t)  # q(z_t | z0) of Module 02, on diffusers' alphas_cumprod
        drop = torch.rand(batch_size, generator=generator) < p_uncond
        context = torch.where(per_row(drop, 3), empty, states[idx])  # (B, MAX_TOKENS, HIDDEN)
        loss = F.mse_loss(unet(z_t, t, encoder_hidden_states=context).sample, eps)
        value = optimizer_step(unet, optimizer, loss, grad_clip=1.0)
        ema.update(unet)
        return value

    return run_steps(unet, step, steps, None, tqdm(total=steps, desc="U-Net", disable=not progress)), ema.model


@dataclass(frozen=True)
class TwinRecipe:
    """How the shapes model is trained: the data, and each part's steps, batch and learning rate.

    Derived in notebooks/09_text_to_image.ipynb §2; ``python scripts/train_twin.py`` runs FULL.
    """

    scenes: int = 12_000
    vae_steps: int = 1200
    vae_batch: int = 32
    clip_steps: int = 600
    clip_batch: int = 256
    unet_steps: int = 3000
    unet_batch: int = 64
    unet_lr: float = 1e-3
    p_uncond: float = 0.1
    seed: int = 0


FULL = TwinRecipe()
