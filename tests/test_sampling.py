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
from sampling_peer import ATOL, F64, SHAPE, peer, realistic_inputs, some_pairs

from helpers.sampling import (
    SPACINGS,
    check_timestep_sequence,
    clip_x0,
    ddim_sample,
    ddim_sigma,
    ddim_step,
    ddpm_sample,
    ddpm_step,
    make_timesteps,
    posterior_mean_variance,
    predict_x0,
    timestep_pairs,
)
from helpers.schedules import SCHEDULES, Schedule, check_t, q_sample
from helpers.teach.structure import calls

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
    x_t = q_sample(x0, t, eps, s)  # eq. 4
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
        torch.testing.assert_close(
            ddim_step(x_t, t, t_prev, eps, s, 1.0, noise, clip=False),
            ddpm_step(x_t, t, t_prev, eps, s, noise, clip=False),
            rtol=1e-9,
            atol=1e-9,
        )


# --- One step against diffusers --------------------------------------------------------------


@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize(
    "num_steps,spacing", [(1000, "leading"), (50, "leading"), (7, "leading"), (50, "trailing"), (7, "trailing")]
)
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
@pytest.mark.parametrize(
    "num_steps,spacing", [(1000, "leading"), (50, "leading"), (7, "leading"), (50, "trailing"), (10, "trailing")]
)
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


# --- clip_consistent_eps against diffusers ---------------------------------------------------


@pytest.mark.parametrize("num_steps", [50, 10])
def test_clip_consistent_ddim_step_matches_diffusers_use_clipped_model_output(num_steps):
    """ddim_step on clip_consistent_eps is diffusers' DDIMScheduler.step(..., use_clipped_model_output=True)."""
    from diffusers import DDIMScheduler

    from helpers.sampling import clip_consistent_eps

    sched = DDIMScheduler(
        num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True, timestep_spacing="leading"
    )
    sched.alphas_cumprod = torch.cumprod(1.0 - sched.betas.double(), dim=0)  # float64, as in tests/test_sampling.py
    sched.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)
    sched.set_timesteps(num_steps)
    ours = Schedule("cosine", 1000, np.concatenate([[0.0], sched.betas.double().numpy()]))
    g = torch.Generator().manual_seed(num_steps)
    for t, t_prev in timestep_pairs(make_timesteps(1000, num_steps, "leading"))[::3]:
        x_t = torch.randn((2, 1, 4, 4), generator=g, dtype=torch.float64)
        eps = 3.0 * torch.randn(
            (2, 1, 4, 4), generator=g, dtype=torch.float64
        )  # a strongly guided eps: x0_hat leaves [-1, 1]
        expected = sched.step(eps, t - 1, x_t, eta=0.0, use_clipped_model_output=True).prev_sample
        got = ddim_step(x_t, t, t_prev, clip_consistent_eps(x_t, t, eps, ours), ours)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-8, msg=f"t={t}, t_prev={t_prev}")
        plain = ddim_step(x_t, t, t_prev, eps, ours)  # clip x0_hat only: what the wrapper changes
        assert t_prev == 0 or not torch.allclose(plain, expected), "the test inputs should make clipping matter"


# --- Checks and schedule arrays: once per loop, not once per step -------------------------------


@pytest.mark.parametrize("sampler", [ddpm_sample, ddim_sample])
def test_a_loop_checks_its_timesteps_once_and_computes_alpha_bar_once(sampler):
    watched = {"check_t": check_t, "check_timestep_sequence": check_timestep_sequence}
    watched["alpha_bar"] = Schedule.__dict__["alpha_bar"].func  # the cumulative product's code

    def run(num_steps: int) -> dict[str, int]:
        eps_fn = lambda x_t, t: torch.zeros_like(x_t)
        sample = lambda: sampler(eps_fn, SHAPE, Schedule.create("cosine", 1000), num_steps, progress=False)
        return calls(sample, watched)

    few, many = run(2), run(40)
    assert few == many and many["alpha_bar"] == 1 and many["check_timestep_sequence"] == 1, (few, many)
    x_t = torch.zeros(SHAPE)
    one_step = calls(lambda: ddpm_step(x_t, 9, 4, torch.zeros(SHAPE), Schedule.create(), torch.zeros(SHAPE)), watched)
    assert one_step == {"check_t": 2, "check_timestep_sequence": 0, "alpha_bar": 1}  # t and t_prev, once each
