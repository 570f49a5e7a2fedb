"""Train the packaged digits U-Net (helpers/weights/digits_unet.safetensors), save it, and evaluate it.

Reproduce it from the repository root (10.0 minutes of training plus about 40 s of evaluation
on one thread of a 2-core CPU that another job shared; the same torch version and thread count
give the same weights, and ``--threads 2`` is faster on an idle machine but rounds differently):

    python scripts/train_pretrained.py              # train, save, evaluate
    python scripts/train_pretrained.py --eval-only  # re-evaluate the committed file

Recipe: DigitsUNet(channels=32, emb_dim=64, conditional=True, T=1000), 177,697 parameters;
cosine schedule (Nichol & Dhariwal 2021), T = 1000; eps prediction with the simple loss
(Ho et al. 2020, Algorithm 1); label dropout p_uncond = 0.15 to NULL_CLASS for
classifier-free guidance (Ho & Salimans 2022); Adam lr 2e-3, batch 128, 5,000 steps, seed 0,
on the training split of helpers.data.digits_split() only (held-out digits stay unseen for
the metrics). The file stores an exponential moving average of the weights (decay 0.999),
as DDPM does; its metadata is helpers.pretrained.recipe(). Afterwards the script samples 500
digits (50 per class) with the course's DDIM sampler (helpers.guidance.guided_samples: Song et
al. 2021, eta = 0, eps consistent with the clipped x0) and prints their class accuracy and
Fréchet distance next to the real-vs-real baseline.

Measured for the committed file (500 samples, 50 DDIM steps, helpers.metrics):
    guidance 1 (conditional, unguided): class accuracy 0.930, Fréchet distance 3.55
    guidance 3:                         class accuracy 1.000, Fréchet distance 14.08
    real-vs-real baseline (500 held-out vs 500 training digits): Fréchet distance 4.79
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from helpers.data import digits_split
from helpers.device import setup_torch
from helpers.guidance import guided_samples
from helpers.metrics import class_accuracy, digits_frechet_distance, real_frechet_baseline
from helpers.models import DigitsUNet, count_parameters
from helpers.pretrained import (
    BATCH,
    EMA_DECAY,
    LR,
    P_UNCOND,
    PRETRAINED_FILE,
    SCHEDULE,
    SEED,
    STEPS,
    T,
    load_weights,
    recipe,
    save_weights,
)
from helpers.schedules import Schedule
from helpers.training import EMA, train

OUT = Path(__file__).resolve().parents[1] / "helpers" / "weights" / PRETRAINED_FILE
THREADS = 1  # a run's float rounding depends on the thread count; one thread also shares a busy 2-core machine best


def evaluate(model: DigitsUNet, schedule: Schedule, n: int = 500) -> None:
    """Print the class accuracy and Fréchet distance of n guided samples (n / 10 per digit), and the real baseline."""
    y = torch.arange(n) % 10
    for guidance in (1.0, 3.0):
        start = time.perf_counter()
        x = guided_samples(model, schedule, y, guidance, num_steps=50, seed=0)  # DDIM, eta 0, clip-consistent eps
        print(
            f"guidance {guidance}: class accuracy {class_accuracy(x, y):.3f}, "
            f"Fréchet distance {digits_frechet_distance(x):.2f} ({time.perf_counter() - start:.1f} s)"
        )
    print(
        f"real-vs-real baseline ({n} held-out vs {n} training digits): Fréchet distance {real_frechet_baseline(n):.2f}"
    )


def train_pretrained(steps: int = STEPS, seed: int = SEED) -> tuple[DigitsUNet, list[float]]:
    """Train a DigitsUNet by the recipe above; return its EMA copy (what the file stores) and the loss history.

    The training of notebooks/03_training_objective.ipynb §4, for 5,000 steps instead of a minute.
    """
    split, schedule = digits_split(), Schedule.create(SCHEDULE, T)
    model = DigitsUNet(channels=32, emb_dim=64, conditional=True, T=T)
    ema = EMA(model, EMA_DECAY)
    history = train(
        model,
        split.x_train,
        schedule,
        y=split.y_train,
        steps=steps,
        batch_size=BATCH,
        lr=LR,
        p_uncond=P_UNCOND,
        seed=seed,
        callback=lambda step, loss: ema.update(model),
    )
    return ema.model.eval(), history


def main() -> None:
    """Train, save, evaluate; or only evaluate with --eval-only."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--threads", type=int, default=THREADS, help="torch threads (the committed file used 1)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--eval-only", action="store_true", help="only evaluate the weights in --out")
    args = parser.parse_args()
    setup_torch(SEED)
    torch.set_num_threads(args.threads)
    if not args.eval_only:
        start = time.perf_counter()
        model, history = train_pretrained(args.steps)
        print(
            f"DigitsUNet with {count_parameters(model):,} parameters: trained {len(history)} steps in "
            f"{(time.perf_counter() - start) / 60:.1f} min on {args.threads} thread(s); "
            f"mean loss of the last 500 steps {sum(history[-500:]) / 500:.4f}"
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save_weights(model, args.out, recipe(len(history)))
        print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    evaluate(load_weights(args.out), Schedule.create(SCHEDULE, T))


if __name__ == "__main__":
    main()
