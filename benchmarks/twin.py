"""Time the shapes model of Module 09 (helpers/weights/shapes_sd/) through diffusers' StableDiffusionPipeline.

    python -m benchmarks.twin                # generation: a batch of 4 prompts, for each scheduler and step count
    python -m benchmarks.twin --train        # also train the whole recipe (helpers.text_to_image.train.FULL)

Prints one table: seconds per batch of 4 images (guidance 4, so each step is one U-Net call on 8 latents)
with the median of 5 runs after a warm-up, and with --train the seconds each part took to train.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from helpers.sd.shapes import SHAPES_DIR
from helpers.text_to_image import parts, train
from helpers.text_to_image.twin import generate, load_twin

PROMPTS = [
    "a small red circle at the top left",
    "a large blue square in the middle",
    "a yellow triangle at the bottom right",
    "a red square left of a yellow circle",
]
SCHEDULERS = ("DDIMScheduler", "DPMSolverMultistepScheduler", "EulerDiscreteScheduler")


def time_batch(pipe, steps: int, repeats: int = 5) -> float:
    """The median seconds to generate PROMPTS at ``steps`` steps, after one warm-up run."""
    generate(pipe, PROMPTS, num_inference_steps=steps, guidance_scale=4.0)
    runs = []
    for seed in range(repeats):
        start = time.perf_counter()
        generate(pipe, PROMPTS, seed=seed, num_inference_steps=steps, guidance_scale=4.0)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="also train the full recipe and time each part")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    pipe = load_twin()
    size = sum(f.stat().st_size for f in SHAPES_DIR.rglob("*") if f.is_file()) / 1e6
    print(f"shapes model: {SHAPES_DIR} ({size:.1f} MB), {args.threads} torch threads\n")
    print(f"{'scheduler':<30} {'steps':>5} {'s / batch of 4':>15}")
    for name in SCHEDULERS:
        pipe.scheduler = parts.build_scheduler(name)
        for steps in (10, 25, 50):
            print(f"{name:<30} {steps:>5} {time_batch(pipe, steps):>15.3f}")
    if args.train:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
        from train_twin import train_twin

        with tempfile.TemporaryDirectory() as scratch:
            _, seconds = train_twin(train.FULL, Path(scratch), progress=False)
        print(f"\n{'training (FULL)':<30} {'seconds':>21}")
        for part, s in seconds.items():
            print(f"{part:<30} {s:>21.0f}")
        print(f"{'total':<30} {sum(seconds.values()):>21.0f}")


if __name__ == "__main__":
    main()
