"""helpers.flow and helpers.ode against diffusers' flow and ODE schedulers and closed forms."""

import copy

import numpy as np
import pytest
import torch
from builders import noise_pair
from diffusers import (
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
)
from sampling_peer import dummy_eps_fn

from helpers.data import two_moons
from helpers.flow import (
    ddim_on_path,
    eps_on_flow_path_loss,
    euler_flow_step,
    flow_loss,
    flow_path,
    flow_sample,
    heun_flow_step,
    path_coefficients,
    straightness,
    v_on_diffusion_path_loss,
    velocity_from_eps,
    velocity_target,
    x0_eps_from_prediction,
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


def test_the_one_change_losses_are_zero_for_their_exact_targets_and_draw_as_diffusion_loss_does():
    x0, schedule = torch.tensor([[0.5, -1.0]]).repeat(64, 1), Schedule.create("cosine", 1000)

    class Exact(torch.nn.Module):  # the one point's eps and v, read off x_t on each path
        def __init__(self, path, target):
            super().__init__()
            self.path, self.target = path, target

        def forward(self, x_t, t, y=None):
            ab = torch.tensor([path_coefficients(self.path, int(k), schedule) for k in t], dtype=x_t.dtype)
            a, s = ab[:, :1], ab[:, 1:]
            eps = (x_t - a * x0) / s
            return eps if self.target == "eps" else a * eps - s * x0

    for loss, path, target in ((eps_on_flow_path_loss, "flow", "eps"), (v_on_diffusion_path_loss, "diffusion", "v")):
        assert float(loss(Exact(path, target), x0, schedule, generator=torch.Generator().manual_seed(0))) < 1e-10
        with torch.no_grad():
            assert float(loss(MLPDenoiser(), x0, schedule, generator=torch.Generator().manual_seed(0))) > 0.1


def test_predictions_convert_to_the_x0_and_eps_that_made_x_t():
    x0, eps = noise_pair(SHAPE)
    for path, target, t in (
        ("flow", "velocity", 700),
        ("diffusion", "v", 300),
        ("diffusion", "eps", 500),
        ("flow", "eps", 400),
    ):
        a, s = path_coefficients(path, t, Schedule.create("cosine", 1000))
        x_t = a * x0 + s * eps
        pred = {"eps": eps, "velocity": eps - x0, "v": a * eps - s * x0}[target]
        x0_hat, eps_hat = x0_eps_from_prediction(pred, x_t, a, s, target)
        assert torch.allclose(x0_hat, x0, atol=1e-5) and torch.allclose(eps_hat, eps, atol=1e-5), (path, target)
    with pytest.raises(ValueError, match="target must be one of"):
        x0_eps_from_prediction(eps, eps, 1.0, 0.0, "score")


def test_ddim_on_the_flow_path_is_euler_and_on_the_diffusion_path_is_ddim():
    schedule = Schedule.create("cosine", 1000)
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    v_fn = lambda x, t: 0.3 * x + 0.01 * t.view(-1, 1, 1, 1)  # any smooth velocity
    ours = ddim_on_path(v_fn, "velocity", "flow", schedule, x_T, 7, clip=None)
    assert torch.allclose(ours, flow_sample(v_fn, SHAPE, num_steps=7, x_T=x_T), atol=1e-5)
    on_diffusion = ddim_on_path(dummy_eps_fn, "eps", "diffusion", schedule, x_T, 10, clip=None)
    assert torch.allclose(
        on_diffusion, ddim_sample(dummy_eps_fn, SHAPE, schedule, 10, clip=False, x_T=x_T, progress=False), atol=1e-3
    )
    with pytest.raises(ValueError, match="not defined on the 'diffusion' path"):
        ddim_on_path(v_fn, "velocity", "diffusion", schedule, x_T, 7)


def test_stochastic_schedulers_take_their_noise_from_the_noise_generator():
    schedule = Schedule.create("cosine", 1000)
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    ancestral = lambda seed: scheduler_sample(
        dummy_eps_fn,
        course_scheduler(EulerAncestralDiscreteScheduler, schedule),
        SHAPE,
        10,
        x_T=x_T,
        noise_generator=torch.Generator().manual_seed(seed),
    )[0]
    assert torch.equal(ancestral(1), ancestral(1)) and not torch.equal(ancestral(1), ancestral(2))
    churn = {"s_churn": 40.0, "s_tmin": 0.05, "s_tmax": 50.0}
    euler = lambda **kw: scheduler_sample(
        dummy_eps_fn, course_scheduler(EulerDiscreteScheduler, schedule), SHAPE, 10, x_T=x_T, **kw
    )[0]
    assert not torch.equal(euler(noise_generator=torch.Generator().manual_seed(1), **churn), euler())


def test_lesson_07_table_of_shipped_models_matches_the_installed_diffusers():
    """The defaults that lesson 07 cites from diffusers' pipeline code, read without importing the pipelines."""
    import ast
    import importlib.util

    def call_defaults(module: str, cls: str) -> dict:
        tree = ast.parse(open(importlib.util.find_spec(module).origin, encoding="utf-8").read())
        klass = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
        call = next(n for n in klass.body if isinstance(n, ast.FunctionDef) and n.name == "__call__")
        args, defaults = call.args.args[-len(call.args.defaults) :], call.args.defaults
        return {a.arg: ast.literal_eval(d) for a, d in zip(args, defaults) if isinstance(d, ast.Constant)}

    flux = call_defaults("diffusers.pipelines.flux.pipeline_flux", "FluxPipeline")
    sd3 = call_defaults(
        "diffusers.pipelines.stable_diffusion_3.pipeline_stable_diffusion_3", "StableDiffusion3Pipeline"
    )
    assert (flux["num_inference_steps"], flux["guidance_scale"]) == (28, 3.5)
    assert (sd3["num_inference_steps"], sd3["guidance_scale"]) == (28, 7.0)
    source = open(importlib.util.find_spec("diffusers.pipelines.flux.pipeline_flux").origin, encoding="utf-8").read()
    assert "FLUX.1-schnell" in source and "num_inference_steps=4, guidance_scale=0.0" in source
