"""helpers.editing against diffusers (img2img, DDIMInverseScheduler) and closed forms."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported: a hub lookup fails at once

import types

import pytest
import torch

from helpers import editing, sd
from helpers.editing import (
    ddim_invert,
    ddim_invert_step,
    img2img_by_hand,
    inpaint,
    inpaint_merge,
    renoise,
    repaint_blocks,
    sdedit,
    slerp,
    strength_timesteps,
)
from helpers.guidance import guided_eps_fn
from helpers.models import NULL_CLASS
from helpers.ode import course_scheduler
from helpers.sampling import ddim_sample, make_timesteps
from helpers.schedules import Schedule, q_sample

SCHEDULE = Schedule.create("cosine", 1000)
DATA_STD = 0.5  # the toy data: x0 ~ N(0, DATA_STD^2 I), whose best eps is known in closed form


def gaussian_eps(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """E[eps | x_t] for x0 ~ N(0, DATA_STD^2 I): sqrt(1 - a) x_t / (a DATA_STD^2 + 1 - a), a = alpha_bar_t."""
    a = torch.as_tensor(SCHEDULE.alpha_bar, dtype=x_t.dtype)[t].view(-1, *(1,) * (x_t.ndim - 1))
    return (1 - a).sqrt() * x_t / (a * DATA_STD**2 + 1 - a)


def wavy_eps(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A non-linear eps_fn that depends on t, so that a wrong timestep or coefficient shows."""
    return torch.tanh(x_t) * (0.5 + t.view(-1, *(1,) * (x_t.ndim - 1)) / 1000)


# --- image-to-image -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "steps,strength", [(10, 0.3), (10, 0.7), (50, 0.8), (100, 0.29), (20, 0.999), (7, 1.0), (25, 0.0)]
)
def test_strength_keeps_the_timesteps_diffusers_img2img_keeps(steps, strength):
    from diffusers import DDIMScheduler

    scheduler = course_scheduler(DDIMScheduler, SCHEDULE)
    scheduler.set_timesteps(steps)
    get_timesteps = sd.pipeline_class("StableDiffusionImg2ImgPipeline").get_timesteps
    theirs, count = get_timesteps(types.SimpleNamespace(scheduler=scheduler), steps, strength, "cpu")
    ours = strength_timesteps(make_timesteps(SCHEDULE.T, steps), strength)
    assert ours == [int(k) + 1 for k in theirs] and len(ours) == count  # diffusers' timestep k is our t = k + 1


def test_strength_outside_zero_to_one_is_refused_with_the_range():
    with pytest.raises(ValueError, match=r"strength must be in \[0, 1\]"):
        strength_timesteps([1000, 500], 1.5)


def test_sdedit_keeps_the_input_at_low_strength_and_forgets_it_at_full_strength():
    g = torch.Generator().manual_seed(0)
    x0, other = torch.randn(64, 1, 8, 8, generator=g) * DATA_STD, torch.randn(64, 1, 8, 8, generator=g) * DATA_STD
    edit = lambda x, s: sdedit(gaussian_eps, x, s, SCHEDULE, 50, torch.Generator().manual_seed(1))
    assert torch.equal(edit(x0, 0.0), x0)
    distance = {s: float((edit(x0, s) - x0).pow(2).mean().sqrt()) for s in (0.1, 0.5, 1.0)}
    assert distance[0.1] < 0.5 * DATA_STD and distance[0.1] < distance[0.5] < distance[1.0]
    assert (edit(x0, 1.0) - edit(other, 1.0)).abs().max() < 1e-3  # sqrt(alpha_bar_T) = 5e-5: the input is gone


def test_sdedit_is_q_sample_then_the_remaining_ddim_steps():
    x0 = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    timesteps = strength_timesteps(make_timesteps(SCHEDULE.T, 20), 0.45)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(3))
    by_hand = ddim_sample(
        wavy_eps,
        x0.shape,
        SCHEDULE,
        timesteps=timesteps,
        x_T=q_sample(x0, timesteps[0], noise, SCHEDULE),
        progress=False,
    )
    assert torch.equal(sdedit(wavy_eps, x0, 0.45, SCHEDULE, 20, torch.Generator().manual_seed(3)), by_hand)


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside diffusers' Euler schedulers
@pytest.mark.parametrize("scheduler", ["PNDMScheduler", "DDIMScheduler", "EulerDiscreteScheduler"])
@pytest.mark.parametrize("strength", [0.35, 1.0])
def test_img2img_by_hand_reproduces_the_pipeline_exactly(pipe, scheduler, strength):
    import diffusers

    original = pipe.scheduler
    pipe.scheduler = getattr(diffusers, scheduler).from_config(original.config)
    img2img = sd.pipeline_class("StableDiffusionImg2ImgPipeline")(**pipe.components)
    img2img.set_progress_bar_config(disable=True)
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    try:
        expected = img2img(
            "a red fox",
            image=image,
            strength=strength,
            num_inference_steps=8,
            guidance_scale=7.5,
            generator=sd.seeded_generator(5),
            output_type="pt",
        ).images
        by_hand = img2img_by_hand(pipe, image, "a red fox", strength, 8, 7.5, seed=5, progress=False)
    finally:
        pipe.scheduler = original
    assert by_hand.shape == expected.shape == (1, 3, 64, 64)
    assert torch.equal(by_hand, expected)


def test_img2img_by_hand_with_no_step_to_run_says_so(pipe):
    from diffusers import DDIMScheduler

    original = pipe.scheduler
    pipe.scheduler = DDIMScheduler.from_config(original.config)
    try:
        with pytest.raises(ValueError, match="runs no step"):
            img2img_by_hand(pipe, torch.rand(1, 3, 64, 64), "a cat", strength=0.05, steps=10, progress=False)
    finally:
        pipe.scheduler = original


# --- inpainting --------------------------------------------------------------------------------------------


def test_inpaint_merge_follows_diffusers_mask_convention():
    generated, known = torch.full((2, 1, 2, 2), 5.0), torch.full((2, 1, 2, 2), -5.0)
    mask = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 1, 2, 2)  # 1: generate, 0: keep
    merged = inpaint_merge(generated, known, mask)
    assert merged[0, 0].tolist() == [[5.0, -5.0], [-5.0, 5.0]]


def test_renoise_draws_from_the_forward_process_between_two_times():
    x0 = torch.full((200_000,), 0.7, dtype=torch.float64)
    g = torch.Generator().manual_seed(6)
    x_prev = q_sample(x0, 300, torch.randn(x0.shape, generator=g, dtype=torch.float64), SCHEDULE)
    x_t = renoise(x_prev, 300, 700, SCHEDULE, torch.randn(x0.shape, generator=g, dtype=torch.float64))
    # q(x_700 | x_300) after q(x_300 | x0) is q(x_700 | x0): mean sqrt(alpha_bar_700) x0, variance 1 - alpha_bar_700
    assert abs(float(x_t.mean()) - SCHEDULE.alpha_bar[700] ** 0.5 * 0.7) < 5e-3
    assert abs(float(x_t.var()) - (1 - SCHEDULE.alpha_bar[700])) < 5e-3


@pytest.mark.parametrize("resample, jump", [(1, 1), (3, 1), (3, 2), (2, 4), (2, 10)])
def test_inpaint_keeps_the_known_pixels_and_runs_each_stretch_of_jump_steps_resample_times(resample, jump, monkeypatch):
    x0 = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 5:, :] = 1
    calls, jumps = [], []
    counted = lambda x_t, t: (calls.append(int(t[0])), wavy_eps(x_t, t))[1]
    seen = lambda x, t_prev, t, s, noise: (jumps.append((t_prev, t)), renoise(x, t_prev, t, s, noise))[1]
    monkeypatch.setattr(editing, "renoise", seen)
    out = inpaint(
        counted,
        x0,
        mask,
        SCHEDULE,
        num_steps=6,
        resample=resample,
        generator=torch.Generator().manual_seed(8),
        jump=jump,
    )
    keep = (1 - mask).bool().expand_as(x0)
    assert torch.equal(out.image[keep], x0[keep])
    assert not torch.equal(out.generated[keep], x0[keep])  # the network's own last image, before the paste
    # RePaint's schedule (Lugmayr et al. 2022, §4.2): down `jump` steps, back up them in one forward jump, U times
    steps = make_timesteps(SCHEDULE.T, 6)
    ends = [*steps[1:], 0]
    starts = range(0, len(steps), jump)
    assert calls == [t for i in starts for _ in range(resample) for t in steps[i : i + jump]]
    assert jumps == [(ends[min(i + jump, len(steps)) - 1], steps[i]) for i in starts for _ in range(resample - 1)]


def test_inpaint_with_jump_one_is_plain_resampling_step_by_step():
    x0 = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(12))
    mask = torch.ones(1, 1, 8, 8)
    run = lambda **jump: inpaint(wavy_eps, x0, mask, SCHEDULE, 5, 2, torch.Generator().manual_seed(13), **jump).image
    assert torch.equal(run(), run(jump=1))  # the default is j = 1
    assert not torch.equal(run(jump=1), run(jump=3))
    assert [len(b) for b in repaint_blocks(make_timesteps(SCHEDULE.T, 5), 3)] == [3, 2]
    with pytest.raises(ValueError, match="resample must be 1"):
        inpaint(wavy_eps, x0, mask, SCHEDULE, resample=0)
    with pytest.raises(ValueError, match="jump must be 1"):
        inpaint(wavy_eps, x0, mask, SCHEDULE, jump=0)


# --- inversion ---------------------------------------------------------------------------------------------


def test_ddim_invert_is_diffusers_ddim_inverse_scheduler():
    from diffusers import DDIMInverseScheduler

    inverse = DDIMInverseScheduler(
        num_train_timesteps=SCHEDULE.T,
        trained_betas=SCHEDULE.beta[1:].tolist(),
        clip_sample=False,
        set_alpha_to_one=True,
        timestep_spacing="leading",
    )
    inverse.set_timesteps(20)
    x0 = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(9))
    theirs = x0
    for k in inverse.timesteps:  # diffusers' timestep k is our t = k + 1; the model is asked at the target time
        theirs = inverse.step(wavy_eps(theirs, torch.full((6,), int(k) + 1)), k, theirs).prev_sample
    ours, timesteps = ddim_invert(wavy_eps, x0, SCHEDULE, 20)
    assert timesteps == [int(k) + 1 for k in inverse.timesteps.flip(0)]
    assert (ours - theirs).abs().max() < 1e-5


def test_inversion_round_trip_improves_with_steps_on_an_exact_model():
    x0 = torch.randn(256, 1, 8, 8, generator=torch.Generator().manual_seed(10), dtype=torch.float64) * DATA_STD
    errors = []
    for steps in (10, 50, 200):
        x_T, timesteps = ddim_invert(gaussian_eps, x0, SCHEDULE, steps)
        back = ddim_sample(
            gaussian_eps,
            x0.shape,
            SCHEDULE,
            timesteps=timesteps,
            x_T=x_T,
            clip=False,
            progress=False,
            dtype=torch.float64,
        )
        errors.append(float((back - x0).pow(2).mean().sqrt()))
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.01 * DATA_STD


def test_ddim_invert_step_refuses_to_go_down():
    with pytest.raises(ValueError, match="inversion goes up in t"):
        ddim_invert_step(torch.zeros(1, 2), 500, 400, torch.zeros(1, 2), SCHEDULE)


# --- negative conditioning and interpolation ---------------------------------------------------------------


def test_negative_label_replaces_no_class_in_the_second_branch():
    class LabelEcho(torch.nn.Module):  # eps = the label, so guidance arithmetic is visible
        def forward(self, x_t, t, y):
            return y.float().view(-1, 1).expand_as(x_t)

    x_t, t = torch.zeros(3, 2), torch.full((3,), 10)
    plain = guided_eps_fn(LabelEcho(), 3, 2.0)(x_t, t)
    negative = guided_eps_fn(LabelEcho(), 3, 2.0, negative=5)(x_t, t)
    assert torch.allclose(plain, torch.full((3, 2), NULL_CLASS + 2.0 * (3 - NULL_CLASS)))
    assert torch.allclose(negative, torch.full((3, 2), 5 + 2.0 * (3 - 5)))


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    g = torch.Generator().manual_seed(11)
    z0, z1 = torch.randn(500, 4, 16, 16, generator=g), torch.randn(500, 4, 16, 16, generator=g)
    assert torch.allclose(slerp(z0, z1, 0.0), z0, atol=1e-5) and torch.allclose(slerp(z0, z1, 1.0), z1, atol=1e-5)
    d = z0[0].numel()
    assert abs(float(slerp(z0, z1, 0.5).flatten(1).norm(dim=1).mean()) - d**0.5) < 0.02 * d**0.5
    assert abs(float((0.5 * z0 + 0.5 * z1).flatten(1).norm(dim=1).mean()) - (d / 2) ** 0.5) < 0.02 * d**0.5
    w = torch.linspace(0, 1, 500).view(-1, 1, 1, 1)  # one weight per row
    assert torch.allclose(slerp(z0, z1, w)[-1], z1[-1], atol=1e-5)
    assert torch.allclose(slerp(z0, z0, 0.3), z0)  # parallel rows: slerp is lerp
