"""helpers.schedules against a peer implementation: diffusers' DDPMScheduler.

Our t counts noising steps from 1 (t = 0 is the clean x0); diffusers' timestep counts them
from 0. So our beta[1:] and alpha_bar[1:] are diffusers' betas and alphas_cumprod, and our
q_sample at t is diffusers' add_noise at timestep t - 1.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub lookup fails at once instead of retrying

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from helpers.models import MLPDenoiser
from helpers.sampling import predict_x0
from helpers.schedules import SCHEDULES, Schedule, at, check_t, pick, q_sample, torch_schedule

DIFFUSERS_NAME = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


def diffusers_scheduler(name: str, T: int) -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=T, beta_schedule=DIFFUSERS_NAME[name])


@pytest.mark.parametrize("T", [1000, 50])
@pytest.mark.parametrize("name", SCHEDULES)
def test_betas_and_alpha_bar_match_diffusers(name, T):
    ours = Schedule.create(name, T)
    theirs = diffusers_scheduler(name, T)
    np.testing.assert_allclose(ours.beta[1:], theirs.betas.double().numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.alpha_bar[1:], theirs.alphas_cumprod.double().numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", SCHEDULES)
def test_arrays_are_indexed_by_t_with_t0_clean(name):
    s = Schedule.create(name, 1000)
    for array in (s.beta, s.alpha, s.alpha_bar, s.sqrt_alpha_bar, s.sqrt_one_minus_alpha_bar, s.snr, s.log_snr):
        assert array.shape == (1001,)
    assert s.beta[0] == 0 and s.alpha_bar[0] == 1 and s.sqrt_one_minus_alpha_bar[0] == 0
    assert np.isinf(s.snr[0]) and np.isinf(s.log_snr[0])
    assert np.all(np.diff(s.alpha_bar) < 0), "alpha_bar must fall at every step"
    assert s.alpha_bar[-1] < 1e-4, "at t = T almost no signal is left"


@pytest.mark.parametrize("name", SCHEDULES)
def test_derived_quantities_follow_their_definitions(name):
    s = Schedule.create(name, 1000)
    alpha_bar = np.cumprod(1.0 - s.beta)
    np.testing.assert_allclose(s.alpha_bar, alpha_bar, rtol=1e-12)
    np.testing.assert_allclose(s.sqrt_alpha_bar**2 + s.sqrt_one_minus_alpha_bar**2, 1.0, rtol=1e-12)
    t = np.arange(1, 1001)
    np.testing.assert_allclose(s.snr[t], alpha_bar[t] / (1 - alpha_bar[t]), rtol=1e-12)
    np.testing.assert_allclose(s.log_snr[t], np.log(s.snr[t]), rtol=1e-9, atol=1e-12)


def test_cosine_alpha_bar_is_the_formula_of_nichol_and_dhariwal():
    T, s_ = 1000, 0.008
    t = np.arange(T + 1)
    f = np.cos((t / T + s_) / (1 + s_) * np.pi / 2) ** 2
    ours = Schedule.create("cosine", T)
    # Below the clipped last step the cumulative product of the betas reproduces f(t)/f(0).
    np.testing.assert_allclose(ours.alpha_bar[:T], (f / f[0])[:T], rtol=1e-9)
    assert ours.beta.max() == pytest.approx(0.999)


@pytest.mark.parametrize("name", SCHEDULES)
def test_q_sample_in_torch_matches_diffusers_add_noise(name):
    """The same q_sample works on tensors: one t per row, float32 in and out, as training draws its pairs."""
    generator = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(6, 1, 8, 8, generator=generator), torch.randn(6, 1, 8, 8, generator=generator)
    t = torch.tensor([1, 2, 250, 500, 999, 1000])
    ours = q_sample(x0, t, eps, Schedule.create(name, 1000))
    ref = diffusers_scheduler(name, 1000).add_noise(x0, eps, t - 1)  # their timestep = our t - 1
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    same_from_tensors = q_sample(x0, t, eps, torch_schedule(Schedule.create(name, 1000)))
    assert torch.equal(ours, same_from_tensors)  # float32(a)[t] == float32(a[t]): one formula, either way in


def test_at_picks_values_at_t_shaped_to_broadcast_in_the_input_type():
    s = Schedule.create("cosine", 1000)
    x_t = torch.zeros(3, 1, 2, 2, dtype=torch.float32)
    a = at(s.alpha_bar, torch.tensor([1, 500, 1000]), x_t)
    assert a.shape == (3, 1, 1, 1) and a.dtype == torch.float32
    np.testing.assert_allclose(a.flatten().numpy(), s.alpha_bar[[1, 500, 1000]].astype(np.float32), rtol=1e-7)
    b = at(s.alpha_bar, 500, x_t.double())
    assert b.shape == () and b.dtype == torch.float64 and b.item() == s.alpha_bar[500]
    c = at(s.alpha_bar, np.array([2, 3]), np.zeros((2, 5)))
    assert isinstance(c, np.ndarray) and c.shape == (2, 1) and c[1, 0] == s.alpha_bar[3]


def test_pick_is_at_without_the_checks_and_the_arrays_are_computed_once():
    s = Schedule.create("cosine", 1000)
    x_t, t = torch.zeros(3, 1, 2, 2, dtype=torch.float64), np.array([1, 500, 1000])
    assert torch.equal(pick(s.sqrt_alpha_bar, t, x_t), at(s.sqrt_alpha_bar, t, x_t))
    assert s.alpha_bar is s.alpha_bar and s.sqrt_one_minus_alpha_bar is s.sqrt_one_minus_alpha_bar  # cached
    np.testing.assert_array_equal(s.alpha_bar, np.cumprod(1.0 - s.beta))


def test_torch_schedule_holds_the_same_arrays_as_float32():
    sched = Schedule.create("cosine", 50)
    ts = torch_schedule(sched)
    assert ts.T == 50 and ts.alpha_bar.shape == (51,) and ts.alpha_bar.dtype == torch.float32
    for name in ("beta", "alpha", "alpha_bar", "sqrt_alpha_bar", "sqrt_one_minus_alpha_bar"):
        np.testing.assert_allclose(getattr(ts, name).numpy(), getattr(sched, name), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", SCHEDULES)
def test_q_sample_matches_diffusers_add_noise(name):
    T = 1000
    ours = Schedule.create(name, T)
    theirs = diffusers_scheduler(name, T)
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(6, 3, 8, 8, generator=gen)  # (B, C, H, W)
    eps = torch.randn(6, 3, 8, 8, generator=gen)
    t = np.array([1, 2, 250, 500, 999, 1000])
    expected = theirs.add_noise(x0, eps, torch.from_numpy(t - 1)).double().numpy()
    got = q_sample(x0.double().numpy(), t, eps.double().numpy(), ours)
    assert got.shape == (6, 3, 8, 8)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)  # diffusers works in float32
    # One scalar t for the whole batch, through the method.
    expected_500 = theirs.add_noise(x0, eps, torch.full((6,), 499)).double().numpy()
    np.testing.assert_allclose(ours.q_sample(x0.double().numpy(), 500, eps.double().numpy()), expected_500, atol=1e-5)


def test_q_sample_at_t0_is_x0():
    s = Schedule.create("cosine", 1000)
    x0 = np.random.default_rng(0).standard_normal((4, 5))
    np.testing.assert_array_equal(s.q_sample(x0, 0, np.ones_like(x0)), x0)


def test_the_diffusers_comparison_catches_a_missing_square_root():
    """The check above can fail: (1 - alpha_bar) written for sqrt(1 - alpha_bar) is caught."""
    ours = Schedule.create("linear", 1000)
    theirs = diffusers_scheduler("linear", 1000)
    x0, eps = torch.ones(1, 4), torch.ones(1, 4)
    expected = theirs.add_noise(x0, eps, torch.tensor([499])).double().numpy()
    wrong = ours.sqrt_alpha_bar[500] * x0.double().numpy() + (1 - ours.alpha_bar[500]) * eps.double().numpy()
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(wrong, expected, rtol=0, atol=1e-5)


# Bad input: each error names the problem.


@pytest.mark.parametrize("t", [-1, 1001, [0, 5, 1001], torch.tensor([0, 5, 1001])])
def test_t_outside_0_to_T_is_refused_everywhere_by_one_validator(t):
    s = Schedule.create("linear", 1000)
    with pytest.raises(ValueError, match=r"t must be in \[0, 1000\]"):
        check_t(t, 1000)
    x0 = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"t must be in \[0, 1000\]"):
        s.q_sample(x0, torch.as_tensor(t).numpy() if torch.is_tensor(t) else t, np.zeros_like(x0))
    x_t = torch.zeros(3, 2)
    for call in (
        lambda: predict_x0(x_t, torch.as_tensor(t), x_t, s),
        lambda: MLPDenoiser(T=1000)(x_t, torch.as_tensor(t)),
    ):
        with pytest.raises(ValueError, match=r"t must be in \[0, 1000\]"):
            call()


@pytest.mark.parametrize("t", [2.5, True, torch.tensor([1.0]), torch.tensor([True]), np.array([0.5])])
def test_fractional_or_boolean_t_is_refused(t):
    with pytest.raises(TypeError, match="t must be an integer timestep"):
        Schedule.create("linear", 1000).check_t(t)


def test_unknown_schedule_name_is_refused():
    with pytest.raises(ValueError, match=r"unknown schedule 'quadratic'.*linear.*cosine"):
        Schedule.create("quadratic", 1000)


@pytest.mark.parametrize("T", [0, -5, 2.5, "1000", True])
def test_non_positive_or_non_integer_T_is_refused(T):
    with pytest.raises(ValueError, match="T must be a positive integer"):
        Schedule.create("cosine", T)


def test_shape_mismatch_between_x0_and_eps_is_refused():
    s = Schedule.create("cosine", 1000)
    with pytest.raises(ValueError, match=r"x0 has shape \(2, 3\) but eps has shape \(3, 2\)"):
        s.q_sample(np.zeros((2, 3)), 10, np.zeros((3, 2)))


def test_one_t_per_row_must_match_the_batch():
    s = Schedule.create("cosine", 1000)
    with pytest.raises(ValueError, match=r"one per batch row of x0"):
        s.q_sample(np.zeros((4, 3)), np.array([1, 2]), np.zeros((4, 3)))
