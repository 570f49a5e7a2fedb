"""Module 05 (classifier-free guidance): correct answers written differently from the solution."""

_DEMO_1 = """
eps_u, eps_c = torch.tensor([0.2, -0.4]), torch.tensor([0.5, 0.1])
for s in (0, 1, 3):
    print(f"s = {s}: {[round(v, 3) for v in cfg(eps_u, eps_c, s).tolist()]}")
"""

_DEMO_2 = """
split = digits_split()
x0, y = split.x_train[:256], split.y_train[:256]
loss, y_in = training_loss(model, x0, y, 0.15, torch.Generator().manual_seed(0))
print(f"loss {loss.item():.4f}; {int((y_in == NULL_CLASS).sum())} of 256 labels dropped")
"""

_DEMO_3 = """
print("your step:", ", ".join(f"accuracy at s = {s}: {accuracy_of(guided_step, s):.2f}" for s in (0, 1, 3)))
y_demo = torch.arange(10)
x = torch.randn((10, 1, 8, 8), generator=torch.Generator().manual_seed(0))  # x_T
for t, t_prev in zip(timesteps, timesteps[1:] + [0]):
    x = guided_step(model, x, t, t_prev, y_demo, 3.0)
print("the classifier reads:", digits_classifier().predict(x).tolist())
"""

ALTERNATIVES = {
    "another but equal formula, numpy and tensor scalars": {
        "your_turn_1": '''
def cfg(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, scale: float) -> torch.Tensor:
    """(1 - s) eps_u + s eps_c: the same line through eps_u and eps_c."""
    return (1 - scale) * eps_uncond + scale * eps_cond
'''
        + _DEMO_1,
        "your_turn_2": """
def training_loss(model, x0, y, p_uncond, generator):
    B = x0.shape[0]
    t = torch.randint(1, schedule.T + 1, (B,), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    x_t = q_sample(x0, t, eps, schedule)
    u = torch.rand(B, generator=generator)
    y_in = y.masked_fill(p_uncond > u, NULL_CLASS)
    loss = ((model(x_t, t, y_in) - eps) ** 2).mean()
    return loss, y_in
"""
        + _DEMO_2,
        "your_turn_3": '''
def guided_step(model, x_t, t, t_prev, y, scale):
    """Two forward passes instead of one batched pass."""
    t_batch = torch.full((x_t.shape[0],), t)
    with torch.no_grad():
        eps_cond = model(x_t, t_batch, y)
        eps_uncond = model(x_t, t_batch, torch.full_like(y, NULL_CLASS))
    eps_hat = clip_consistent_eps(x_t, t, cfg(eps_uncond, eps_cond, scale), schedule)
    return ddim_step(x_t, t, t_prev, eps_hat, schedule)
'''
        + _DEMO_3,
        "mini_challenge": """
import numpy as np

acc = []
for s in SCALES:
    x = guided_samples(model, schedule, y_challenge, s, 10, seed=0)
    acc.append(np.float32((digits_classifier().predict(x) == y_challenge).float().mean()))
accuracies = dict(zip(SCALES, acc))
best_scale = torch.tensor(SCALES)[torch.tensor(acc) >= TARGET][0]  # a 0-d tensor
print(f"smallest scale with accuracy >= {TARGET}: {best_scale}")
""",
        "knowledge_check": """
q1, q2, q3 = 'b', 'c', 'd'
""",
    },
    "numpy instead of torch, a helper of my own": {
        "your_turn_1": """
import numpy as np


def cfg(eps_uncond, eps_cond, scale):
    u, c = np.asarray(eps_uncond), np.asarray(eps_cond)
    return torch.from_numpy(u + scale * (c - u))
"""
        + _DEMO_1,
        "your_turn_2": """
import numpy as np


def training_loss(model, x0, y, p_uncond, generator):
    B = x0.shape[0]
    t = torch.randint(1, schedule.T + 1, (B,), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    x_t = q_sample(x0, t, eps, schedule)
    drop = torch.rand(B, generator=generator).numpy() < p_uncond
    y_in = torch.from_numpy(np.where(drop, NULL_CLASS, y.numpy()))
    return F.mse_loss(model(x_t, t, y_in), eps), y_in
"""
        + _DEMO_2,
        "your_turn_3": '''
def both_predictions(model, x_t, t, y):
    """(eps_uncond, eps_cond) from one pass, the unconditional half first."""
    B = x_t.shape[0]
    labels = torch.cat([torch.full_like(y, NULL_CLASS), y])
    with torch.no_grad():
        eps = model(torch.cat([x_t, x_t]), torch.full((2 * B,), t), labels)
    return eps[:B], eps[B:]


def guided_step(model, x_t, t, t_prev, y, scale):
    eps_uncond, eps_cond = both_predictions(model, x_t, t, y)
    eps_hat = torch.lerp(eps_uncond, eps_cond, float(scale))
    return ddim_step(x_t, t, t_prev, clip_consistent_eps(x_t, t, eps_hat, schedule), schedule)
'''
        + _DEMO_3,
        "mini_challenge": """
import numpy as np
from helpers.guidance import guidance_sweep

samples = guidance_sweep(model, schedule, y_challenge, SCALES, 10, seed=0)
accuracies = {s: class_accuracy(samples[s], y_challenge) for s in SCALES}
reached = np.array([accuracies[s] for s in SCALES]) >= TARGET
best_scale = SCALES[int(np.argmax(reached))]
print(best_scale)
""",
        "knowledge_check": """
q1, q2, q3 = "bcd"
""",
    },
    "loops instead of vectorised code, accuracy as a fraction": {
        "your_turn_1": """
def cfg(eps_uncond, eps_cond, scale):
    rows = [u + scale * (c - u) for u, c in zip(eps_uncond, eps_cond)]
    return torch.stack(rows)
"""
        + _DEMO_1,
        "your_turn_2": """
def training_loss(model, x0, y, p_uncond, generator):
    B = x0.shape[0]
    t = torch.randint(1, schedule.T + 1, (B,), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    x_t = q_sample(x0, t, eps, schedule)
    u = torch.rand(B, generator=generator)
    y_in = y.clone()
    for i in range(B):
        if u[i] < p_uncond:
            y_in[i] = NULL_CLASS
    return F.mse_loss(model(x_t, t, y_in), eps), y_in
"""
        + _DEMO_2,
        "mini_challenge": """
accuracies = {}
for s in SCALES:
    x = guided_samples(model, schedule, y_challenge, s, 10, seed=0)
    accuracies[s] = int((digits_classifier().predict(x) == y_challenge).sum()) / len(y_challenge)  # exact k / 100
    if accuracies[s] >= TARGET:
        best_scale = s
        break
print(best_scale, accuracies)
""",
        "knowledge_check": """
q1 = 'b'; q2 = 'c'; q3 = 'd'
""",
    },
}
