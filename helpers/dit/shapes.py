"""The MM-DiT on Module 09's shapes: the frozen text encoder and VAE of the shipped pipeline, a new denoiser.

The MM-DiT learns the flow velocity of Module 07 on the VAE's scaled latents, with each caption replaced by the
empty one with chance ``p_uncond`` for classifier-free guidance, as Module 09's U-Net was trained (with its
recipe's steps, batch and learning rate). Derived in notebooks/10_diffusion_transformers.ipynb §5.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from helpers.flow import flow_loss, flow_sample
from helpers.guidance import cfg_eps
from helpers.schedules import Schedule
from helpers.text_to_image.train import token_ids
from helpers.training import EMA, optimizer_step, run_steps


@torch.no_grad()
def encode_text(pipe, captions: list[str]) -> tuple[Tensor, Tensor]:
    """The frozen text encoder's hidden states (N, MAX_TOKENS, HIDDEN) and pooled embedding (N, HIDDEN).

    Derived in notebooks/10_diffusion_transformers.ipynb §5.
    """
    out = pipe.text_encoder.eval()(token_ids(pipe.tokenizer, captions))
    return out.last_hidden_state, out.pooler_output


class Captioned(nn.Module):
    """The MM-DiT as flow_loss calls a model, model(z_t, t, y), with y the row of a caption table (-1: empty).

    Derived in notebooks/10_diffusion_transformers.ipynb §5.
    """

    def __init__(self, mmdit: nn.Module, states: Tensor, pooled: Tensor, empty: tuple[Tensor, Tensor]) -> None:
        super().__init__()
        self.mmdit, self.config = mmdit, mmdit.config
        self.states, self.pooled, self.empty = states, pooled, empty

    def forward(self, z_t: Tensor, t: Tensor, y: Tensor) -> Tensor:
        dropped = (y < 0)[:, None]  # (B, 1)
        rows = y.clamp(min=0)
        states = torch.where(dropped[:, :, None], self.empty[0], self.states[rows])
        pooled = torch.where(dropped, self.empty[1], self.pooled[rows])
        return self.mmdit(z_t, t, states, pooled)


def train_mmdit(mmdit: nn.Module, latents: Tensor, captions: tuple[Tensor, Tensor], empty: tuple[Tensor, Tensor],
                steps: int, batch_size: int = 64, lr: float = 1e-3, p_uncond: float = 0.1, seed: int = 0,
                progress: bool = True) -> tuple[list[float], nn.Module]:  # fmt: skip
    """Flow matching on scaled latents (N, 4, 8, 8) and their captions' (states, pooled): losses and the EMA model.

    Derived in notebooks/10_diffusion_transformers.ipynb §5.
    """
    model = Captioned(mmdit, *captions, empty)
    generator = torch.Generator().manual_seed(seed)
    optimizer, ema = torch.optim.Adam(mmdit.parameters(), lr=lr), EMA(mmdit, decay=0.995)
    schedule, rows = Schedule.create("cosine", mmdit.config.T), torch.arange(len(latents))

    def step() -> float:
        idx = torch.randint(0, len(latents), (batch_size,), generator=generator)
        drop = torch.rand(batch_size, generator=generator) < p_uncond
        y = torch.where(drop, -1, rows[idx])
        value = optimizer_step(mmdit, optimizer, flow_loss(model, latents[idx], schedule, y, 0.0, generator), 1.0)
        ema.update(mmdit)
        return value

    return run_steps(mmdit, step, steps, None, tqdm(total=steps, desc="MM-DiT", disable=not progress)), ema.model


@torch.no_grad()
def draw_shapes(mmdit: nn.Module, pipe, prompts: list[str], seed: int = 0, num_steps: int = 20,
                guidance_scale: float = 4.0) -> Tensor:  # fmt: skip
    """Pictures (B, 3, 32, 32) in [-1, 1] for ``prompts``: guided Euler steps of the flow ODE, decoded by the VAE.

    Derived in notebooks/10_diffusion_transformers.ipynb §5.
    """
    states, pooled = encode_text(pipe, prompts)
    empty_states, empty_pooled = encode_text(pipe, [""] * len(prompts))
    both_states, both_pooled = torch.cat([empty_states, states]), torch.cat([empty_pooled, pooled])

    def velocity(z: Tensor, t: Tensor) -> Tensor:
        v_uncond, v_cond = mmdit(torch.cat([z, z]), torch.cat([t, t]), both_states, both_pooled).chunk(2)
        return cfg_eps(v_uncond, v_cond, guidance_scale)  # the guidance formula holds for velocities as for noise

    shape = (len(prompts), mmdit.config.channels, mmdit.config.image_size, mmdit.config.image_size)
    generator = torch.Generator().manual_seed(seed)
    z = flow_sample(velocity, shape, mmdit.config.T, num_steps, generator=generator)
    return pipe.vae.decode(z / pipe.vae.config.scaling_factor).sample.clamp(-1, 1)
