"""The one-minute digits model: the first recipe and the tuned one, trained and measured side by side in one run.

    python -m benchmarks.training               # the recipes, the flow, then the pretrained model as a reference
    python -m benchmarks.training --threads 1

Each recipe trains a fresh class-conditional DigitsUNet on the training digits from the same
seed, then draws 500 digits (50 per class) with 50 DDIM steps at guidance scale 1 (the plain
conditional prediction) and scores them with helpers.metrics: class accuracy, Fréchet distance
and KID (with its standard error). The recipes live in helpers.training (FIRST_RECIPE, ONE_MINUTE).
The flow row (Module 07) trains the same U-Net with the same recipe on the velocity target and
samples it with 50 Euler steps; a last line times the two-moons flow of the lesson.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from helpers.data import digits_split, two_moons
from helpers.device import setup_torch
from helpers.flow import flow_loss, flow_sample
from helpers.metrics import class_accuracy, digits_frechet_distance, digits_kernel_distance, energy_distance
from helpers.models import MLPDenoiser
from helpers.pretrained import load_pretrained, pretrained_metadata
from helpers.sampling import ddim_sample
from helpers.schedules import Schedule
from helpers.training import FIRST_RECIPE, ONE_MINUTE, Recipe, train, train_recipe

N = 500


def quality(model, schedule: Schedule, flow: bool = False) -> tuple[float, float, float, float]:
    """Class accuracy, FD, KID and its standard error of 500 samples at scale 1, 50 DDIM (or flow Euler) steps."""
    y = torch.arange(N) % 10
    fn, generator = (lambda x_t, t: model(x_t, t, y)), torch.Generator().manual_seed(0)
    if flow:
        x = flow_sample(fn, (N, 1, 8, 8), schedule.T, 50, generator=generator)
    else:
        x = ddim_sample(fn, (N, 1, 8, 8), schedule, 50, generator=generator, progress=False)
    kid, kid_se = digits_kernel_distance(x)
    return class_accuracy(x, y), digits_frechet_distance(x), kid, kid_se


def row(name: str, recipe: Recipe | None, schedule: Schedule) -> tuple:
    if recipe is None:
        meta = pretrained_metadata()
        row = (name, meta["steps"], meta["batch_size"], f"{meta['lr']:g}", f"{meta['ema_decay']}", None)
        return (*row, *quality(load_pretrained(), schedule))
    split = digits_split()
    start = time.perf_counter()
    model, losses = train_recipe(recipe, split.x_train, split.y_train, schedule, progress=False)
    seconds = time.perf_counter() - start
    ema = f"{recipe.ema_decay}" if recipe.ema_decay else "none"
    scores = quality(model, schedule, flow=recipe.loss is flow_loss)
    return (name, len(losses), recipe.batch_size, f"{recipe.lr:g}", ema, seconds, *scores)


def moons_flow(schedule: Schedule) -> str:
    """The two-moons flow of notebooks/07_flow_matching.ipynb §3: training seconds and its 20-step energy distance."""
    torch.manual_seed(0)
    model, start = MLPDenoiser(), time.perf_counter()
    train(model, two_moons(4000, seed=0), schedule, steps=3000, batch_size=256, loss=flow_loss, progress=False)
    seconds = time.perf_counter() - start
    x = flow_sample(model, (2000, 2), schedule.T, 10, "heun", generator=torch.Generator().manual_seed(0))
    distance = energy_distance(x, two_moons(2000, seed=1))
    return f"two-moons flow (MLP, 3,000 steps): {seconds:.1f} s; energy distance at 19 Heun NFE {distance:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, help="torch threads (default: one per available core)")
    args = parser.parse_args()
    setup_torch(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    schedule = Schedule.create(pretrained_metadata()["schedule"], pretrained_metadata()["T"])
    rows = [
        row("first recipe", FIRST_RECIPE, schedule),
        row("one minute (tuned)", ONE_MINUTE, schedule),
        row("one minute, flow (velocity, Euler)", replace(ONE_MINUTE, loss=flow_loss), schedule),
        row("pretrained", None, schedule),
    ]
    print(f"\nDigits U-Net, {torch.get_num_threads()} torch thread(s); 500 samples, 50 DDIM steps, scale 1\n")
    print("| recipe | steps | batch | lr | EMA | train s | class accuracy | FD | KID ± SE |")
    print("| --- | ---:| ---:| ---:| ---:| ---:| ---:| ---:| ---:|")
    for name, steps, batch, lr, ema, seconds, acc, fd, kid, se in rows:
        took = f"{seconds:.1f}" if seconds is not None else "(packaged)"
        print(f"| {name} | {steps:,} | {batch} | {lr} | {ema} | {took} | {acc:.3f} | {fd:.2f} | {kid:.3f} ± {se:.3f} |")
    print("\n" + moons_flow(schedule))


if __name__ == "__main__":
    main()
