"""Correct answers to solutions/03_training_objective written differently from the solution."""

ALTERNATIVES = {
    "another but equal formula": {
        "your_turn_1": '''
def training_pair(x0, ts, generator):
    """(x_t, t, eps) with t ~ U{1..T}: drawn as 0..T-1, then shifted by one."""
    batch = len(x0)
    t = torch.randint(0, ts.T, (batch,), generator=generator) + 1
    eps = torch.randn(*x0.shape, generator=generator)
    shape = [batch] + [1] * (x0.dim() - 1)
    x_t = x0 * ts.sqrt_alpha_bar[t].reshape(shape) + eps * ts.sqrt_one_minus_alpha_bar[t].reshape(shape)
    return x_t, t, eps

x_t, t, eps = training_pair(data[:4], ts, torch.Generator().manual_seed(0))
print("t   =", t.tolist())
print("x_t =", [[round(v, 4) for v in row] for row in x_t.tolist()])
''',
        "your_turn_2": '''
from torch.nn import functional as F


def simple_loss(model, x_t, t, eps):
    """Mean squared error between the true and the predicted noise."""
    return F.mse_loss(model(x_t, t), eps)

torch.manual_seed(0)
model = MLPDenoiser(hidden=64, depth=2)  # a small, untrained noise predictor
x_t, t, eps = training_pair(data[:256], ts, torch.Generator().manual_seed(0))
loss = simple_loss(model, x_t, t, eps)
print(f"loss of the untrained model: {loss.item():.4f}")
''',
        "your_turn_3": '''
def train_step(model, optimizer, x0, ts, generator):
    """One step of Algorithm 1; the loss before the step, as a float."""
    pair = training_pair(x0, ts, generator)
    loss = simple_loss(model, *pair)
    optimizer.zero_grad(set_to_none=False)
    loss.backward()
    optimizer.step()
    return float(loss.detach())

torch.manual_seed(0)
model = MLPDenoiser(hidden=64, depth=2)
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
generator = torch.Generator().manual_seed(0)
batch = data[:256]
losses = [train_step(model, optimizer, batch, ts, generator) for _ in range(100)]
print(f"the first step's loss {losses[0]:.4f}; mean of the last 10 steps {sum(losses[-10:]) / 10:.4f}")
''',
        "your_turn_4": '''
import math

def time_embedding(t, dim):
    """Sines then cosines of t times half frequencies from 1 down to 1e-4, computed in float64."""
    half = dim // 2
    omega = torch.logspace(0, -4, half, dtype=torch.float64)  # 10 ** 0 ... 10 ** -4, geometric
    angles = torch.outer(t.to(torch.float64), omega)  # (B, half)
    return torch.cat([angles.sin(), angles.cos()], dim=-1).to(torch.float32)

e = time_embedding(torch.tensor([0, 1]), 16)
omega = torch.atan2(e[1, :8], e[1, 8:])  # at t = 1 the angle is the frequency itself
print(f"omega_0 = {omega[0]:.1f}, omega_1 = {omega[1]:.4f}, omega_7 = {omega[7]:.4f}")
print(f"e(0)[:3] = {[round(v, 4) for v in e[0, :3].tolist()]}, e(0)[8:11] = {[round(v, 4) for v in e[0, 8:11].tolist()]}")
print(f"e(1)[:3] = {[round(v, 4) for v in e[1, :3].tolist()]}")
''',
        "your_turn_5": '''
def fixed_pair(x0, ts, generator):
    """The same draws as the classmate's, and the forward process of Your Turn 1."""
    return training_pair(x0, ts, generator)

for c, v in variance_near(fixed_pair).items():
    print(f"t near {c}: Var(x_t) = {v:.3f}")
''',
        "mini_challenge": '''
def my_train(model, x0, ts, steps, lr, seed, batch_size=128):
    """Adam on the simple loss; every draw from one seeded generator."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator()
    gen.manual_seed(seed)
    history = []
    while len(history) < steps:
        rows = torch.randint(0, x0.shape[0], (batch_size,), generator=gen)
        history.append(float(train_step(model, optimizer, x0[rows], ts, gen)))
    return history

torch.manual_seed(0)
small = MLPDenoiser(hidden=64, depth=2)
history = my_train(small, data, ts, steps=300, lr=2e-3, seed=0)
print(f"{len(history)} losses; mean of the first 20 {sum(history[:20]) / 20:.4f}, of the last 20 {sum(history[-20:]) / 20:.4f}")
''',
        "knowledge_check": """
q1, q2, q3 = 'c', 'a', 'b'
""",
    },
    "loops, numpy 0-d results and float32 cancellation": {
        "your_turn_1": '''
def training_pair(x0, ts, generator):
    """t ~ U{1..T}, then eps, then x_t row by row from alpha_bar itself."""
    B = x0.shape[0]
    t = torch.randint(ts.T, (B,), generator=generator) + 1  # randint(high, size): 0..T-1
    eps = torch.randn(x0.size(), generator=generator)
    rows = []
    for i in range(B):
        a = ts.alpha_bar[t[i]]
        rows.append(a.sqrt() * x0[i] + (1 - a).sqrt() * eps[i])
    return torch.stack(rows), t, eps

x_t, t, eps = training_pair(data[:4], ts, torch.Generator().manual_seed(0))
print("t   =", t.tolist())
print("x_t =", [[round(v, 4) for v in row] for row in x_t.tolist()])
''',
        "your_turn_2": '''
def simple_loss(model, x_t, t, eps):
    """Sum of squared errors over the number of entries."""
    err = model(x_t, t) - eps
    return torch.sum(err * err) / err.numel()

torch.manual_seed(0)
model = MLPDenoiser(hidden=64, depth=2)  # a small, untrained noise predictor
x_t, t, eps = training_pair(data[:256], ts, torch.Generator().manual_seed(0))
loss = simple_loss(model, x_t, t, eps)
print(f"loss of the untrained model: {loss.item():.4f}")
''',
        "your_turn_3": '''
def train_step(model, optimizer, x0, ts, generator):
    """One step; returns the loss as a 0-d numpy array."""
    x_t, t, eps = training_pair(x0, ts, generator)
    loss = simple_loss(model, x_t, t, eps)
    for p in model.parameters():
        p.grad = None
    loss.backward()
    optimizer.step()
    return loss.detach().numpy()

torch.manual_seed(0)
model = MLPDenoiser(hidden=64, depth=2)
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
generator = torch.Generator().manual_seed(0)
batch = data[:256]
losses = [train_step(model, optimizer, batch, ts, generator) for _ in range(100)]
print(f"the first step's loss {losses[0]:.4f}; mean of the last 10 steps {sum(losses[-10:]) / 10:.4f}")
''',
        "your_turn_4": '''
import math

def time_embedding(t, dim):
    """omega_k = r ** k with r = (1 / 10000) ** (1 / (half - 1)), built by a loop."""
    half = dim // 2
    ratio = (1 / 10000) ** (1 / (half - 1))
    omega = torch.tensor([ratio**k for k in range(half)])  # float32
    angles = t.float().unsqueeze(1) * omega.unsqueeze(0)
    return torch.cat((torch.sin(angles), torch.cos(angles)), 1)

e = time_embedding(torch.tensor([0, 1]), 16)
omega = torch.atan2(e[1, :8], e[1, 8:])  # at t = 1 the angle is the frequency itself
print(f"omega_0 = {omega[0]:.1f}, omega_1 = {omega[1]:.4f}, omega_7 = {omega[7]:.4f}")
print(f"e(0)[:3] = {[round(v, 4) for v in e[0, :3].tolist()]}, e(0)[8:11] = {[round(v, 4) for v in e[0, 8:11].tolist()]}")
print(f"e(1)[:3] = {[round(v, 4) for v in e[1, :3].tolist()]}")
''',
        "your_turn_5": '''
def fixed_pair(x0: torch.Tensor, ts, generator: torch.Generator):
    """The classmate's pair with the noise factor sqrt(1 - alpha_bar)."""
    B = x0.shape[0]
    t = torch.randint(1, ts.T + 1, (B,), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    a = ts.alpha_bar[t].view((-1,) + (1,) * (x0.ndim - 1))
    x_t = torch.sqrt(a) * x0 + (1 - a) ** 0.5 * eps
    return x_t, t, eps

for c, v in variance_near(fixed_pair).items():
    print(f"t near {c}: Var(x_t) = {v:.3f}")
''',
        "mini_challenge": '''
def my_train(model, x0, ts, steps, lr, seed, batch_size=128):
    """Adam on the simple loss with a seeded generator; a list of each step's loss."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return [train_step(model, optimizer, x0[torch.randint(0, len(x0), (batch_size,), generator=generator)], ts, generator)
            for _ in range(steps)]

torch.manual_seed(0)
small = MLPDenoiser(hidden=64, depth=2)
history = my_train(small, data, ts, steps=300, lr=2e-3, seed=0)
print(f"{len(history)} losses; mean of the first 20 {sum(history[:20]) / 20:.4f}, of the last 20 {sum(history[-20:]) / 20:.4f}")
''',
        "knowledge_check": """
q1 = 'c'
q2 = 'a'
q3 = 'b'
""",
    },
}

ALTERNATIVES["int32 timesteps, numpy float32 losses and a tuple"] = {
    "your_turn_1": '''
def training_pair(x0, ts, generator):
    """Timesteps as int32 (an index like any other), then the noise, then x_t through the helper q_sample."""
    from helpers.schedules import q_sample as course_q_sample

    t = torch.randint(1, ts.T + 1, (x0.shape[0],), generator=generator, dtype=torch.int32)
    eps = torch.randn(x0.shape, generator=generator)
    return course_q_sample(x0, t, eps, ts), t, eps

x_t, t, eps = training_pair(data[:4], ts, torch.Generator().manual_seed(0))
print("t   =", t.tolist())
print("x_t =", [[round(v, 4) for v in row] for row in x_t.tolist()])
''',
    "your_turn_3": """
import numpy as np


def train_step(model, optimizer, x0, ts, generator):
    \"\"\"One step of Algorithm 1; the loss as a numpy float32.\"\"\"
    x_t, t, eps = training_pair(x0, ts, generator)
    loss = simple_loss(model, x_t, t, eps)
    model.zero_grad()
    loss.backward()
    optimizer.step()
    return np.float32(loss.item())

torch.manual_seed(0)
model = MLPDenoiser(hidden=64, depth=2)
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
generator = torch.Generator().manual_seed(0)
batch = data[:256]
losses = [train_step(model, optimizer, batch, ts, generator) for _ in range(100)]
print(f"the first step's loss {losses[0]:.4f}; mean of the last 10 steps {sum(losses[-10:]) / 10:.4f}")
""",
    "mini_challenge": '''
def my_train(model, x0, ts, steps, lr, seed, batch_size=128):
    """Adam on the simple loss; the losses as a tuple."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = ()
    for _ in range(steps):
        rows = torch.randint(0, len(x0), (batch_size,), generator=generator)
        losses += (train_step(model, optimizer, x0[rows], ts, generator),)
    return losses

torch.manual_seed(0)
small = MLPDenoiser(hidden=64, depth=2)
history = my_train(small, data, ts, steps=300, lr=2e-3, seed=0)
print(f"{len(history)} losses; mean of the first 20 {sum(history[:20]) / 20:.4f}, of the last 20 {sum(history[-20:]) / 20:.4f}")
''',
}
