"""Train Module 10's packaged models (helpers.dit.packaged.PACKAGED) and save them in helpers/weights/dit/.

Run from the repository root, on an otherwise idle machine (the 60-second budgets are wall time):

    python scripts/train_dits.py                  # all of them, about 12 minutes on 2 cores
    python scripts/train_dits.py --only dit-p2-60s --only unet-60s
    python scripts/train_dits.py --out DIR        # somewhere else

Every digits model is trained by helpers.dit.train.train_flow: Module 07's flow loss, Adam lr 2e-3, batch 128,
label dropout 0.15, gradients clipped at 1, a moving average of the weights (decay 0.995), seed 0, on the
training part of helpers.data.digits_split(). The file stores the average, in float16, with what the run took
(steps, seconds, threads) in its metadata:
- EQUAL_TIME: the course's DigitsUNet (Module 03) and the DiT with patches of 4 and of 2, each for 60 seconds;
- SCALING: DiTs of width 32, 64 and 96 (patches of 4) and of width 64 (patches of 2), each for 400 steps with the
  moving average's decay at 0.98 (about the last 50 steps; 0.995 would still hold the untrained start after 400).
"mmdit-shapes" is the MM-DiT of helpers.dit.mmdit trained on Module 09's scenes with the shipped pipeline's
frozen VAE and text encoder, by Module 09's U-Net recipe (helpers.text_to_image.train.FULL: steps, batch, learning
rate, caption dropout), with the flow loss. notebooks/10_diffusion_transformers.ipynb measures what each draws.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from helpers.data import digits_split
from helpers.dit import packaged
from helpers.dit.mmdit import MMDiT
from helpers.dit.model import DiT
from helpers.dit.shapes import encode_text, train_mmdit
from helpers.dit.train import RECIPE, train_flow
from helpers.models import DigitsUNet
from helpers.pretrained import save_weights

SHORT = {"steps": 400, "ema_decay": 0.98}  # short runs, where the models are not yet as good as they get
BUILDERS = {
    "unet-60s": (DigitsUNet, {"max_seconds": 60}),
    "dit-p4-60s": (lambda: DiT(patch=4), {"max_seconds": 60}),
    "dit-p2-60s": (lambda: DiT(patch=2), {"max_seconds": 60}),
    "dit-w32-p4": (lambda: DiT(dim=32, heads=2, patch=4), SHORT),
    "dit-w64-p4": (lambda: DiT(dim=64, heads=4, patch=4), SHORT),
    "dit-w96-p4": (lambda: DiT(dim=96, heads=6, patch=4), SHORT),
    "dit-w64-p2": (lambda: DiT(dim=64, heads=4, patch=2), SHORT),
}


def train_digits(name: str, out: Path) -> None:
    build, budget = BUILDERS[name]
    split = digits_split()
    torch.manual_seed(0)
    ema, run = train_flow(build(), split.x_train, split.y_train, seed=0, **budget)
    recipe = {**RECIPE, **{k: v for k, v in budget.items() if k in RECIPE}}
    meta = {**run, "budget": budget, "threads": torch.get_num_threads(), "recipe": recipe, "seed": 0,
            "objective": "helpers.flow.flow_loss", "script": "scripts/train_dits.py"}  # fmt: skip
    save_weights(ema, out / f"{name}.safetensors", meta, dtype=torch.float16)
    print(f"{name}: {run['steps']} steps in {run['seconds']:.0f} s, final loss {run['loss']:.4f}", flush=True)


def train_shapes(out: Path) -> None:
    from helpers.text_to_image.scenes import make_scenes
    from helpers.text_to_image.train import FULL, encode_latents
    from helpers.text_to_image.twin import load_twin

    pipe = load_twin()
    images, captions, _ = make_scenes(FULL.scenes, seed=FULL.seed)
    mean, _ = encode_latents(pipe.vae, torch.from_numpy(images))
    latents = mean * pipe.vae.config.scaling_factor  # the posterior means, scaled as the U-Net's were
    torch.manual_seed(FULL.seed)
    start = time.perf_counter()
    losses, ema = train_mmdit(MMDiT(), latents, encode_text(pipe, captions), encode_text(pipe, [""]),
                              FULL.unet_steps, FULL.unet_batch, FULL.unet_lr, FULL.p_uncond, FULL.seed)  # fmt: skip
    run = {"steps": len(losses), "seconds": round(time.perf_counter() - start, 1), "loss": sum(losses[-100:]) / 100}
    meta = {**run, "threads": torch.get_num_threads(), "recipe": "helpers.text_to_image.train.FULL (U-Net part)",
            "objective": "helpers.flow.flow_loss", "seed": FULL.seed, "script": "scripts/train_dits.py"}  # fmt: skip
    save_weights(ema, out / "mmdit-shapes.safetensors", meta, dtype=torch.float16)
    print(f"mmdit-shapes: {run['steps']} steps in {run['seconds']:.0f} s, final loss {run['loss']:.4f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=packaged.PACKAGED, help="train this one (repeatable)")
    parser.add_argument("--out", type=Path, default=packaged.weights_dir())
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the shipped files used 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or packaged.PACKAGED:
        train_shapes(args.out) if name == "mmdit-shapes" else train_digits(name, args.out)


if __name__ == "__main__":
    main()
