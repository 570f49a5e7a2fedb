"""Correct answers to solutions/04_sampling written differently from the solution."""

ALTERNATIVES = {
    "numpy scalars and another but equal formula": {
        "your_turn_1": '''
def predict_x0(x_t, t, eps, alpha_bar):
    """x0_hat = x_t / sqrt(a) - sqrt(1 / a - 1) eps, the same formula with the division spread out."""
    a = alpha_bar[t]  # np.float64
    return x_t / np.sqrt(a) - np.sqrt(1 / a - 1) * eps

x0 = torch.tensor([0.9, -0.6, 0.3])
eps = torch.tensor([0.5, 1.2, -0.8])
x_t = math.sqrt(alpha_bar[600]) * x0 + math.sqrt(1 - alpha_bar[600]) * eps
x0_hat = predict_x0(x_t, 600, eps, alpha_bar)
print("x_t    =", x_t.numpy().round(4))
print("x0_hat =", x0_hat.numpy().round(4))
''',
        "your_turn_2": '''
def posterior_coefficients(t, t_prev, alpha_bar):
    """Eq. 7's two factors, as numpy floats, with beta = (a_prev - a) / a_prev."""
    a, a_prev = alpha_bar[t], alpha_bar[t_prev]
    coef_x0 = np.sqrt(a_prev) * (a_prev - a) / (a_prev * (1 - a))
    coef_x_t = np.sqrt(a / a_prev) * (1 - a_prev) / (1 - a)
    return coef_x0, coef_x_t

def posterior_mean(x0_hat, x_t, t, t_prev, alpha_bar):
    """mu_tilde(x_t, x0_hat)."""
    c0, ct = posterior_coefficients(t, t_prev, alpha_bar)
    return x_t * ct + x0_hat * c0

for t, t_prev in [(1, 0), (500, 499)]:
    coef_x0, coef_x_t = posterior_coefficients(t, t_prev, alpha_bar)
    print(f"t = {t} -> {t_prev}:".ljust(16) + f"coef_x0 = {coef_x0:.4f}, coef_x_t = {coef_x_t:.4f}")
''',
        "your_turn_3": '''
def ddim_step_eta0(x_t, t, t_prev, eps, alpha_bar):
    """The clean guess moved to the noise level of t_prev."""
    x0_hat = predict_x0(x_t, t, eps, alpha_bar)
    a_prev = alpha_bar[t_prev]
    return a_prev**0.5 * x0_hat + (1 - a_prev) ** 0.5 * eps

x_prev = ddim_step_eta0(x_t, 600, 580, eps, alpha_bar)
print("x_t    =", x_t.numpy().round(4))
print("x_prev =", x_prev.numpy().round(4))
''',
        "your_turn_4": '''
def ddim_sigma(t, t_prev, eta, alpha_bar):
    """eta times the two square roots of eq. 16, as a numpy float."""
    a, a_prev = alpha_bar[t], alpha_bar[t_prev]
    return eta * np.sqrt((1 - a_prev) / (1 - a)) * np.sqrt(1 - a / a_prev)

def ddim_step(x_t, t, t_prev, eps, eta, noise, alpha_bar):
    """Eq. 12 of DDIM with fresh noise sigma z."""
    sigma = ddim_sigma(t, t_prev, eta, alpha_bar)
    a_prev = alpha_bar[t_prev]
    x0_hat = predict_x0(x_t, t, eps, alpha_bar)
    return x0_hat * np.sqrt(a_prev) + eps * np.sqrt(1 - a_prev - sigma**2) + noise * sigma

print("sigma at t = 600 -> 580:", ", ".join(f"eta = {eta:g}: {ddim_sigma(600, 580, eta, alpha_bar):.4f}" for eta in (0, 0.5, 1)))
noise = torch.tensor([0.3, 0.7, -0.5])
print("x_prev (eta = 1) =", ddim_step(x_t, 600, 580, eps, 1.0, noise, alpha_bar).numpy().round(4))
''',
        "mini_challenge": '''
def my_ddim_sample(eps_fn, x_T, schedule, timesteps):
    """Deterministic DDIM with clipped x0_hat, stepping through `timesteps` and then to 0."""
    steps = list(timesteps)
    x = x_T.clone()
    for i, t in enumerate(steps):
        t_prev = steps[i + 1] if i + 1 < len(steps) else 0
        eps = eps_fn(x, torch.full((len(x),), t, dtype=torch.long))
        x0_hat = torch.clamp(predict_x0(x, t, eps, schedule.alpha_bar), -1.0, 1.0)
        x = np.sqrt(schedule.alpha_bar[t_prev]) * x0_hat + np.sqrt(1 - schedule.alpha_bar[t_prev]) * eps
    return x
''',
        "your_turn_5": '''
def fixed_ddpm_sample(eps_fn, x_T, schedule, generator):
    """DDPM with one fresh noise per step, all T of them drawn up front in the same order."""
    noises = [torch.randn(x_T.shape, generator=generator, dtype=x_T.dtype) for _ in range(schedule.T)]
    x_t = x_T
    for noise, t in zip(noises, range(schedule.T, 0, -1)):
        x_t = ddpm_step(x_t, t, t - 1, eps_fn(x_t, t), schedule, noise=noise, clip=False)
    return x_t

fixed = fixed_ddpm_sample(exact_eps, x_T, schedule, torch.Generator().manual_seed(1))
print(f"fixed samples: std {fixed.std():.3f}; the data's: {C}")
''',
        "knowledge_check": """
q1, q2, q3 = 'b', 'c', 'd'
""",
    },
    "torch scalars and a float32 schedule": {
        "your_turn_1": '''
def predict_x0(x_t, t, eps, alpha_bar):
    """The same formula on a float32 tensor copy of alpha_bar, as a model in float32 would use it."""
    a = torch.as_tensor(alpha_bar, dtype=torch.float32)[t]
    return (x_t - torch.sqrt(1 - a) * eps) / torch.sqrt(a)

x0 = torch.tensor([0.9, -0.6, 0.3])
eps = torch.tensor([0.5, 1.2, -0.8])
x_t = math.sqrt(alpha_bar[600]) * x0 + math.sqrt(1 - alpha_bar[600]) * eps
x0_hat = predict_x0(x_t, 600, eps, alpha_bar)
print("x_t    =", x_t.numpy().round(4))
print("x0_hat =", x0_hat.numpy().round(4))
''',
        "your_turn_2": '''
def posterior_coefficients(t, t_prev, alpha_bar):
    """Eq. 7's factors as 0-d float32 tensors."""
    ab = torch.as_tensor(alpha_bar, dtype=torch.float32)
    a, a_prev = ab[t], ab[t_prev]
    alpha = a / a_prev
    coef_x0 = a_prev.sqrt() * (1 - alpha) / (1 - a)
    coef_x_t = alpha.sqrt() * (1 - a_prev) / (1 - a)
    return coef_x0, coef_x_t

def posterior_mean(x0_hat, x_t, t, t_prev, alpha_bar):
    """mu_tilde(x_t, x0_hat)."""
    coef_x0, coef_x_t = posterior_coefficients(t, t_prev, alpha_bar)
    return torch.add(coef_x0 * x0_hat, coef_x_t * x_t)

for t, t_prev in [(1, 0), (500, 499)]:
    coef_x0, coef_x_t = posterior_coefficients(t, t_prev, alpha_bar)
    print(f"t = {t} -> {t_prev}:".ljust(16) + f"coef_x0 = {coef_x0:.4f}, coef_x_t = {coef_x_t:.4f}")
''',
        "your_turn_3": '''
def ddim_step_eta0(x_t, t, t_prev, eps, alpha_bar):
    """Song et al. eq. 12 with sigma = 0, via a float32 alpha_bar."""
    a_prev = torch.as_tensor(alpha_bar, dtype=torch.float32)[t_prev]
    return torch.sqrt(a_prev) * predict_x0(x_t, t, eps, alpha_bar) + torch.sqrt(1 - a_prev) * eps

x_prev = ddim_step_eta0(x_t, 600, 580, eps, alpha_bar)
print("x_t    =", x_t.numpy().round(4))
print("x_prev =", x_prev.numpy().round(4))
''',
        "your_turn_4": '''
def ddim_sigma(t, t_prev, eta, alpha_bar):
    """sigma of DDIM eq. 16 as a 0-d float32 tensor."""
    ab = torch.as_tensor(alpha_bar, dtype=torch.float32)
    a, a_prev = ab[t], ab[t_prev]
    return eta * torch.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))

def ddim_step(x_t, t, t_prev, eps, eta, noise, alpha_bar):
    """DDIM eq. 12: the clean guess, the predicted noise and sigma z."""
    a_prev = torch.as_tensor(alpha_bar, dtype=torch.float32)[t_prev]
    sigma = ddim_sigma(t, t_prev, eta, alpha_bar)
    direction = torch.sqrt(1 - a_prev - sigma**2) * eps
    return torch.sqrt(a_prev) * predict_x0(x_t, t, eps, alpha_bar) + direction + sigma * noise

print("sigma at t = 600 -> 580:", ", ".join(f"eta = {eta:g}: {float(ddim_sigma(600, 580, eta, alpha_bar)):.4f}" for eta in (0, 0.5, 1)))
noise = torch.tensor([0.3, 0.7, -0.5])
print("x_prev (eta = 1) =", ddim_step(x_t, 600, 580, eps, 1.0, noise, alpha_bar).numpy().round(4))
''',
        "mini_challenge": '''
def my_ddim_sample(eps_fn, x_T, schedule, timesteps):
    """DDIM (eta = 0) with clipped x0_hat, the schedule as float32 tensors."""
    ab = torch.as_tensor(schedule.alpha_bar, dtype=torch.float32)
    x_t = x_T
    ts_ = list(timesteps) + [0]
    for t, t_prev in zip(ts_[:-1], ts_[1:]):
        eps = eps_fn(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long))
        x0_hat = predict_x0(x_t, t, eps, schedule.alpha_bar).clamp(-1, 1)
        x_t = ab[t_prev].sqrt() * x0_hat + (1 - ab[t_prev]).sqrt() * eps
    return x_t
''',
        "your_turn_5": '''
def fixed_ddpm_sample(eps_fn, x_T, schedule, generator):
    """DDPM, all T steps, a fresh draw at each."""
    x = x_T.clone()
    t = schedule.T
    while t > 0:
        eps = eps_fn(x, t)
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = ddpm_step(x, t, t - 1, eps, schedule, noise=z, clip=False)
        t -= 1
    return x

fixed = fixed_ddpm_sample(exact_eps, x_T, schedule, torch.Generator().manual_seed(1))
print(f"fixed samples: std {fixed.std():.3f}; the data's: {C}")
''',
        "knowledge_check": """
q1 = 'b'
q2 = "abcd"[2]
q3 = 'd'
""",
    },
}
