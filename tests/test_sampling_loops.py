"""helpers.sampling's samplers against diffusers' loops, their behaviour and their errors (see test_sampling.py)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub lookup fails at once instead of retrying

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler
from sampling_peer import ATOL, DIFFUSERS_NAME, F64, SHAPE, dummy_eps_fn, peer

from helpers.sampling import (
    check_timestep_sequence,
    ddim_sample,
    ddim_step,
    ddpm_sample,
    ddpm_step,
    eps_from_x0,
    make_timesteps,
    predict_x0,
)
from helpers.schedules import SCHEDULES, Schedule

# --- Full loops against diffusers ------------------------------------------------------------


def diffusers_loop(sched, seed: int, **step_kwargs) -> torch.Tensor:
    """The textbook diffusers loop: x_T from the generator, then scheduler.step at every timestep."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(SHAPE, generator=gen, dtype=F64)  # x_T
    for timestep in sched.timesteps:
        eps = dummy_eps_fn(x, torch.full((SHAPE[0],), int(timestep) + 1))  # our t = timestep + 1
        x = sched.step(eps, timestep, x, generator=gen, **step_kwargs).prev_sample
    return x


@pytest.mark.parametrize("name", SCHEDULES)
def test_ddpm_sample_with_all_1000_steps_matches_the_diffusers_loop(name):
    sched, ours = peer(DDPMScheduler, name)  # no set_timesteps: diffusers steps through every timestep
    expected = diffusers_loop(sched, seed=0)
    got = ddpm_sample(dummy_eps_fn, SHAPE, ours, generator=torch.Generator().manual_seed(0), progress=False, dtype=F64)
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    "num_steps,spacing,steps_offset", [(20, "trailing", 0), (20, "leading", 0), (7, "leading", 1), (7, "trailing", 0)]
)
def test_ddpm_sample_with_fewer_steps_matches_the_diffusers_loop(num_steps, spacing, steps_offset):
    sched, ours = peer(DDPMScheduler, "cosine", num_steps=num_steps, spacing=spacing, steps_offset=steps_offset)
    expected = diffusers_loop(sched, seed=1)
    timesteps = make_timesteps(1000, num_steps, spacing, steps_offset)
    got = ddpm_sample(
        dummy_eps_fn,
        SHAPE,
        ours,
        timesteps=timesteps,
        generator=torch.Generator().manual_seed(1),
        progress=False,
        dtype=F64,
    )
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize("eta", [0.0, 0.6, 1.0])
@pytest.mark.parametrize("num_steps,spacing", [(20, "trailing"), (20, "leading"), (7, "leading")])
@pytest.mark.parametrize("name", SCHEDULES)
def test_ddim_sample_matches_the_diffusers_loop(name, num_steps, spacing, eta):
    sched, ours = peer(DDIMScheduler, name, num_steps=num_steps, spacing=spacing)
    expected = diffusers_loop(sched, seed=2, eta=eta)
    got = ddim_sample(
        dummy_eps_fn,
        SHAPE,
        ours,
        num_steps,
        eta=eta,
        spacing=spacing,
        generator=torch.Generator().manual_seed(2),
        progress=False,
        dtype=F64,
    )
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", SCHEDULES)
def test_samplers_match_diffusers_as_shipped_in_float32(name):
    """No float64 tricks: our Schedule and float32 against diffusers' defaults (clip_sample=True, float32)."""
    ours = Schedule.create(name, 1000)
    ddim = DDIMScheduler(beta_schedule=DIFFUSERS_NAME[name], timestep_spacing="trailing")
    ddim.set_timesteps(50)
    gen = torch.Generator().manual_seed(3)
    x = x_T = torch.randn(SHAPE, generator=gen)
    for timestep in ddim.timesteps:
        x = ddim.step(dummy_eps_fn(x, torch.full((SHAPE[0],), int(timestep) + 1)), timestep, x).prev_sample
    got = ddim_sample(dummy_eps_fn, SHAPE, ours, 50, x_T=x_T, progress=False)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, x, rtol=0, atol=1e-5)  # we agree to about 4e-7 here
    ddpm = DDPMScheduler(beta_schedule=DIFFUSERS_NAME[name], timestep_spacing="trailing")
    ddpm.set_timesteps(50)
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(SHAPE, generator=gen)
    for timestep in ddpm.timesteps:
        x = ddpm.step(
            dummy_eps_fn(x, torch.full((SHAPE[0],), int(timestep) + 1)), timestep, x, generator=gen
        ).prev_sample
    got = ddpm_sample(dummy_eps_fn, SHAPE, ours, 50, generator=torch.Generator().manual_seed(4), progress=False)
    torch.testing.assert_close(got, x, rtol=0, atol=1e-5)  # about 3e-6 here: float32 rounding of 1 - alpha_bar


# --- The samplers' behaviour ---------------------------------------------------------------


def exact_eps_fn(x0_star: torch.Tensor, schedule: Schedule):
    """The ideal eps for data that is one point x0_star: (x_t - sqrt(alpha_bar_t) x0_star) / sqrt(1 - alpha_bar_t)."""

    def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return eps_from_x0(x_t, t, x0_star, schedule)

    return eps_fn


@pytest.mark.parametrize("name", SCHEDULES)
def test_with_the_ideal_eps_both_samplers_land_on_the_data_point(name):
    s = Schedule.create(name, 1000)
    x0_star = torch.linspace(-0.9, 0.9, 16, dtype=F64).reshape(1, 1, 4, 4).expand(SHAPE)  # (B, C, H, W)
    gen = torch.Generator().manual_seed(5)
    for x0 in [
        ddpm_sample(exact_eps_fn(x0_star, s), SHAPE, s, 10, generator=gen, progress=False, dtype=F64),
        ddim_sample(exact_eps_fn(x0_star, s), SHAPE, s, 10, generator=gen, progress=False, dtype=F64),
        ddim_sample(exact_eps_fn(x0_star, s), SHAPE, s, 3, eta=0.5, generator=gen, progress=False, dtype=F64),
    ]:
        torch.testing.assert_close(x0, x0_star, rtol=0, atol=1e-9)


def test_eps_fn_is_called_with_x_t_and_a_long_t_per_row_in_our_convention():
    calls = []

    def eps_fn(x_t, t):  # a classifier-free guidance wrapper has this signature too
        calls.append((tuple(x_t.shape), t.dtype, t.tolist()))
        return torch.zeros_like(x_t)

    ddim_sample(eps_fn, SHAPE, Schedule.create("linear", 1000), 4, progress=False)
    assert calls == [(SHAPE, torch.long, [t] * SHAPE[0]) for t in (1000, 750, 500, 250)]
    calls.clear()
    ddpm_sample(eps_fn, SHAPE, Schedule.create("linear", 1000), timesteps=[900, 3], progress=False)
    assert [c[2][0] for c in calls] == [900, 3]


def test_trajectory_runs_from_x_T_to_x0_with_its_timesteps():
    s = Schedule.create("cosine", 1000)
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(6))
    x0, traj = ddim_sample(dummy_eps_fn, SHAPE, s, 5, x_T=x_T, progress=False, return_trajectory=True)
    assert [t for t, _ in traj] == [1000, 800, 600, 400, 200, 0]
    assert torch.equal(traj[0][1], x_T) and torch.equal(traj[-1][1], x0)
    assert all(x.shape == SHAPE for _, x in traj)
    assert not torch.equal(traj[1][1], traj[2][1])
    x0_ddpm, traj = ddpm_sample(
        dummy_eps_fn, SHAPE, s, 3, generator=torch.Generator().manual_seed(0), progress=False, return_trajectory=True
    )
    assert [t for t, _ in traj] == [1000, 667, 333, 0] and torch.equal(traj[-1][1], x0_ddpm)


def test_seeding_reproduces_and_eta_0_is_deterministic():
    s = Schedule.create("cosine", 1000)
    run = lambda sampler, seed, **kw: sampler(
        dummy_eps_fn, SHAPE, s, 10, generator=torch.Generator().manual_seed(seed), progress=False, **kw
    )
    assert torch.equal(run(ddpm_sample, 0), run(ddpm_sample, 0))
    assert not torch.allclose(run(ddpm_sample, 0), run(ddpm_sample, 1))
    assert torch.equal(run(ddim_sample, 0, eta=0.5), run(ddim_sample, 0, eta=0.5))
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(7))
    a = ddim_sample(dummy_eps_fn, SHAPE, s, 10, x_T=x_T, generator=torch.Generator().manual_seed(0), progress=False)
    b = ddim_sample(dummy_eps_fn, SHAPE, s, 10, x_T=x_T, generator=torch.Generator().manual_seed(1), progress=False)
    assert torch.equal(a, b), "with eta = 0, x_T alone decides the sample"
    c = ddim_sample(
        dummy_eps_fn, SHAPE, s, 10, eta=1.0, x_T=x_T, generator=torch.Generator().manual_seed(1), progress=False
    )
    assert not torch.allclose(a, c)


def test_progress_bar_shows_unless_disabled(capsys):
    s = Schedule.create("linear", 1000)
    ddim_sample(dummy_eps_fn, SHAPE, s, 3, progress=False)
    ddpm_sample(dummy_eps_fn, SHAPE, s, 3, generator=torch.Generator().manual_seed(0), progress=False)
    assert capsys.readouterr().err == ""
    ddim_sample(dummy_eps_fn, SHAPE, s, 3)
    assert "DDIM" in capsys.readouterr().err


# --- Bad input: each error names the problem ---------------------------------------------


@pytest.mark.parametrize("timesteps", [[500, 500, 1], [1, 500, 1000], [900, 20, 40]])
def test_timesteps_not_strictly_decreasing_are_refused(timesteps):
    s = Schedule.create("linear", 1000)
    with pytest.raises(ValueError, match="timesteps must be strictly decreasing"):
        check_timestep_sequence(timesteps, 1000)
    with pytest.raises(ValueError, match="timesteps must be strictly decreasing"):
        ddim_sample(dummy_eps_fn, SHAPE, s, timesteps=timesteps, progress=False)


@pytest.mark.parametrize("timesteps", [[1001, 500], [500, 0], [3, -1]])
def test_timesteps_outside_1_to_T_are_refused(timesteps):
    with pytest.raises(ValueError, match=r"timesteps must be in \[1, 1000\]"):
        ddpm_sample(dummy_eps_fn, SHAPE, Schedule.create("linear", 1000), timesteps=timesteps, progress=False)


@pytest.mark.parametrize("num_steps", [0, -3, 1001, 2.5, True])
def test_num_steps_outside_1_to_T_is_refused(num_steps):
    s = Schedule.create("linear", 1000)
    with pytest.raises(ValueError, match=r"num_steps must be an integer between 1 and T=1000"):
        make_timesteps(1000, num_steps)
    with pytest.raises(ValueError, match=r"num_steps must be an integer between 1 and T=1000"):
        ddim_sample(dummy_eps_fn, SHAPE, s, num_steps, progress=False)
    with pytest.raises(ValueError, match=r"num_steps must be an integer between 1 and T=1000"):
        ddpm_sample(dummy_eps_fn, SHAPE, s, num_steps, progress=False)


def test_model_output_of_the_wrong_shape_is_refused():
    s = Schedule.create("cosine", 1000)
    learned_variance = lambda x_t, t: torch.cat([x_t, x_t], dim=1)  # (B, 2C, H, W), as some U-Nets output
    with pytest.raises(ValueError, match=r"model output eps has shape \(2, 2, 4, 4\) but x_t has shape \(2, 1, 4, 4\)"):
        ddim_sample(learned_variance, SHAPE, s, 5, progress=False)
    with pytest.raises(ValueError, match=r"model output eps has shape \(2, 2, 4, 4\)"):
        ddpm_sample(learned_variance, SHAPE, s, 5, progress=False)
    x_t = torch.zeros(SHAPE)
    for step in (ddpm_step, ddim_step):
        with pytest.raises(ValueError, match=r"model output eps has shape \(2, 16\)"):
            step(x_t, 10, 0, torch.zeros(2, 16), s)
    with pytest.raises(TypeError, match="model output eps must be a tensor.*unet\\(x_t, t - 1\\).sample"):
        ddim_sample(lambda x_t, t: {"sample": x_t}, SHAPE, s, 5, progress=False)


def test_a_step_checks_t_with_the_schedules_validator():
    s, x_t = Schedule.create("cosine", 1000), torch.zeros(SHAPE)
    with pytest.raises(ValueError, match=r"t must be in \[1, 1000\]"):  # a step starts at t >= 1
        ddpm_step(x_t, 0, 0, x_t, s)


def test_a_step_must_go_from_t_down_to_t_prev():
    s, x_t = Schedule.create("linear", 1000), torch.zeros(SHAPE)
    with pytest.raises(ValueError, match=r"t must be in \[1, 1000\].*got values from 0 to 0"):
        ddim_step(x_t, 0, 0, x_t, s)  # t = 0 is already clean
    with pytest.raises(ValueError, match="t_prev must be smaller than t"):
        ddim_step(x_t, 10, 10, x_t, s)
    with pytest.raises(ValueError, match="t_prev must be smaller than t"):
        ddpm_step(x_t, 10, 20, x_t, s, torch.zeros(SHAPE))
    with pytest.raises(ValueError, match=r"t_prev must be in \[0, 999\]"):
        ddpm_step(x_t, 10, -1, x_t, s)


def test_wrong_t_types_and_shapes_are_refused():
    s, x_t = Schedule.create("linear", 1000), torch.zeros(SHAPE)
    with pytest.raises(TypeError, match="t must be an integer timestep"):
        predict_x0(x_t, 2.5, x_t, s)
    with pytest.raises(TypeError, match="t must be an integer timestep"):
        predict_x0(x_t, torch.tensor([1.0, 2.0]), x_t, s)
    with pytest.raises(ValueError, match=r"one per batch row of x_t"):
        predict_x0(x_t, torch.tensor([1, 2, 3]), x_t, s)


def test_missing_noise_and_bad_eta_are_refused():
    s, x_t = Schedule.create("linear", 1000), torch.zeros(SHAPE)
    with pytest.raises(ValueError, match=r"ddpm_step adds fresh noise.*noise=torch.randn_like\(x_t\)"):
        ddpm_step(x_t, 10, 5, x_t, s)
    with pytest.raises(ValueError, match=r"ddim_step with eta=0.5 adds fresh noise"):
        ddim_step(x_t, 10, 5, x_t, s, eta=0.5)
    assert torch.equal(ddpm_step(x_t, 10, 0, x_t, s), ddpm_step(x_t, 10, 0, x_t, s, torch.ones(SHAPE)))
    for eta in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"eta must be in \[0, 1\]"):
            ddim_sample(dummy_eps_fn, SHAPE, s, 5, eta=eta, progress=False)
        with pytest.raises(ValueError, match=r"eta must be in \[0, 1\]"):
            ddim_step(x_t, 10, 5, x_t, s, eta=eta, noise=x_t)


def test_bad_spacing_and_x_T_are_refused():
    s = Schedule.create("linear", 1000)
    with pytest.raises(ValueError, match=r"unknown spacing 'linspace'; choose one of \('trailing', 'leading'\)"):
        make_timesteps(1000, 10, "linspace")
    with pytest.raises(ValueError, match="steps_offset only applies to spacing='leading'"):
        make_timesteps(1000, 10, "trailing", steps_offset=1)
    with pytest.raises(ValueError, match=r"x_T has shape \(3, 1, 4, 4\) but shape=\(2, 1, 4, 4\)"):
        ddim_sample(dummy_eps_fn, SHAPE, s, 5, x_T=torch.zeros(3, 1, 4, 4), progress=False)
