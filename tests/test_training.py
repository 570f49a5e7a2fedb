"""helpers.training: the simple loss, label dropout and the seeded training loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from builders import small_mlp

from helpers.data import digits_split, two_moons
from helpers.models import NULL_CLASS, DigitsUNet
from helpers.schedules import Schedule
from helpers.training import diffusion_loss, drop_labels, train, x0_loss

torch.set_num_threads(1)  # tiny models: one thread is fastest and immune to a busy neighbour


def _params(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


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
    loss_eps = diffusion_loss(
        spy, x0, sched, generator=torch.Generator().manual_seed(0)
    )  # prediction 0: loss = E[eps^2] = 1
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


@pytest.mark.parametrize("loss", [diffusion_loss, x0_loss])
def test_training_loss_falls_and_is_reproducible(loss):
    x0, sched = two_moons(1000), Schedule.create("cosine", 100)
    model_a, model_b = small_mlp(), small_mlp()
    hist_a = train(model_a, x0, sched, steps=300, loss=loss, seed=1, progress=False)
    hist_b = train(model_b, x0, sched, steps=300, loss=loss, seed=1, progress=False)
    assert type(hist_a) is list and len(hist_a) == 300 and all(type(v) is float for v in hist_a)
    assert np.mean(hist_a[-50:]) < 0.7 * np.mean(hist_a[:10])
    assert hist_a == hist_b and all(torch.equal(a, b) for a, b in zip(model_a.parameters(), model_b.parameters()))
    assert not model_a.training  # left in eval mode


def test_training_budget_in_seconds_stops_the_loop():
    model, x0, sched = small_mlp(), two_moons(200), Schedule.create("cosine", 100)
    start = __import__("time").perf_counter()
    hist = train(model, x0, sched, steps=None, max_seconds=0.3, progress=False)
    elapsed = __import__("time").perf_counter() - start
    assert 0 < len(hist) < 1_000_000 and elapsed < 5, (len(hist), elapsed)  # ran, and stopped at the budget
    capped = train(small_mlp(), x0, sched, steps=10**9, max_seconds=0.2, progress=False)  # the time cap wins over steps
    assert len(capped) < 10**9
    with pytest.raises(ValueError, match="budget"):
        train(model, x0, sched, steps=None, max_seconds=None)


def test_keyboard_interrupt_keeps_the_weights_trained_so_far():
    x0, sched = two_moons(500), Schedule.create("cosine", 100)

    def interrupt_at_5(step: int, loss: float) -> None:
        if step == 5:
            raise KeyboardInterrupt

    model, reference = small_mlp(), small_mlp()
    start = _params(model)
    hist = train(model, x0, sched, steps=1000, seed=2, progress=True, callback=interrupt_at_5)
    train(reference, x0, sched, steps=5, seed=2, progress=False)
    assert len(hist) == 5
    assert not all(torch.equal(a, b) for a, b in zip(start, model.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(reference.parameters(), model.parameters()))


def test_conditional_training_drops_labels_at_the_rate_asked():
    split = digits_split()
    torch.manual_seed(0)
    seen = []

    class Recorder(DigitsUNet):
        def forward(self, x_t, t, y=None):
            seen.append(y)
            return super().forward(x_t, t, y)

    model = Recorder(channels=8)
    hist = train(
        model,
        split.x_train,
        Schedule.create("cosine", 1000),
        y=split.y_train,
        steps=20,
        batch_size=64,
        p_uncond=0.25,
        progress=False,
    )
    labels = torch.cat(seen)
    assert len(hist) == 20 and labels.shape == (20 * 64,)
    assert 0.18 < (labels == NULL_CLASS).float().mean() < 0.32  # 25% dropped, within sampling error
    with pytest.raises(ValueError, match="one label per row"):
        train(model, split.x_train, Schedule.create("cosine", 1000), y=split.y_train[:10], steps=1, progress=False)


def test_drop_labels_is_the_dropout_that_training_applies():
    y, generator = torch.randint(0, 10, (500,), generator=torch.Generator().manual_seed(1)), torch.Generator()
    dropped = drop_labels(y, 0.3, generator.manual_seed(5))
    assert torch.equal(dropped, drop_labels(y, 0.3, torch.Generator().manual_seed(5)))  # seeded
    assert torch.equal(drop_labels(y, 0.0), y) and (drop_labels(y, 1.0) == NULL_CLASS).all()
    with pytest.raises(ValueError, match="probability"):
        drop_labels(y, 1.5)


def test_drop_labels_rate_on_a_seed():
    n, p = 100_000, 0.15
    y = torch.arange(n) % 10
    dropped = drop_labels(y, p, torch.Generator().manual_seed(0))
    is_null = dropped == NULL_CLASS
    rate = is_null.float().mean().item()
    assert abs(rate - p) < 4 * np.sqrt(p * (1 - p) / n)  # within 4 standard errors of p
    assert torch.equal(dropped[~is_null], y[~is_null]), "labels that are not dropped must stay as they were"
    assert dropped.dtype == y.dtype
