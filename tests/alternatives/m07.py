"""Module 07 (flow matching): correct answers written differently from the solution."""

_DEMO_1 = """
x0, eps = torch.tensor([1.0, -0.5, 0.25]), torch.tensor([-0.5, 1.0, 0.75])
h = 1e-3
finite = (shifted_path(x0, eps, 0.3 + h, 3.0) - shifted_path(x0, eps, 0.3 - h, 3.0)) / (2 * h)
print("shifted_velocity at u = 0.3, s = 3:", shifted_velocity(x0, eps, 0.3, 3.0))
"""

_PATH_1 = """
def shifted_tau(u, shift):
    return shift * u / (1 + (shift - 1) * u)


def shifted_path(x0, eps, u, shift):
    tau = shifted_tau(u, shift)
    return (1 - tau) * x0 + tau * eps
"""

_GIVEN_2 = '''
def euler_step(v_fn, x, tau, tau_next):
    return x + (tau_next - tau) * v_fn(x, tau)


def solve(step, v_fn, x1, n):
    """n equal steps of `step` from tau = 1 down to tau = 0."""
    x = x1
    for i in range(n):
        x = step(v_fn, x, 1 - i / n, 1 - (i + 1) / n)
    return x
'''

_DEMO_2 = """
x1 = torch.tensor([1.0, -2.0], dtype=torch.float64)
print(observed_order(heun_step, lambda x, tau: math.cos(2 * tau) * x, x1, x1 * math.exp(-math.sin(2) / 2)))
"""

_EXACT = """
def exact_velocity(x: torch.Tensor, tau: float, mu: float = 2.0, s: float = 0.5) -> torch.Tensor:
    var = (1 - tau) ** 2 * s**2 + tau**2  # Var(x_tau)
    r = x - (1 - tau) * mu  # x_tau minus its mean
    x0_hat = mu + (1 - tau) * s**2 * r / var  # E[x0 | x_tau]
    eps_hat = tau * r / var  # E[eps | x_tau]
    return eps_hat - x0_hat
"""

ALTERNATIVES = {
    "another but equal formula, numpy scalars": {
        "your_turn_1": _PATH_1
        + """
def shifted_velocity(x0, eps, u, shift):
    # tau = 1 - 1 / (1 + (s - 1) u) * (1 - u) ... written as the derivative of s u / (1 + (s - 1) u) by the quotient rule
    denominator = 1 + (shift - 1) * u
    dtau_du = (shift * denominator - shift * u * (shift - 1)) / denominator**2
    return dtau_du * eps - dtau_du * x0
"""
        + _DEMO_1,
        "your_turn_2": _GIVEN_2
        + """
import numpy as np


def observed_order(step, v_fn, x1, x0_exact, n=16):
    errors = [np.max(np.abs((solve(step, v_fn, x1, k) - x0_exact).numpy())) for k in (n, 2 * n)]
    return np.log(errors[0] / errors[1]) / np.log(2)  # a numpy float


def heun_step(v_fn, x, tau, tau_next):
    v = v_fn(x, tau)
    x_trial = x + (tau_next - tau) * v
    # the average of the Euler step's end and one more Euler step from the trial point
    return 0.5 * (x + x_trial + (tau_next - tau) * v_fn(x_trial, tau_next))
"""
        + _DEMO_2,
        "your_turn_3": """
import numpy as np


def cfg(uncond, cond, w):
    return uncond + w * (cond - uncond)


def x0_eps_from_velocity(x_tau, tau, v):
    eps = x_tau + v - tau * v
    return eps - v, eps  # x0 = eps - v


g = torch.Generator().manual_seed(0)
x_tau, v_uncond, v_cond = (torch.randn(1000, 2, generator=g) for _ in range(3))
tau, w = 0.3, 4.0
(x0_u, eps_u), (x0_c, eps_c) = x0_eps_from_velocity(x_tau, tau, v_uncond), x0_eps_from_velocity(x_tau, tau, v_cond)
x0_g, eps_g = x0_eps_from_velocity(x_tau, tau, cfg(v_uncond, v_cond, w))
gap_eps = np.float32((eps_g - cfg(eps_u, eps_c, w)).abs().max())
clip = lambda x0: torch.clip(x0, -1, 1)
gap_clipped = np.abs((clip(x0_g) - cfg(clip(x0_u), clip(x0_c), w)).numpy()).max()
why = 'd'
print(gap_eps, gap_clipped)
""",
        "your_turn_4": _EXACT
        + """
import numpy as np

predicted_mean, predicted_std = np.float32(2), np.float32(0)
""",
        "mini_challenge": """
import copy

import numpy as np

from helpers.flow import flow_path, flow_sample, velocity_target
from helpers.models import MLPDenoiser

moons = two_moons(4000, seed=0)
torch.manual_seed(1)
rng = np.random.default_rng(1)


def fit(model, x0s, lr, pairs=None, steps=2000):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for step in range(steps):
        idx = torch.from_numpy(rng.integers(0, len(x0s), 256))
        noise = torch.from_numpy(rng.standard_normal((256, 2)).astype(np.float32)) if pairs is None else pairs[idx]
        t = torch.from_numpy(rng.integers(1, 1001, 256))
        x_tau = flow_path(x0s[idx], noise, (t.float() / 1000).unsqueeze(1))
        loss = ((model(x_tau, t) - velocity_target(x0s[idx], noise)) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()


first = fit(MLPDenoiser(), moons, 2e-3)
noise = torch.from_numpy(rng.standard_normal((4000, 2)).astype(np.float32))
ends = flow_sample(first, (4000, 2), num_steps=32, x_T=noise)  # Euler, finer, instead of Heun
challenge_model = fit(copy.deepcopy(first).train(), ends, 1e-3, pairs=noise)
""",
        "knowledge_check": """
q1, q2, q3 = 'a', 'c', 'b'
""",
    },
    "numpy instead of torch, a helper of my own": {
        "your_turn_1": """
import numpy as np
"""
        + _PATH_1
        + """

def shifted_velocity(x0, eps, u, shift):
    speed = shift / np.square(1 + (shift - 1) * u)  # d tau / d u
    return torch.from_numpy(speed * np.subtract(np.asarray(eps), np.asarray(x0)))
"""
        + _DEMO_1,
        "your_turn_2": _GIVEN_2
        + """
def error_with(step, v_fn, x1, x0_exact, n):
    return (solve(step, v_fn, x1, n) - x0_exact).abs().max()


def observed_order(step, v_fn, x1, x0_exact, n=16):
    ratio = error_with(step, v_fn, x1, x0_exact, n) / error_with(step, v_fn, x1, x0_exact, 2 * n)
    return torch.log2(ratio)  # a 0-d tensor


def heun_step(v_fn, x, tau, tau_next):
    h = tau_next - tau
    k1 = v_fn(x, tau)
    k2 = v_fn(x + h * k1, tau_next)
    return x + h / 2 * k1 + h / 2 * k2
"""
        + _DEMO_2,
        "your_turn_3": """
def cfg(uncond, cond, w):
    return (1 - w) * uncond + w * cond


def x0_eps_from_velocity(x_tau, tau, v):
    x0 = torch.sub(x_tau, tau * v)
    return (x0, x0 + v)


g = torch.Generator().manual_seed(0)
x_tau, v_uncond, v_cond = (torch.randn(1000, 2, generator=g) for _ in range(3))
tau, w = 0.3, 4.0
converted = {name: x0_eps_from_velocity(x_tau, tau, v) for name, v in (("u", v_uncond), ("c", v_cond), ("g", cfg(v_uncond, v_cond, w)))}
gap_eps = torch.max(torch.abs(converted["g"][1] - cfg(converted["u"][1], converted["c"][1], w)))  # 0-d tensor
clipped = {name: pair[0].clamp(min=-1, max=1) for name, pair in converted.items()}
gap_clipped = torch.max(torch.abs(clipped["g"] - cfg(clipped["u"], clipped["c"], w))).item()
why = "d"
""",
        "your_turn_4": _EXACT
        + """
predicted_mean = 2
predicted_std = 0
print(predicted_mean, predicted_std)
""",
        "mini_challenge": """
import copy

from torch.nn import functional as F

from helpers.flow import flow_path, flow_sample, velocity_target
from helpers.models import MLPDenoiser

moons = two_moons(4000, seed=0)
torch.manual_seed(2)
g = torch.Generator().manual_seed(2)


def train_step(model, optimizer, x0s, noise=None, batch_size=256):
    idx = torch.randint(0, len(x0s), (batch_size,), generator=g)
    eps_b = torch.randn(batch_size, 2, generator=g) if noise is None else noise[idx]
    t = torch.randint(1, 1001, (batch_size,), generator=g)
    x_tau = flow_path(x0s[idx], eps_b, t[:, None] / 1000)
    loss = F.mse_loss(model(x_tau, t), velocity_target(x0s[idx], eps_b))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


first = MLPDenoiser()
opt = torch.optim.Adam(first.parameters(), lr=2e-3)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 2500)
for _ in range(2500):
    train_step(first, opt, moons)
    sched.step()
first.eval()
noise = torch.randn(4000, 2, generator=g)
with torch.no_grad():
    ends = flow_sample(first, (4000, 2), num_steps=25, solver="heun", x_T=noise)
challenge_model = copy.deepcopy(first).train()
opt = torch.optim.Adam(challenge_model.parameters(), lr=1e-3)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 2500)
for _ in range(2500):
    train_step(challenge_model, opt, ends, noise)
    sched.step()
challenge_model.eval()
""",
        "knowledge_check": """
q1, q2, q3 = "acb"
""",
    },
}
