"""helpers.flow and helpers.ode against diffusers' flow and ODE schedulers and closed forms."""

import copy

import numpy as np
import pytest
import torch
from builders import noise_pair
from diffusers import DPMSolverMultistepScheduler, EulerDiscreteScheduler, FlowMatchEulerDiscreteScheduler
from sampling_peer import dummy_eps_fn

from helpers.data import two_moons
from helpers.flow import (
    euler_flow_step,
    flow_loss,
    flow_path,
    flow_sample,
    heun_flow_step,
    straightness,
    velocity_from_eps,
    velocity_target,
    x0_from_velocity,
)
from helpers.models import MLPDenoiser
from helpers.ode import course_scheduler, scheduler_sample, sigmas
from helpers.sampling import ddim_sample
from helpers.schedules import Schedule
from helpers.training import train

F64, SHAPE = torch.float64, (3, 1, 4, 4)


def test_the_path_runs_from_data_to_noise_with_the_velocity_as_its_derivative():
    x0, eps = noise_pair(SHAPE, 0, F64)
    assert torch.equal(flow_path(x0, eps, 0.0), x0) and torch.equal(flow_path(x0, eps, 1.0), eps)
    for tau in (0.2, 0.7):
        fd = (flow_path(x0, eps, tau + 1e-6) - flow_path(x0, eps, tau - 1e-6)) / 2e-6
        assert torch.allclose(fd, velocity_target(x0, eps), atol=1e-6)
    taus = torch.tensor([0.1, 0.5, 0.9], dtype=F64)  # one tau per row
    assert torch.allclose(flow_path(x0, eps, taus)[1], flow_path(x0[1], eps[1], 0.5))


def test_the_path_is_diffusers_scale_noise():
    x0, eps = noise_pair(SHAPE, 0, F64)
    fm = FlowMatchEulerDiscreteScheduler()
    fm.set_timesteps(10)
    for i in (0, 3, 7):
        theirs = fm.scale_noise(x0.float(), fm.timesteps[i : i + 1], eps.float())
        assert torch.allclose(theirs, flow_path(x0, eps, float(fm.sigmas[i])).float(), atol=1e-6)


def test_euler_flow_steps_equal_flow_match_euler_discrete_scheduler():
    x, _ = noise_pair(SHAPE, 1, F64)
    v_fn = lambda x, tau: torch.sin(3 * x) - tau * x  # a velocity field that depends on x and tau
    fm = FlowMatchEulerDiscreteScheduler()
    fm.set_timesteps(12)
    theirs, ours = x.float(), x.float()
    for i, timestep in enumerate(fm.timesteps):
        tau, tau_next = float(fm.sigmas[i]), float(fm.sigmas[i + 1])
        theirs = fm.step(v_fn(theirs, tau), timestep, theirs).prev_sample
        ours = euler_flow_step(ours, v_fn(ours, tau), tau, tau_next)
        assert torch.allclose(theirs, ours, atol=1e-6), f"step {i}"


def test_heun_is_second_order_and_euler_into_zero():
    lam, T = -0.8, 1000
    v_fn = lambda x, t: lam * x
    x = torch.ones(2, 3, dtype=F64)
    h = (600 - 900) / T * lam
    assert torch.allclose(heun_flow_step(v_fn, x, 900, 600, T), x * (1 + h + h**2 / 2))
    assert torch.allclose(heun_flow_step(v_fn, x, 300, 0, T), euler_flow_step(x, lam * x, 0.3, 0.0))
    exact = lambda n: flow_sample(v_fn, (2, 3), T, n, "heun", x_T=x)
    errors = [float((exact(n) - x * np.exp(-lam)).abs().max()) for n in (10, 20)]
    assert 3.0 < errors[0] / errors[1] < 5.0  # halving the step divides a second-order error by about 4


def test_a_single_data_point_is_reached_in_one_euler_step():
    x0, eps = noise_pair(SHAPE, 2, F64)
    v_fn = lambda x, t: (x - x0) / (t.double() / 1000).reshape(-1, 1, 1, 1)  # the exact velocity for one x0
    out, trajectory = flow_sample(v_fn, x0.shape, num_steps=1, x_T=eps, return_trajectory=True)
    assert torch.allclose(out, x0) and torch.allclose(straightness(trajectory), torch.ones(3, dtype=F64))


def test_noise_velocity_and_clean_image_convert_into_one_another():
    x0, eps = noise_pair(SHAPE, 3, F64)
    for tau in (0.1, 0.5, 0.95):
        x_tau = flow_path(x0, eps, tau)
        v = velocity_from_eps(x_tau, tau, eps)
        assert torch.allclose(v, eps - x0) and torch.allclose(x0_from_velocity(x_tau, tau, v), x0)


def test_straightness_of_a_bent_path():
    corner = [(2, torch.tensor([[0.0, 0.0]])), (1, torch.tensor([[1.0, 0.0]])), (0, torch.tensor([[1.0, 1.0]]))]
    assert float(straightness(corner)) == pytest.approx(2 / np.sqrt(2))


def test_flow_loss_is_zero_for_the_exact_velocity_of_one_point():
    x0 = torch.tensor([[0.5, -1.0]]).repeat(64, 1)

    class Exact(torch.nn.Module):
        def forward(self, x_tau, t, y=None):
            return (x_tau - x0) / (t.float() / 1000)[:, None]

    schedule = Schedule.create("linear", 1000)  # only its T is used: tau = t / T
    assert float(flow_loss(Exact(), x0, schedule, generator=torch.Generator().manual_seed(0))) < 1e-10
    with torch.no_grad():
        assert float(flow_loss(MLPDenoiser(), x0, schedule, generator=torch.Generator().manual_seed(0))) > 0.1


def test_train_with_flow_loss_runs_flow_loss_step_by_step():
    x0, schedule = two_moons(200), Schedule.create("cosine", 100)
    torch.manual_seed(0)
    model = MLPDenoiser(hidden=32, depth=2, T=100)
    by_hand = copy.deepcopy(model)
    losses = train(model, x0, schedule, steps=5, batch_size=32, loss=flow_loss, grad_clip=None, seed=4, progress=False)
    generator, optimizer, ours = torch.Generator().manual_seed(4), torch.optim.Adam(by_hand.parameters(), lr=2e-3), []
    for _ in range(5):
        idx = torch.randint(0, 200, (32,), generator=generator)
        loss = flow_loss(by_hand, x0[idx], schedule, generator=generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        ours.append(loss.item())
    assert losses == ours


def test_sigmas_are_diffusers_euler_sigmas():
    schedule = Schedule.create("cosine", 1000)
    euler = course_scheduler(EulerDiscreteScheduler, schedule)
    euler.set_timesteps(10)
    ours = sigmas(schedule)[[int(k) + 1 for k in euler.timesteps]]  # diffusers' timestep k is our t = k + 1
    assert np.allclose(euler.sigmas[:-1].numpy(), ours, rtol=1e-4) and float(euler.sigmas[-1]) == 0.0


def test_diffusers_euler_on_our_betas_is_ddim():
    schedule = Schedule.create("cosine", 1000)
    x_T = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    ours = ddim_sample(dummy_eps_fn, x_T.shape, schedule, 10, clip=False, x_T=x_T, progress=False)
    euler = course_scheduler(EulerDiscreteScheduler, schedule)
    theirs, nfe = scheduler_sample(dummy_eps_fn, euler, x_T.shape, 10, x_T=x_T)
    assert nfe == 10 and torch.allclose(ours, theirs, atol=0.05)  # float32 on x_bar = x / sqrt(alpha_bar_T) ~ 2e4 x
    dpm = course_scheduler(DPMSolverMultistepScheduler, schedule, algorithm_type="dpmsolver++", solver_order=2)
    assert scheduler_sample(dummy_eps_fn, dpm, x_T.shape, 7, x_T=x_T)[1] == 7
