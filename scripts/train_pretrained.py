"""Train a packaged digits U-Net (helpers/weights/, helpers.pretrained.PACKAGED), save it, and evaluate it.

Reproduce them from the repository root (the same torch version and thread count give the same weights;
``--threads 2`` is faster on an idle machine but rounds differently):

    python scripts/train_pretrained.py                        # the course's model (eps), then evaluate
    python scripts/train_pretrained.py --model flow           # the same recipe trained as a flow (Module 07)
    python scripts/train_pretrained.py --model eps-on-flow-path     # Module 07: one change, the path
    python scripts/train_pretrained.py --model v-on-diffusion-path  # Module 07: one change, the target
    python scripts/train_pretrained.py --model one-minute-x0  # Module 03's one-minute run, predicting x0
    python scripts/train_pretrained.py --eval-only            # re-evaluate a committed file

"eps" (digits_unet.safetensors, 10.0 minutes of training plus about 40 s of evaluation on one thread of
a 2-core CPU that another job shared): DigitsUNet(channels=32, emb_dim=64, conditional=True, T=1000),
177,697 parameters; cosine schedule (Nichol & Dhariwal 2021), T = 1000; eps prediction with the simple
loss (Ho et al. 2020, Algorithm 1); label dropout p_uncond = 0.15 to NULL_CLASS for classifier-free
guidance (Ho & Salimans 2022); Adam lr 2e-3, batch 128, 5,000 steps, seed 0, on the training split
of helpers.data.digits_split() only (held-out digits stay unseen for the metrics). The file stores an
exponential moving average of the weights (decay 0.999), as DDPM does; its metadata is
helpers.pretrained.recipe().

"flow": the same recipe, seed and batches with helpers.flow.flow_loss (the velocity eps - x0 on the
straight path, Module 07) in place of the simple loss.

"eps-on-flow-path" and "v-on-diffusion-path": the same recipe, seed, batches and noise, each with one change
from "eps" (Module 07 §3, one change at a time): helpers.flow.eps_on_flow_path_loss (the noise as the target,
on the flow's straight path) and helpers.flow.v_on_diffusion_path_loss (Salimans & Ho's v on the cosine path).
They are evaluated with 50 steps of helpers.flow.ddim_on_path on their own path, x0_hat clipped.

"one-minute-eps" and "one-minute-x0": helpers.training.ONE_MINUTE (Module 03 §4: 1,500 steps, lr 4e-3,
EMA 0.995, no label dropout) without its 60-second guard, so that both run all 1,500 steps, with the
simple loss and with helpers.training.x0_loss; Module 03 §5 compares them.

Each noise or image predictor is evaluated on 500 digits (50 per class) from the course's DDIM sampler
(helpers.guidance.guided_samples: Song et al. 2021, eta = 0, eps consistent with the clipped x0); the
flow on 500 digits from 50 Euler steps (helpers.flow.flow_sample); the script prints their class
accuracy and Fréchet distance next to the real-vs-real baseline.

Measured for the committed files (500 samples, 50 steps, helpers.metrics; real-vs-real baseline,
500 held-out vs 500 training digits: Fréchet distance 4.79):

    model           training (1 thread, 2 busy cores)   guidance 1: accuracy, FD   guidance 3: accuracy, FD
    eps             5,000 steps, 10.0 min                0.930, 3.55                1.000, 14.08
    flow            5,000 steps, 7.1 min                 0.980, 3.62 (Euler)        -
    eps-on-flow-path     5,000 steps, 11.1 min           0.922, 3.96 (DDIM on its path)  -
    v-on-diffusion-path  5,000 steps, 10.9 min           0.986, 3.88 (DDIM on its path)  -
    one-minute-eps  1,500 steps, 1.7 min                 0.952, 4.90                1.000, 33.98
    one-minute-x0   1,500 steps, 1.8 min                 0.988, 4.98                1.000, 39.55
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from helpers.data import digits_split
from helpers.device import setup_torch
from helpers.flow import ddim_on_path, eps_on_flow_path_loss, flow_loss, flow_sample, v_on_diffusion_path_loss
from helpers.guidance import guided_samples
from helpers.metrics import class_accuracy, digits_frechet_distance, real_frechet_baseline
from helpers.models import DigitsUNet, count_parameters
from helpers.pretrained import (
    BATCH,
    EMA_DECAY,
    LR,
    P_UNCOND,
    PACKAGED,
    SCHEDULE,
    SEED,
    STEPS,
    T,
    load_weights,
    recipe,
    save_weights,
)
from helpers.sampling import eps_from_x0
from helpers.schedules import Schedule
from helpers.training import EMA, ONE_MINUTE, diffusion_loss, train, train_recipe, x0_loss

WEIGHTS = Path(__file__).resolve().parents[1] / "helpers" / "weights"
LOSSES = {
    "eps": diffusion_loss,
    "flow": flow_loss,
    "eps-on-flow-path": eps_on_flow_path_loss,
    "v-on-diffusion-path": v_on_diffusion_path_loss,
    "one-minute-eps": diffusion_loss,
    "one-minute-x0": x0_loss,
}
TARGETS = {
    "eps": "eps",
    "flow": "velocity",
    "eps-on-flow-path": "eps",
    "v-on-diffusion-path": "v",
    "one-minute-eps": "eps",
    "one-minute-x0": "x0",
}
SAMPLED_ON = {"eps-on-flow-path": "flow", "v-on-diffusion-path": "diffusion"}  # helpers.flow.ddim_on_path's path
PATH_NAMES = {"flow": "straight (the flow's)", "diffusion": "cosine (the diffusion's)"}  # as the metadata says it
THREADS = 1  # a run's float rounding depends on the thread count; one thread also shares a busy 2-core machine best


def evaluate(model: DigitsUNet, schedule: Schedule, name: str, n: int = 500) -> None:
    """Print the class accuracy and Fréchet distance of n samples (n / 10 per digit), and the real baseline."""
    y, target = torch.arange(n) % 10, TARGETS[name]
    x_T = torch.randn(n, *model.image_shape, generator=torch.Generator().manual_seed(0))
    for guidance in (1.0, 3.0) if target in ("eps", "x0") and name not in SAMPLED_ON else (1.0,):
        start = time.perf_counter()
        if target == "velocity":  # 50 Euler steps of the flow, conditional, unguided
            with torch.no_grad():
                x = flow_sample(lambda x_t, t: model(x_t, t, y), x_T.shape, num_steps=50, x_T=x_T)
        elif name in SAMPLED_ON:  # 50 DDIM steps on the model's own path, x0_hat clipped (Module 07 §3)
            x = ddim_on_path(lambda x_t, t: model(x_t, t, y), target, SAMPLED_ON[name], schedule, x_T, 50)
        else:  # DDIM, eta 0, clip-consistent eps; an image predictor's x0_hat is turned into eps first
            x = guided_samples(_as_eps(model, schedule) if target == "x0" else model, schedule, y, guidance, 50, seed=0)
        print(
            f"guidance {guidance}: class accuracy {class_accuracy(x, y):.3f}, "
            f"Fréchet distance {digits_frechet_distance(x):.2f} ({time.perf_counter() - start:.1f} s)"
        )
    print(
        f"real-vs-real baseline ({n} held-out vs {n} training digits): Fréchet distance {real_frechet_baseline(n):.2f}"
    )


class _as_eps(torch.nn.Module):
    """An image predictor read as a noise predictor through helpers.sampling.eps_from_x0 (Module 03 §5)."""

    def __init__(self, model: DigitsUNet, schedule: Schedule) -> None:
        super().__init__()
        self.model, self.schedule, self.image_shape = model, schedule, model.image_shape

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return eps_from_x0(x_t, t, self.model(x_t, t, y), self.schedule)


def train_pretrained(name: str, steps: int = STEPS) -> tuple[DigitsUNet, list[float], dict]:
    """Train the packaged model ``name`` by its recipe (above); return its EMA copy (what the file stores), the loss
    history and the file's metadata.

    The training of notebooks/03_training_objective.ipynb §4: for 5,000 steps, or the one-minute recipe in full.
    """
    split, schedule = digits_split(), Schedule.create(SCHEDULE, T)
    if name.startswith("one-minute"):
        run = replace(ONE_MINUTE, max_seconds=None, loss=LOSSES[name])
        model, history = train_recipe(run, split.x_train, split.y_train, schedule, progress=False)
        changes = {"lr": run.lr, "ema_decay": run.ema_decay, "p_uncond": run.p_uncond, "batch_size": run.batch_size}
        return (
            model.eval(),
            history,
            recipe(len(history), TARGETS[name], recipe="helpers.training.ONE_MINUTE", **changes),
        )
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
        loss=LOSSES[name],
        p_uncond=P_UNCOND,
        seed=SEED,
        callback=lambda step, loss: ema.update(model),
    )
    changes = {"path": PATH_NAMES[SAMPLED_ON[name]]} if name in SAMPLED_ON else {}
    return ema.model.eval(), history, recipe(len(history), TARGETS[name], **changes)


def main() -> None:
    """Train, save, evaluate; or only evaluate with --eval-only."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=list(PACKAGED), default="eps", help="which packaged model (default: eps)")
    parser.add_argument("--steps", type=int, default=STEPS, help="steps of the eps and flow recipe")
    parser.add_argument("--threads", type=int, default=THREADS, help="torch threads (the committed files used 1)")
    parser.add_argument("--out", type=Path, help="where to write (default: the packaged file)")
    parser.add_argument("--eval-only", action="store_true", help="only evaluate the weights in --out")
    args = parser.parse_args()
    out = args.out or WEIGHTS / PACKAGED[args.model]
    setup_torch(SEED)
    torch.set_num_threads(args.threads)
    if not args.eval_only:
        start = time.perf_counter()
        model, history, metadata = train_pretrained(args.model, args.steps)
        print(
            f"{args.model}: DigitsUNet with {count_parameters(model):,} parameters: trained {len(history)} steps in "
            f"{(time.perf_counter() - start) / 60:.1f} min on {args.threads} thread(s); "
            f"mean loss of the last 500 steps {sum(history[-500:]) / 500:.4f}"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        save_weights(model, out, metadata)
        print(f"saved {out} ({out.stat().st_size / 1e6:.2f} MB)")
    evaluate(load_weights(out), Schedule.create(SCHEDULE, T), args.model)


if __name__ == "__main__":
    main()
