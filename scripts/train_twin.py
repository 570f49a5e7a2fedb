"""Train the shapes model (Module 09) from nothing and save it as a diffusers folder, helpers/weights/shapes_sd/.

Run from the repository root; the same torch version and thread count give the same weights:

    python scripts/train_twin.py              # train helpers.text_to_image.train.FULL and save it
    python scripts/train_twin.py --out DIR    # somewhere else

It makes the scenes (helpers.text_to_image.scenes), the grammar's CLIP tokenizer, then trains in Stable
Diffusion's order: the AutoencoderKL, a tiny CLIP whose text tower becomes the frozen CLIPTextModel, and
the UNet2DConditionModel on the VAE's latents scaled by the factor measured from them. The pipeline is
saved with ``save_pretrained`` and loaded back with ``from_pretrained`` to check the round trip.

Measured for the committed folder (2 torch threads on a 2-core CPU that other work shared): VAE 128 s,
CLIP 48 s, U-Net 341 s, 518 s in all; 5.6 MB. A second run gave byte-identical files. What it draws
(notebooks/09_text_to_image.ipynb §4: 25 DDIM steps, guidance 4, every attribute read from the pixels):

    prompts                      colour   kind    size    place
    seen pairs (200)             0.99     0.99    0.99    0.90
    held-out pairs (100)         0.92     0.89    0.92    0.88
    two shapes (100): two shapes drawn 0.97, both colour-and-kind pairs right 0.80, relation right 0.80
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from helpers.sd.shapes import SHAPES_DIR
from helpers.text_to_image import parts, train
from helpers.text_to_image.scenes import make_scenes
from helpers.text_to_image.twin import assemble, load_twin


def train_twin(recipe: train.TwinRecipe, folder: Path, progress: bool = True) -> tuple[object, dict[str, float]]:
    """Train every part by ``recipe``: the assembled pipeline, and the seconds each part took."""
    images, captions, _ = make_scenes(recipe.scenes, seed=recipe.seed)
    images = torch.from_numpy(images)
    tokenizer = parts.build_tokenizer(folder / "tokenizer")
    ids = train.token_ids(tokenizer, captions)
    seconds, clock = {}, time.perf_counter()
    vae = parts.build_vae(recipe.seed)
    train.train_vae(vae, images, recipe.vae_steps, recipe.vae_batch, seed=recipe.seed, progress=progress)
    seconds["VAE"], clock = time.perf_counter() - clock, time.perf_counter()
    clip = train.TinyCLIP(parts.build_text_encoder(tokenizer, recipe.seed))
    train.train_clip(clip, images, ids, recipe.clip_steps, recipe.clip_batch, seed=recipe.seed, progress=progress)
    seconds["CLIP"], clock = time.perf_counter() - clock, time.perf_counter()
    mean, std = train.encode_latents(vae, images)
    scale = 1 / (mean + std * torch.randn_like(mean)).std().item()  # SD's 0.18215 was found this way
    vae.register_to_config(scaling_factor=scale)
    text_encoder = clip.text_encoder
    states = train.text_states(text_encoder, ids)
    empty = train.text_states(text_encoder, train.token_ids(tokenizer, [""]))
    unet = parts.build_unet(recipe.seed)
    _, ema = train.train_unet(
        unet,
        (mean * scale, std * scale),
        states,
        empty[0],
        parts.build_scheduler("DDPMScheduler"),
        recipe.unet_steps,
        recipe.unet_batch,
        recipe.unet_lr,
        recipe.p_uncond,
        recipe.seed,
        progress,
    )
    seconds["U-Net"] = time.perf_counter() - clock
    return assemble(vae, text_encoder, tokenizer, ema), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHAPES_DIR)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the recorded run used 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        pipe, seconds = train_twin(train.FULL, Path(scratch))
        pipe.save_pretrained(args.out, safe_serialization=True)
    load_twin(args.out)  # the round trip: from_pretrained, offline
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file()) / 1e6
    print(" | ".join(f"{k} {v:.0f} s" for k, v in seconds.items()), f"| total {sum(seconds.values()):.0f} s")
    print(f"saved {args.out} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
