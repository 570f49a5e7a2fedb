"""Cross-attention, written out: where in the picture each word of the prompt is read.

Queries come from the latent pixels, keys and values from the text encoder's states (Rombach et al. 2022,
§3.3; Vaswani et al. 2017, eq. 1). :class:`Recorder` runs the U-Net's cross-attention layers through
:func:`cross_attention` and keeps their attention weights. Derived in notebooks/09_text_to_image.ipynb §5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_attention(attn, hidden_states: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """diffusers ``Attention`` ``attn`` applied by hand: (output (B, N, C), weights (B, heads, N, M)).

    softmax(Q Kᵀ / sqrt(d)) V per head, Q = to_q(latent pixels) (B, N, C), K, V = to_k, to_v(text) (B, M, C_text).

    Derived in notebooks/09_text_to_image.ipynb §5.
    """
    B, N, _ = hidden_states.shape
    q, k, v = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)  # (B, N, C), (B, M, C), (B, M, C)
    d = q.shape[-1] // attn.heads
    q, k, v = (x.view(B, -1, attn.heads, d).transpose(1, 2) for x in (q, k, v))  # (B, heads, ·, d)
    weights = (q @ k.transpose(-1, -2) * attn.scale).softmax(dim=-1)  # (B, heads, N, M): each pixel's mix of words
    out = (weights @ v).transpose(1, 2).reshape(B, N, attn.heads * d)  # (B, N, C)
    return attn.to_out[1](attn.to_out[0](out)), weights


class Recorder:
    """An attention processor for the U-Net's cross-attention layers (``attn2``) that keeps their weights.

    ``maps()`` gives, for the conditional half of each guided batch, the weights averaged over heads, layers
    and steps, each layer's grid resized to the latent's: (B, M, H, W), one map per token.

    Derived in notebooks/09_text_to_image.ipynb §5.
    """

    def __init__(self, unet, size: int) -> None:
        self.size, self.kept = size, []
        self.unet, self.before = unet, unet.attn_processors
        unet.set_attn_processor({k: self if k.endswith("attn2.processor") else v for k, v in self.before.items()})

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, **kwargs):
        out, weights = cross_attention(attn, hidden_states, encoder_hidden_states)
        side = int(round(weights.shape[2] ** 0.5))
        grid = weights.mean(1).transpose(1, 2).reshape(weights.shape[0], -1, side, side)  # (B, M, side, side)
        self.kept.append(F.interpolate(grid, size=self.size, mode="bilinear", align_corners=False))
        return out

    def maps(self) -> torch.Tensor:
        """The mean map (B, M, H, W) of the conditional half, over every layer and step recorded."""
        stacked = torch.stack(self.kept)  # (calls, 2B or B, M, H, W)
        cond = stacked[:, stacked.shape[1] // 2 :] if stacked.shape[1] % 2 == 0 else stacked
        return cond.mean(0)

    def close(self) -> None:
        """Put the U-Net's own processors back."""
        self.unet.set_attn_processor(self.before)
