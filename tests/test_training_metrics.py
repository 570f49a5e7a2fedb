"""helpers.training and helpers.metrics, checked against diffusers, scipy and closed forms; and the packaged U-Net."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
from diffusers import DDPMScheduler

from helpers import schedules
from helpers.data import digits_split, two_moons
from helpers.metrics import (class_accuracy, classifier_held_out_accuracy, digit_features, digits_classifier,
                             digits_frechet_distance, energy_distance, frechet_distance, frechet_distance_from_stats,
                             real_frechet_baseline)
from helpers.models import NULL_CLASS, DigitsUNet, MLPDenoiser, load_pretrained, pretrained_metadata, pretrained_path
from helpers.schedules import Schedule
from helpers.training import (diffusion_loss, load_weights, q_sample, read_metadata, save_weights, torch_schedule,
                              train)

torch.set_num_threads(1)  # tiny models: one thread is fastest and immune to a busy neighbour
ROOT = Path(__file__).resolve().parents[1]


def _params(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


# --- schedule and forward process -------------------------------------------------------------------------------

def test_torch_schedule_matches_numpy_schedule():
    sched = Schedule.create("cosine", 50)
    ts = torch_schedule(sched)
    assert ts.T == 50 and ts.alpha_bar.shape == (51,) and ts.alpha_bar.dtype == torch.float32
    for name in ("beta", "alpha", "alpha_bar", "sqrt_alpha_bar", "sqrt_one_minus_alpha_bar"):
        np.testing.assert_allclose(getattr(ts, name).numpy(), getattr(sched, name), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name, diffusers_name", [("linear", "linear"), ("cosine", "squaredcos_cap_v2")])
def test_q_sample_matches_diffusers_add_noise(name, diffusers_name):
    generator = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(6, 1, 8, 8, generator=generator), torch.randn(6, 1, 8, 8, generator=generator)
    t = torch.tensor([1, 2, 250, 500, 999, 1000])
    ours = q_sample(x0, t, eps, Schedule.create(name, 1000))
    ref = DDPMScheduler(num_train_timesteps=1000, beta_schedule=diffusers_name).add_noise(x0, eps, t - 1)  # their t = ours - 1
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.numpy(), schedules.q_sample(x0.numpy(), t.numpy(), eps.numpy(), Schedule.create(name, 1000)),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="eps has shape"):
        q_sample(x0, t, eps[:, :, :4], Schedule.create(name, 1000))


# --- the loss ---------------------------------------------------------------------------------------------------

class LabelSpy(torch.nn.Module):
    """Predicts zeros and records the labels it was called with."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.seen: list[torch.Tensor] = []

    def forward(self, x_t, t, y=None):
        self.seen.append(y)
        return x_t * self.w


def test_loss_is_mse_to_eps_or_x0_and_draws_t_from_1_to_T():
    sched = Schedule.create("linear", 10)
    x0 = torch.randn(4000, 2)
    spy = LabelSpy()
    loss_eps = diffusion_loss(spy, x0, sched, generator=torch.Generator().manual_seed(0))  # prediction 0: loss = E[eps^2] = 1
    loss_x0 = diffusion_loss(spy, x0, sched, target="x0", generator=torch.Generator().manual_seed(0))
    assert abs(loss_eps.item() - 1) < 0.05
    assert torch.isclose(loss_x0, x0.pow(2).mean())

    seen_t = []
    recorder = lambda x_t, t, y=None: seen_t.append(t) or x_t
    diffusion_loss(recorder, x0, sched, generator=torch.Generator().manual_seed(0))
    assert seen_t[0].min() == 1 and seen_t[0].max() == 10
    with pytest.raises(ValueError, match="target"):
        diffusion_loss(spy, x0, sched, target="v")


def test_label_dropout_replaces_labels_by_null_class():
    sched, x0, y = Schedule.create("linear", 10), torch.randn(2000, 2), torch.randint(0, 10, (2000,))
    spy = LabelSpy()
    for p in (0.0, 0.5, 1.0):
        diffusion_loss(spy, x0, sched, y=y, p_uncond=p, generator=torch.Generator().manual_seed(0))
    kept, half, none = spy.seen
    assert torch.equal(kept, y) and (none == NULL_CLASS).all()
    dropped = half == NULL_CLASS
    assert 0.45 < dropped.float().mean() < 0.55 and torch.equal(half[~dropped], y[~dropped])


# --- the training loop ------------------------------------------------------------------------------------------

def _mlp() -> MLPDenoiser:
    torch.manual_seed(0)
    return MLPDenoiser(hidden=64, depth=2, T=100)


@pytest.mark.parametrize("target", ["eps", "x0"])
def test_training_loss_falls_and_is_reproducible(target):
    x0, sched = two_moons(1000), Schedule.create("cosine", 100)
    model_a, model_b = _mlp(), _mlp()
    hist_a = train(model_a, x0, sched, steps=300, target=target, seed=1, progress=False)
    hist_b = train(model_b, x0, sched, steps=300, target=target, seed=1, progress=False)
    assert type(hist_a) is list and len(hist_a) == 300 and all(type(v) is float for v in hist_a)
    assert np.mean(hist_a[-50:]) < 0.7 * np.mean(hist_a[:10])
    assert hist_a == hist_b and all(torch.equal(a, b) for a, b in zip(model_a.parameters(), model_b.parameters()))
    assert not model_a.training  # left in eval mode


def test_training_budget_in_seconds():
    model = _mlp()
    hist = train(model, two_moons(200), Schedule.create("cosine", 100), steps=None, max_seconds=0.3, progress=False)
    assert len(hist) > 0
    with pytest.raises(ValueError, match="budget"):
        train(model, two_moons(200), Schedule.create("cosine", 100), steps=None, max_seconds=None)


def test_keyboard_interrupt_keeps_the_weights_trained_so_far():
    x0, sched = two_moons(500), Schedule.create("cosine", 100)

    def interrupt_at_5(step: int, loss: float) -> None:
        if step == 5:
            raise KeyboardInterrupt

    model, reference = _mlp(), _mlp()
    start = _params(model)
    hist = train(model, x0, sched, steps=1000, seed=2, progress=True, callback=interrupt_at_5)
    train(reference, x0, sched, steps=5, seed=2, progress=False)
    assert len(hist) == 5
    assert not all(torch.equal(a, b) for a, b in zip(start, model.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(reference.parameters(), model.parameters()))


def test_conditional_training_runs_with_label_dropout():
    split = digits_split()
    torch.manual_seed(0)
    model = DigitsUNet(channels=16)
    hist = train(model, split.x_train, Schedule.create("cosine", 1000), y=split.y_train, steps=3, batch_size=16,
                 p_uncond=0.2, progress=False)
    assert len(hist) == 3
    with pytest.raises(ValueError, match="one label per row"):
        train(model, split.x_train, Schedule.create("cosine", 1000), y=split.y_train[:10], steps=1, progress=False)


# --- saving and loading -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [_mlp, lambda: DigitsUNet(channels=16, T=1000)])
def test_safetensors_round_trip_reproduces_outputs_exactly(make, tmp_path):
    torch.manual_seed(0)
    model = make().eval()
    for p in model.parameters():  # move away from the initialisation (the label embedding starts at zero)
        p.data += 0.1 * torch.randn_like(p)
    path = tmp_path / "model.safetensors"
    save_weights(model, path, {"schedule": "cosine", "steps": 12})
    loaded = load_weights(path)
    assert type(loaded) is type(model) and not loaded.training
    assert read_metadata(path) == {"config": model.config, "schedule": "cosine", "steps": 12}
    x_t = torch.randn(5, 2) if isinstance(model, MLPDenoiser) else torch.randn(5, 1, 8, 8)
    t = torch.tensor([0, 3, 50, 99, 100])
    with torch.no_grad():
        assert torch.equal(loaded(x_t, t), model(x_t, t))


def test_read_metadata_rejects_foreign_files(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="no model config"):
        read_metadata(tmp_path / "other.safetensors")


# --- metrics ----------------------------------------------------------------------------------------------------

def test_classifier_held_out_accuracy_and_features():
    split = digits_split()
    assert classifier_held_out_accuracy() >= 0.95
    assert digits_classifier() is digits_classifier()  # cached
    assert class_accuracy(split.x_held_out, (split.y_held_out + 1) % 10) < 0.05
    assert digit_features(split.x_held_out[:7]).shape == (7, 64)
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\)"):
        digits_classifier().predict(torch.zeros(3, 64))
    with pytest.raises(ValueError, match="one intended label"):
        class_accuracy(split.x_held_out[:5], split.y_held_out[:4])


def test_frechet_distance_against_scipy_sqrtm_and_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2, mu1, mu2 = a @ a.T, b @ b.T, rng.normal(size=6), rng.normal(size=6)
    ref = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert np.isclose(frechet_distance_from_stats(mu1, s1, mu2, s2), ref, rtol=1e-8)
    d1, d2 = rng.uniform(0.5, 2, size=6), rng.uniform(0.5, 2, size=6)  # diagonal: sum (sqrt d1 - sqrt d2)^2
    closed = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)
    assert np.isclose(frechet_distance_from_stats(mu1, np.diag(d1), mu2, np.diag(d2)), closed, rtol=1e-10)


def test_digits_frechet_distance_zero_for_identical_sets_and_large_for_noise():
    split = digits_split()
    features = digit_features(split.x_train[:300])
    assert frechet_distance(features, features) < 1e-6
    baseline = real_frechet_baseline(300)
    generator = torch.Generator().manual_seed(0)
    x = split.x_held_out[:300]
    shuffled = x.reshape(300, 64)[:, torch.randperm(64, generator=generator)].reshape(300, 1, 8, 8)
    noisy = (x + 0.5 * torch.randn(x.shape, generator=generator)).clamp(-1, 1)
    assert 0 < baseline < digits_frechet_distance(noisy) < digits_frechet_distance(shuffled)
    assert digits_frechet_distance(shuffled) > 10 * baseline
    with pytest.raises(ValueError, match="same D"):
        frechet_distance(features, features[:, :10])


def test_energy_distance_properties():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 2, generator=generator), torch.randn(300, 2, generator=generator)
    assert energy_distance(a, a) == 0
    assert energy_distance(a, b) == pytest.approx(energy_distance(b, a))
    shift = torch.tensor([1.0, -2.0])
    assert energy_distance(a + shift, b + shift) == pytest.approx(energy_distance(a, b))  # translation invariant
    assert energy_distance(a, b) < energy_distance(a, b + 0.5) < energy_distance(a, b + 2.0)
    u, v = a[:, 0], 0.5 + 2 * b[:, 0]
    assert energy_distance(u[:, None], v[:, None]) == pytest.approx(scipy.stats.energy_distance(u, v), rel=1e-9)
    moons = two_moons(500, seed=0)
    assert energy_distance(moons, two_moons(500, seed=1)) < 0.2 * energy_distance(moons, b)
    with pytest.raises(ValueError, match="same D"):
        energy_distance(a, torch.randn(5, 3))


# --- the packaged, pretrained U-Net -----------------------------------------------------------------------------

def _train_pretrained_script():
    spec = importlib.util.spec_from_file_location("train_pretrained", ROOT / "scripts" / "train_pretrained.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pretrained_unet_loads_from_the_package_and_draws_recognisable_digits():
    assert pretrained_path().is_file()
    meta = pretrained_metadata()
    model = load_pretrained()
    assert isinstance(model, DigitsUNet) and model.conditional and not model.training
    assert meta["config"] == model.config and meta["T"] == model.T == 1000 and meta["target"] == "eps"
    y = torch.arange(50) % 10
    x = _train_pretrained_script().ddim_sample(model, Schedule.create(meta["schedule"], meta["T"]), y, steps=20, guidance=3.0)
    assert x.shape == (50, 1, 8, 8)
    assert class_accuracy(x, y) >= 0.8  # chance is 0.1


def test_classifier_fits_even_when_first_needed_under_no_grad():
    from helpers.metrics import digit_features, digits_classifier
    from helpers.data import digits

    digits_classifier.cache_clear()
    x, _ = digits()
    assert digit_features(x[:4]).shape == (4, 64)  # digit_features runs under no_grad and fits the classifier first
