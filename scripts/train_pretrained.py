"""Train the packaged class-conditional digits U-Net, helpers/weights/digits_unet.safetensors.

Reproduce it from the repository root (10.0 minutes of training plus about 40 s of evaluation
on one thread of a 2-core CPU that another job shared; the same torch version and thread count
give the same weights, and ``--threads 2`` is faster on an idle machine but rounds differently):

    python scripts/train_pretrained.py

Recipe: DigitsUNet(channels=32, emb_dim=64, conditional=True, T=1000), 177,697 parameters;
cosine schedule (Nichol & Dhariwal 2021), T = 1000; eps prediction with the simple loss
(Ho et al. 2020, Algorithm 1); label dropout p_uncond = 0.15 to NULL_CLASS for
classifier-free guidance (Ho & Salimans 2022); Adam lr 2e-3, batch 128, 5,000 steps, seed 0,
on the training split of helpers.data.digits_split() only (held-out digits stay unseen for
the metrics). The file stores an exponential moving average of the weights (decay 0.999),
as DDPM does. Afterwards the script samples 500 digits (50 per class) with a temporary DDIM
sampler (Song et al. 2021, eta = 0) and prints their class accuracy and Fréchet distance
next to the real-vs-real baseline. ``--eval-only`` re-evaluates the committed file.

Measured for the committed file (500 samples, 50 DDIM steps, helpers.metrics):
    guidance 1 (conditional, unguided): class accuracy 0.930, Fréchet distance 3.55
    guidance 3:                         class accuracy 1.000, Fréchet distance 14.08
    real-vs-real baseline (500 held-out vs 500 training digits): Fréchet distance 4.79
"""
from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch

from helpers.data import digits_split
from helpers.device import setup_torch
from helpers.metrics import class_accuracy, digits_frechet_distance, real_frechet_baseline
from helpers.models import NULL_CLASS, DigitsUNet, count_parameters
from helpers.schedules import Schedule
from helpers.training import load_weights, save_weights, torch_schedule, train

OUT = Path(__file__).resolve().parents[1] / "helpers" / "weights" / "digits_unet.safetensors"
SCHEDULE, T, P_UNCOND, STEPS, BATCH, LR, SEED, EMA_DECAY = "cosine", 1000, 0.15, 5000, 128, 2e-3, 0, 0.999
THREADS = 1  # the float rounding of a run depends on the thread count; one thread also shares a busy 2-core machine best


@torch.no_grad()
def ddim_sample(model: DigitsUNet, schedule: Schedule, y: torch.Tensor, steps: int = 50, guidance: float = 3.0,
                seed: int = 0) -> torch.Tensor:
    """Deterministic DDIM (Song et al. 2021, eq. 12, eta = 0) with classifier-free guidance; a stand-in until helpers.sampling."""
    s = torch_schedule(schedule)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((y.shape[0], *model.image_shape), generator=generator)  # x_T, (B, 1, 8, 8)
    ts = torch.linspace(s.T, 0, steps + 1).round().long()  # T, ..., 0
    null = torch.full_like(y, NULL_CLASS)
    for t, t_prev in zip(ts[:-1].tolist(), ts[1:].tolist()):
        t_batch = torch.full((2 * y.shape[0],), t, dtype=torch.long)
        eps_cond, eps_uncond = model(torch.cat([x, x]), t_batch, torch.cat([y, null])).chunk(2)
        eps = eps_uncond + guidance * (eps_cond - eps_uncond)  # Ho & Salimans 2022, eq. 6
        a, a_prev = s.alpha_bar[t], s.alpha_bar[t_prev]
        x0_hat = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)  # invert eq. 4, clip to the data range
        eps = (x - a.sqrt() * x0_hat) / (1 - a).sqrt()  # the eps consistent with the clipped x0_hat
        x = a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * eps
    return x


def evaluate(model: DigitsUNet, schedule: Schedule, n: int = 500) -> None:
    """Print class accuracy and Fréchet distance of n guided samples (n / 10 per digit) and the real-vs-real baseline."""
    y = torch.arange(n) % 10
    for guidance in (1.0, 3.0):
        start = time.perf_counter()
        x = ddim_sample(model, schedule, y, steps=50, guidance=guidance)
        print(f"guidance {guidance}: class accuracy {class_accuracy(x, y):.3f}, "
              f"Fréchet distance {digits_frechet_distance(x):.2f} ({time.perf_counter() - start:.1f} s)")
    print(f"real-vs-real baseline ({n} held-out vs {n} training digits): Fréchet distance {real_frechet_baseline(n):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--threads", type=int, default=THREADS, help="torch threads (the committed file used 1)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--eval-only", action="store_true", help="only evaluate the weights in --out")
    args = parser.parse_args()
    setup_torch(SEED)
    torch.set_num_threads(args.threads)
    schedule = Schedule.create(SCHEDULE, T)
    if args.eval_only:
        evaluate(load_weights(args.out), schedule)
        return
    split = digits_split()
    model = DigitsUNet(channels=32, emb_dim=64, conditional=True, T=T)
    ema = copy.deepcopy(model)
    print(f"DigitsUNet with {count_parameters(model):,} parameters, {args.steps} steps, {args.threads} thread(s)")

    def update_ema(step: int, loss: float) -> None:
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), model.parameters()):
                p_ema.lerp_(p, 1 - EMA_DECAY)  # p_ema <- decay * p_ema + (1 - decay) * p

    start = time.perf_counter()
    history = train(model, split.x_train, schedule, y=split.y_train, steps=args.steps, batch_size=BATCH, lr=LR,
                    p_uncond=P_UNCOND, seed=SEED, callback=update_ema)
    minutes = (time.perf_counter() - start) / 60
    print(f"trained {len(history)} steps in {minutes:.1f} min; mean loss of the last 500 steps {sum(history[-500:]) / 500:.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_weights(ema.eval(), args.out, {"schedule": SCHEDULE, "T": T, "target": "eps", "p_uncond": P_UNCOND,
                                        "steps": len(history), "batch_size": BATCH, "lr": LR, "seed": SEED,
                                        "ema_decay": EMA_DECAY, "data": "helpers.data.digits_split() training part",
                                        "script": "scripts/train_pretrained.py"})
    print(f"saved {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    evaluate(load_weights(args.out), schedule)


if __name__ == "__main__":
    main()
