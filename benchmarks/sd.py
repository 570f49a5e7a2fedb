"""Time Stable Diffusion 1.5's full-size architecture: seconds per image and U-Net iterations per second.

    python -m benchmarks.sd                          # CUDA: fp16, 512x512, 50 steps; CPU: a reduced run
    python -m benchmarks.sd --size 512 --steps 2     # choose the size and steps yourself

Nothing is downloaded: the pipeline is built from helpers.sd's SD 1.5 configurations (U-Net,
VAE, CLIP text encoder, PNDM scheduler) with random, seeded weights. The images are noise, but
every layer, shape and step is the real model's, so the timings are the real model's.

On a CPU the full run (512x512, 50 steps) would take most of an hour, so the default there is
reduced: 256x256 and 2 steps. The table marks that row "reduced" and adds rows extrapolated to 50
steps and to 512x512, scaled by the FLOPs counted for each size; those are estimates, not measurements.
A U-Net iteration is one denoising step: one U-Net call on a batch of 2 (the prompt and the empty
prompt of classifier-free guidance), the "it/s" diffusers' progress bar shows.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from helpers import sd
from helpers.device import setup_torch

PROMPT = "a photograph of an astronaut riding a horse on mars"


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer reads the work's end, not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_once(pipe, size: int, steps: int, device: torch.device) -> tuple[float, list[float]]:
    """Generate one image; return its wall seconds and the end time of each denoising step."""
    stamps: list[float] = []

    def on_step_end(pipeline, i, t, kwargs):
        sync(device)
        stamps.append(time.perf_counter())
        return kwargs

    sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        pipe(
            PROMPT,
            height=size,
            width=size,
            num_inference_steps=steps,
            guidance_scale=7.5,
            generator=sd.seeded_generator(0),
            output_type="pt",
            callback_on_step_end=on_step_end,
        )
    sync(device)
    return time.perf_counter() - start, [start] + stamps


def decode_flops(size: int) -> int:
    """FLOPs of one VAE decode of a size x size image, counted on the meta device."""
    from diffusers import AutoencoderKL
    from torch.utils.flop_counter import FlopCounterMode

    vae = sd.on_meta(AutoencoderKL, sd.SD15_VAE_CONFIG)
    c, h, w = sd.latent_shape(size, size)
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        vae.decode(torch.zeros(1, c, h, w))
    return counter.get_total_flops()


def rows_for(pipe, size: int, steps: int, device: torch.device, full: bool) -> list[tuple]:
    """The measured run, and the labelled extrapolations to 50 steps and to 512x512 where the run was smaller."""
    wall, stamps = run_once(pipe, size, steps, device)
    step_times = [b - a for a, b in zip(stamps[1:], stamps[2:])] or [stamps[1] - stamps[0]]
    step = sorted(step_times)[len(step_times) // 2]  # median; the first step also encodes the prompt
    rest = wall - step * steps  # text encoder, scheduler setup, VAE decode
    rows = [("measured" if full else "measured, REDUCED", size, steps, wall, 1 / step)]
    if steps != 50:
        rows.append(("extrapolated to 50 steps", size, 50, rest + 50 * step, 1 / step))
    if size != 512:
        latent = size // sd.vae_factor(sd.SD15_VAE_CONFIG)
        unet_ratio = (
            sd.unet_flops(sd.SD15_UNET_CONFIG, 4, 64, batch=2)["total"]
            / sd.unet_flops(sd.SD15_UNET_CONFIG, 4, latent, batch=2)["total"]
        )
        step_512, rest_ratio = step * unet_ratio, decode_flops(512) / decode_flops(size)
        rows.append(("extrapolated to 512x512 by FLOPs", 512, 50, rest * rest_ratio + 50 * step_512, 1 / step_512))
    return rows


def print_rows(rows: list[tuple], where: str, dtype: torch.dtype, full: bool) -> None:
    print(f"\nStable Diffusion 1.5 (random weights) on {where}, {str(dtype).removeprefix('torch.')}")
    print("| run | size | steps | s / image | U-Net it/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, s, n, seconds, its in rows:
        print(f"| {name} | {s}x{s} | {n} | {seconds:.1f} | {its:.3g} |")
    if not full:
        print(
            "\nREDUCED: the measured row is not the 512x512, 50-step reference; rows marked 'extrapolated' are "
            "estimates from it (steps scale linearly; size scales by the FLOPs counted for each size)."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, help="image height and width (default: 512 on CUDA, 256 on CPU)")
    parser.add_argument("--steps", type=int, help="denoising steps (default: 50 on CUDA, 2 on CPU)")
    parser.add_argument("--device", choices=["cuda", "cpu"], help="default: cuda when available")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: one per available core)")
    args = parser.parse_args()
    setup_torch()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    on_gpu = device.type == "cuda"
    dtype = torch.float16 if on_gpu else torch.float32  # fp16 on a CPU is many times slower than fp32
    size, steps = args.size or (512 if on_gpu else 256), args.steps or (50 if on_gpu else 2)
    sd.quiet()
    where = torch.cuda.get_device_name(device) if on_gpu else f"CPU, {torch.get_num_threads()} torch threads"
    print(f"Stable Diffusion 1.5 architecture, random weights, on {where}", file=sys.stderr)
    start = time.perf_counter()
    pipe = sd.build_pipeline(
        sd.SD15_UNET_CONFIG, sd.SD15_VAE_CONFIG, sd.SD15_TEXT_ENCODER_CONFIG, device=device, dtype=dtype
    )
    pipe.set_progress_bar_config(disable=True)
    print(f"built in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    if on_gpu:  # warm up: CUDA kernels load and autotune on first use
        run_once(pipe, size, 2, device)
    full = size == 512 and steps == 50
    print_rows(rows_for(pipe, size, steps, device, full), where, dtype, full)


if __name__ == "__main__":
    main()
