"""helpers.sampling against a peer implementation: diffusers' DDPMScheduler and DDIMScheduler.

Our t is diffusers' timestep + 1, so our step from t to t_prev is diffusers' step at
timestep t - 1, and our t_prev = 0 is diffusers' "previous timestep < 0" (alpha_bar = 1,
set_alpha_to_one=True). diffusers computes its schedule in float32, which rounds
1 - alpha_bar near t = 1 and alpha_bar near T (cosine: 2.4e-9) by up to 1e-3 relative, so
the step-by-step comparisons run diffusers' own betas in float64 on both sides: they then
check the formulas to 1e-8, not float32 rounding. One test compares 50-step samplers with
diffusers exactly as shipped (float32, its defaults, clip_sample=True) to 1e-5.

diffusers' DDIMScheduler.step assumes the previous timestep is t - T // N; with "trailing"
spacing that is the next timestep only when N divides T, so DDIM runs with trailing spacing
are compared for such N (our sampler always steps to the next timestep of the list).
"""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub lookup fails at once instead of retrying

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from helpers.sampling import (SPACINGS, check_timesteps, clip_x0, ddim_sample, ddim_sigma, ddim_step, ddpm_sample,
                              ddpm_step, extract, make_timesteps, posterior_mean_variance, predict_x0,
                              timestep_pairs)
from helpers.schedules import SCHEDULES, Schedule

DIFFUSERS_NAME = {"linear": "linear", "cosine": "squaredcos_cap_v2"}
F64 = torch.float64
ATOL = 1e-8  # float64 on both sides; diffusers adds 1e-10 * noise on its last step (variance clamped at 1e-20)
SHAPE = (2, 1, 4, 4)  # (B, C, H, W)


def peer(cls, name: str, T: int = 1000, num_steps: int | None = None, spacing: str = "leading", clip: bool = True,
         steps_offset: int = 0):
    """A diffusers scheduler in float64 on its own betas, and our Schedule on the very same betas."""
    sched = cls(num_train_timesteps=T, beta_schedule=DIFFUSERS_NAME[name], clip_sample=clip,
                timestep_spacing=spacing, steps_offset=steps_offset)
    sched.alphas_cumprod = torch.cumprod(1.0 - sched.betas.double(), dim=0)
    sched.one = sched.final_alpha_cumprod = torch.tensor(1.0, dtype=F64)  # alpha_bar at our t = 0
    if num_steps is not None:
        sched.set_timesteps(num_steps)
    ours = Schedule(name, T, np.concatenate([[0.0], sched.betas.double().numpy()]))
    return sched, ours


def realistic_inputs(schedule: Schedule, t: int, seed: int):
    """x_t from the forward process of an x0 in [-1, 1], and a model's eps that is right up to an error."""
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.rand(SHAPE, generator=gen, dtype=F64) * 2 - 1
    eps_true = torch.randn(SHAPE, generator=gen, dtype=F64)
    x_t = float(schedule.sqrt_alpha_bar[t]) * x0 + float(schedule.sqrt_one_minus_alpha_bar[t]) * eps_true
    eps = eps_true + 0.3 * torch.randn(SHAPE, generator=gen, dtype=F64)  # (B, C, H, W)
    return x_t, eps


def some_pairs(timesteps: list[int], k: int = 6) -> list[tuple[int, int]]:
    """The first, the last and a few evenly spread (t, t_prev) pairs of a run."""
    pairs = timestep_pairs(timesteps)
    idx = sorted(set(np.linspace(0, len(pairs) - 1, k).round().astype(int)))
    return [pairs[i] for i in idx]


def dummy_eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A fixed stand-in for a network: depends on x_t and t, keeps x_t bounded."""
    return 0.8 * x_t + 0.2 * torch.cos(t.view(-1, 1, 1, 1).to(x_t.dtype) / 70.0 + x_t)  # (B, C, H, W)


# --- Timestep subsets ----------------------------------------------------------------------

@pytest.mark.parametrize("spacing,steps_offset", [("trailing", 0), ("leading", 0), ("leading", 1)])
@pytest.mark.parametrize("T", [1000, 50])
def test_timesteps_are_diffusers_set_timesteps_plus_one(T, spacing, steps_offset):
    theirs = DDPMScheduler(num_train_timesteps=T, timestep_spacing=spacing, steps_offset=steps_offset)
    counts = range(1, T + 1) if T <= 50 else [1, 2, 3, 7, 10, 16, 50, 100, 250, 333, 999, 1000]
    for n in counts:
        if steps_offset and n == T:
            continue  # diffusers would start at timestep T, beyond its own schedule
        theirs.set_timesteps(n)
        ours, expected = make_timesteps(T, n, spacing, steps_offset), (theirs.timesteps + 1).tolist()
        if len(expected) == n + 1 and expected[-1] == 0:
            expected = expected[:n]  # diffusers' float arange for "trailing" can overshoot by one (T=50, N=29)
        assert ours == expected, f"N={n}"
        assert len(ours) == n and all(a > b for a, b in zip(ours, ours[1:])) and 1 <= ours[-1] and ours[0] <= T


def test_trailing_starts_at_T_and_full_runs_visit_every_t():
    assert make_timesteps(1000, 5) == [1000, 800, 600, 400, 200]
    assert make_timesteps(1000, 5, "leading") == [801, 601, 401, 201, 1]
    for spacing in SPACINGS:
        assert make_timesteps(1000, 1000, spacing) == list(range(1000, 0, -1))
    assert timestep_pairs([1000, 800, 600]) == [(1000, 800), (800, 600), (600, 0)]


# --- Building blocks -----------------------------------------------------------------------

def test_extract_gives_schedule_values_in_x_t_dtype_shaped_to_broadcast():
    s = Schedule.create("cosine", 1000)
    x_t = torch.zeros(3, 1, 2, 2, dtype=torch.float32)
    a = extract(s.alpha_bar, torch.tensor([1, 500, 1000]), x_t)
    assert a.shape == (3, 1, 1, 1) and a.dtype == torch.float32
    np.testing.assert_allclose(a.flatten().numpy(), s.alpha_bar[[1, 500, 1000]].astype(np.float32), rtol=1e-7)
    b = extract(s.alpha_bar, 500, x_t.double())
    assert b.shape == () and b.dtype == F64 and b.item() == s.alpha_bar[500]


@pytest.mark.parametrize("name", SCHEDULES)
def test_predict_x0_matches_diffusers_pred_original_sample(name):
    sched, ours = peer(DDPMScheduler, name, clip=False)
    for t in [1, 10, 500, 999, 1000]:
        x_t, eps = realistic_inputs(ours, t, seed=t)
        expected = sched.step(eps, t - 1, x_t, generator=torch.Generator().manual_seed(0)).pred_original_sample
        torch.testing.assert_close(predict_x0(x_t, t, eps, ours), expected, rtol=1e-10, atol=ATOL)


def test_predict_x0_inverts_the_forward_process_and_clip_x0_clamps():
    s = Schedule.create("linear", 1000)
    gen = torch.Generator().manual_seed(0)
    x0, eps = torch.rand(SHAPE, generator=gen, dtype=F64) * 2 - 1, torch.randn(SHAPE, generator=gen, dtype=F64)
    t = torch.tensor([3, 700])  # one t per row
    x_t = extract(s.sqrt_alpha_bar, t, x0) * x0 + extract(s.sqrt_one_minus_alpha_bar, t, x0) * eps  # eq. 4
    torch.testing.assert_close(predict_x0(x_t, t, eps, s), x0, rtol=0, atol=1e-9)
    assert torch.equal(clip_x0(torch.tensor([-3.0, -0.5, 0.2, 7.0])), torch.tensor([-1.0, -0.5, 0.2, 1.0]))


@pytest.mark.parametrize("name", SCHEDULES)
def test_posterior_is_eq7_and_consistent_with_the_marginals(name):
    """q(x_{t_prev} | x_t, x0) must turn x_t ~ q(x_t | x0) into x_{t_prev} ~ q(x_{t_prev} | x0), for any t_prev < t."""
    s = Schedule.create(name, 1000)
    one, zero = torch.ones(1, dtype=F64), torch.zeros(1, dtype=F64)
    for t, t_prev in [(1, 0), (2, 1), (500, 499), (1000, 999), (1000, 980), (600, 400), (20, 0), (1000, 0)]:
        coef_x0, var = posterior_mean_variance(one, zero, t, t_prev, s)
        coef_x_t, _ = posterior_mean_variance(zero, one, t, t_prev, s)
        ab_t, ab_prev = s.alpha_bar[t], s.alpha_bar[t_prev]
        assert coef_x0.item() + coef_x_t.item() * np.sqrt(ab_t) == pytest.approx(np.sqrt(ab_prev), abs=1e-12)
        assert coef_x_t.item() ** 2 * (1 - ab_t) + var.item() == pytest.approx(1 - ab_prev, abs=1e-12)
        if t_prev == t - 1:  # Ho et al.'s beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t
            assert var.item() == pytest.approx((1 - ab_prev) / (1 - ab_t) * s.beta[t], rel=1e-12)
    assert posterior_mean_variance(one, zero, 20, 0, s)[1].item() == 0.0  # the last step adds no noise


def test_ddim_sigma_at_eta_1_is_the_ddpm_posterior_std_and_ddim_step_is_ddpm_step():
    """Song et al. 2021, eq. 16: eta = 1 makes the DDIM step the DDPM step (here without clipping)."""
    s = Schedule.create("cosine", 1000)
    for t, t_prev in [(1000, 980), (500, 499), (41, 21)]:
        x_t, eps = realistic_inputs(s, t, seed=t)
        noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1), dtype=F64)
        _, var = posterior_mean_variance(x_t, x_t, t, t_prev, s)
        torch.testing.assert_close(ddim_sigma(t, t_prev, s, 1.0, x_t) ** 2, var, rtol=1e-10, atol=0)
        assert ddim_sigma(t, t_prev, s, 0.0, x_t).item() == 0.0
        torch.testing.assert_close(ddim_step(x_t, t, t_prev, eps, s, 1.0, noise, clip=False),
                                   ddpm_step(x_t, t, t_prev, eps, s, noise, clip=False), rtol=1e-9, atol=1e-9)


# --- One step against diffusers --------------------------------------------------------------

@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("num_steps,spacing", [(1000, "leading"), (50, "leading"), (7, "leading"),
                                               (50, "trailing"), (7, "trailing")])
@pytest.mark.parametrize("name", SCHEDULES)
def test_ddpm_step_matches_diffusers(name, num_steps, spacing, clip):
    sched, ours = peer(DDPMScheduler, name, num_steps=num_steps, spacing=spacing, clip=clip)
    timesteps = make_timesteps(1000, num_steps, spacing)
    assert timesteps == (sched.timesteps + 1).tolist()
    for t, t_prev in some_pairs(timesteps):
        x_t, eps = realistic_inputs(ours, t, seed=t)
        # diffusers draws its noise with randn_tensor(shape, generator, dtype): the same draw as ours
        noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(t), dtype=F64)
        expected = sched.step(eps, t - 1, x_t, generator=torch.Generator().manual_seed(t)).prev_sample
        got = ddpm_step(x_t, t, t_prev, eps, ours, noise, clip=clip)
        torch.testing.assert_close(got, expected, rtol=0, atol=ATOL, msg=f"t={t}, t_prev={t_prev}")


@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("num_steps,spacing", [(1000, "leading"), (50, "leading"), (7, "leading"),
                                               (50, "trailing"), (10, "trailing")])
@pytest.mark.parametrize("name", SCHEDULES)
def test_ddim_step_matches_diffusers(name, num_steps, spacing, eta, clip):
    sched, ours = peer(DDIMScheduler, name, num_steps=num_steps, spacing=spacing, clip=clip)
    timesteps = make_timesteps(1000, num_steps, spacing)
    assert timesteps == (sched.timesteps + 1).tolist()
    for t, t_prev in some_pairs(timesteps):
        x_t, eps = realistic_inputs(ours, t, seed=t)
        noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(-t), dtype=F64)
        expected = sched.step(eps, t - 1, x_t, eta=eta, variance_noise=noise).prev_sample
        got = ddim_step(x_t, t, t_prev, eps, ours, eta, noise if eta > 0 else None, clip=clip)
        torch.testing.assert_close(got, expected, rtol=0, atol=ATOL, msg=f"t={t}, t_prev={t_prev}")


def test_the_diffusers_comparison_can_fail():
    """The checks above catch DDPM's other variance (beta_t, 'fixed_large') and a DDIM step that ignores eta."""
    sched, ours = peer(DDPMScheduler, "linear", num_steps=50)
    sched.register_to_config(variance_type="fixed_large")
    sched.variance_type = "fixed_large"
    x_t, eps = realistic_inputs(ours, 41, seed=0)
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(41), dtype=F64)
    expected = sched.step(eps, 40, x_t, generator=torch.Generator().manual_seed(41)).prev_sample
    with pytest.raises(AssertionError):
        torch.testing.assert_close(ddpm_step(x_t, 41, 21, eps, ours, noise), expected, rtol=0, atol=ATOL)
    sched, ours = peer(DDIMScheduler, "cosine", num_steps=50)
    expected = sched.step(eps, 40, x_t, eta=0.5, variance_noise=noise).prev_sample
    with pytest.raises(AssertionError):
        torch.testing.assert_close(ddim_step(x_t, 41, 21, eps, ours, 0.0), expected, rtol=0, atol=ATOL)


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
    got = ddpm_sample(dummy_eps_fn, SHAPE, ours, generator=torch.Generator().manual_seed(0), progress=False,
                      dtype=F64)
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize("num_steps,spacing,steps_offset", [(20, "trailing", 0), (20, "leading", 0),
                                                            (7, "leading", 1), (7, "trailing", 0)])
def test_ddpm_sample_with_fewer_steps_matches_the_diffusers_loop(num_steps, spacing, steps_offset):
    sched, ours = peer(DDPMScheduler, "cosine", num_steps=num_steps, spacing=spacing, steps_offset=steps_offset)
    expected = diffusers_loop(sched, seed=1)
    timesteps = make_timesteps(1000, num_steps, spacing, steps_offset)
    got = ddpm_sample(dummy_eps_fn, SHAPE, ours, timesteps=timesteps, generator=torch.Generator().manual_seed(1),
                      progress=False, dtype=F64)
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize("eta", [0.0, 0.6, 1.0])
@pytest.mark.parametrize("num_steps,spacing", [(20, "trailing"), (20, "leading"), (7, "leading")])
@pytest.mark.parametrize("name", SCHEDULES)
def test_ddim_sample_matches_the_diffusers_loop(name, num_steps, spacing, eta):
    sched, ours = peer(DDIMScheduler, name, num_steps=num_steps, spacing=spacing)
    expected = diffusers_loop(sched, seed=2, eta=eta)
    got = ddim_sample(dummy_eps_fn, SHAPE, ours, num_steps, eta=eta, spacing=spacing,
                      generator=torch.Generator().manual_seed(2), progress=False, dtype=F64)
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
        x = ddpm.step(dummy_eps_fn(x, torch.full((SHAPE[0],), int(timestep) + 1)), timestep, x,
                      generator=gen).prev_sample
    got = ddpm_sample(dummy_eps_fn, SHAPE, ours, 50, generator=torch.Generator().manual_seed(4), progress=False)
    torch.testing.assert_close(got, x, rtol=0, atol=1e-5)  # about 3e-6 here: float32 rounding of 1 - alpha_bar


# --- The samplers' behaviour ---------------------------------------------------------------

def exact_eps_fn(x0_star: torch.Tensor, schedule: Schedule):
    """The ideal eps for data that is one point x0_star: eps = (x_t - sqrt(alpha_bar_t) x0_star) / sqrt(1 - alpha_bar_t)."""
    def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (x_t - extract(schedule.sqrt_alpha_bar, t, x_t) * x0_star) / extract(schedule.sqrt_one_minus_alpha_bar, t, x_t)
    return eps_fn


@pytest.mark.parametrize("name", SCHEDULES)
def test_with_the_ideal_eps_both_samplers_land_on_the_data_point(name):
    s = Schedule.create(name, 1000)
    x0_star = torch.linspace(-0.9, 0.9, 16, dtype=F64).reshape(1, 1, 4, 4).expand(SHAPE)  # (B, C, H, W)
    gen = torch.Generator().manual_seed(5)
    for x0 in [ddpm_sample(exact_eps_fn(x0_star, s), SHAPE, s, 10, generator=gen, progress=False, dtype=F64),
               ddim_sample(exact_eps_fn(x0_star, s), SHAPE, s, 10, generator=gen, progress=False, dtype=F64),
               ddim_sample(exact_eps_fn(x0_star, s), SHAPE, s, 3, eta=0.5, generator=gen, progress=False, dtype=F64)]:
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
    x0_ddpm, traj = ddpm_sample(dummy_eps_fn, SHAPE, s, 3, generator=torch.Generator().manual_seed(0),
                                progress=False, return_trajectory=True)
    assert [t for t, _ in traj] == [1000, 667, 333, 0] and torch.equal(traj[-1][1], x0_ddpm)


def test_seeding_reproduces_and_eta_0_is_deterministic():
    s = Schedule.create("cosine", 1000)
    run = lambda sampler, seed, **kw: sampler(dummy_eps_fn, SHAPE, s, 10, generator=torch.Generator().manual_seed(seed),
                                              progress=False, **kw)
    assert torch.equal(run(ddpm_sample, 0), run(ddpm_sample, 0))
    assert not torch.allclose(run(ddpm_sample, 0), run(ddpm_sample, 1))
    assert torch.equal(run(ddim_sample, 0, eta=0.5), run(ddim_sample, 0, eta=0.5))
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(7))
    a = ddim_sample(dummy_eps_fn, SHAPE, s, 10, x_T=x_T, generator=torch.Generator().manual_seed(0), progress=False)
    b = ddim_sample(dummy_eps_fn, SHAPE, s, 10, x_T=x_T, generator=torch.Generator().manual_seed(1), progress=False)
    assert torch.equal(a, b), "with eta = 0, x_T alone decides the sample"
    c = ddim_sample(dummy_eps_fn, SHAPE, s, 10, eta=1.0, x_T=x_T, generator=torch.Generator().manual_seed(1),
                    progress=False)
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
        check_timesteps(timesteps, 1000)
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


@pytest.mark.parametrize("t", [-1, 1001, torch.tensor([5, 1001])])
def test_t_outside_0_to_T_is_refused(t):
    s = Schedule.create("cosine", 1000)
    x_t = torch.zeros(SHAPE)
    with pytest.raises(ValueError, match=r"t must be in \[0, 1000\]"):
        predict_x0(x_t, t, x_t, s)
    with pytest.raises(ValueError, match=r"t must be in \[1, 1000\]"):
        ddpm_step(x_t, t, 0, x_t, s)


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
