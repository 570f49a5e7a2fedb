"""Module 07 (flow matching): correct answers written differently from the solution."""

_DEMO_1 = """
x0, eps = torch.tensor([1.0, -0.5, 0.25]), torch.tensor([-0.5, 1.0, 0.75])
h = 1e-3
finite = (flow_path(x0, eps, 0.3 + h) - flow_path(x0, eps, 0.3 - h)) / (2 * h)
print("velocity_target:", velocity_target(x0, eps).numpy())
"""

_DEMO_2 = """
decay = lambda x, tau: -x  # dx/dtau = -x
print(heun_step(decay, torch.tensor([1.0, -2.0], dtype=torch.float64), 1.0, 0.9))
"""

_DEMO_3 = """
x0_3, eps_3 = torch.tensor([0.25, 0.75]), torch.tensor([0.75, -1.0])
x_tau_3 = flow_path(x0_3, eps_3, 0.4)
print(velocity_from_eps(x_tau_3, 0.4, eps_3), eps_from_velocity(x_tau_3, 0.4, velocity_from_eps(x_tau_3, 0.4, eps_3)))
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
        "your_turn_1": """
def flow_path(x0: torch.Tensor, eps: torch.Tensor, tau: float) -> torch.Tensor:
    return (1 - tau) * x0 + tau * eps


def velocity_target(x0, eps):
    # the path is straight: its velocity is its end minus its start
    return flow_path(x0, eps, 1.0) - flow_path(x0, eps, 0.0)
"""
        + _DEMO_1,
        "your_turn_2": """
def heun_step(v_fn, x, tau, tau_next):
    v = v_fn(x, tau)
    x_trial = x + (tau_next - tau) * v
    # the average of the Euler step's end and one more Euler step from the trial point
    return 0.5 * (x + x_trial + (tau_next - tau) * v_fn(x_trial, tau_next))
"""
        + _DEMO_2,
        "your_turn_3": """
def velocity_from_eps(x_tau, tau, eps):
    return (eps - x_tau) / (1 - tau)


def eps_from_velocity(x_tau, tau, v):
    return x_tau + v - tau * v
"""
        + _DEMO_3,
        "your_turn_4": _EXACT
        + """
import numpy as np

predicted_mean, predicted_std = np.float32(2), np.float32(0)
measured = {}
for n in (1, 2, 4, 16, 256):
    x = torch.randn(100_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    for i in range(n):
        tau, tau_next = 1 - i / n, 1 - (i + 1) / n
        x = x - (tau - tau_next) * exact_velocity(x, tau)
    measured[n] = (np.mean(x), np.std(x))  # numpy's std divides by n, torch's by n - 1
    print(n, measured[n])
""",
        "mini_challenge": """
import time

import numpy as np

from helpers.flow import flow_path, velocity_target
from helpers.flow import flow_sample
from helpers.models import MLPDenoiser

moons = two_moons(4000, seed=0)
torch.manual_seed(1)
challenge_model = MLPDenoiser()
optimizer = torch.optim.Adam(challenge_model.parameters(), lr=2e-3)
rng = np.random.default_rng(1)
start = time.perf_counter()
steps = 2000
for step in range(steps):
    x0_b = moons[torch.from_numpy(rng.integers(0, len(moons), 256))]
    eps_b = torch.from_numpy(rng.standard_normal((256, 2)).astype(np.float32))
    t = torch.from_numpy(rng.integers(1, 1001, 256))
    x_tau = flow_path(x0_b, eps_b, (t.float() / 1000).unsqueeze(1))
    loss = ((challenge_model(x_tau, t) - velocity_target(x0_b, eps_b)) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
challenge_model.eval()
print(f"trained {steps} steps in {time.perf_counter() - start:.1f} s")
""",
        "knowledge_check": """
q1, q2, q3 = 'a', 'c', 'b'
""",
    },
    "numpy instead of torch, a helper of my own": {
        "your_turn_1": """
import numpy as np


def flow_path(x0: torch.Tensor, eps: torch.Tensor, tau: float) -> torch.Tensor:
    return (1 - tau) * x0 + tau * eps


def velocity_target(x0, eps):
    return torch.from_numpy(np.subtract(np.asarray(eps), np.asarray(x0)))
"""
        + _DEMO_1,
        "your_turn_2": """
def heun_step(v_fn, x, tau, tau_next):
    h = tau_next - tau
    k1 = v_fn(x, tau)
    k2 = v_fn(x + h * k1, tau_next)
    return x + h / 2 * k1 + h / 2 * k2
"""
        + _DEMO_2,
        "your_turn_3": """
def velocity_from_eps(x_tau, tau, eps):
    x0 = torch.div(x_tau - tau * eps, 1 - tau)
    return eps - x0


def eps_from_velocity(x_tau, tau, v):
    x0 = x_tau - tau * v  # one Euler step to tau = 0
    return x0 + v
"""
        + _DEMO_3,
        "your_turn_4": _EXACT
        + """
predicted_mean = 2
predicted_std = 0
measured = {}
for n in (1, 2, 4, 16, 256):
    x = torch.randn(100_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    taus = torch.linspace(1, 0, n + 1, dtype=torch.float64)
    for tau, tau_next in zip(taus[:-1].tolist(), taus[1:].tolist()):
        x = x + (tau_next - tau) * exact_velocity(x, tau)
    measured[n] = (x.mean(), x.std())  # 0-d tensors
    print(f"{n:3d} steps: mean {measured[n][0]:.4f}, std {measured[n][1]:.4f}")
""",
        "mini_challenge": """
import time

from torch.nn import functional as F

from helpers.flow import flow_sample
from helpers.models import MLPDenoiser

moons = two_moons(4000, seed=0)
torch.manual_seed(2)
challenge_model = MLPDenoiser()
optimizer = torch.optim.Adam(challenge_model.parameters(), lr=2e-3)
g = torch.Generator().manual_seed(2)


def train_step(batch_size=256):
    x0_b = moons[torch.randint(0, len(moons), (batch_size,), generator=g)]
    eps_b = torch.randn(x0_b.shape, generator=g)
    t = torch.randint(1, 1001, (batch_size,), generator=g)
    x_tau = flow_path(x0_b, eps_b, t[:, None] / 1000)
    loss = F.mse_loss(challenge_model(x_tau, t), velocity_target(x0_b, eps_b))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


start = time.perf_counter()
losses = [train_step() for _ in range(2000)]
challenge_model.eval()
print(f"trained in {time.perf_counter() - start:.1f} s, last loss {losses[-1]:.3f}")
""",
        "knowledge_check": """
q1, q2, q3 = "acb"
""",
    },
}
