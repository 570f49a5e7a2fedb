"""Correct answers to solutions/02_forward_process written differently from the solution."""

ALTERNATIVES = {
    "another but equal formula, numpy scalars": {
        "your_turn_1": """
T = 1000
beta_start, beta_end = 1e-4, 0.02

gap = (beta_end - beta_start) / (T - 1)  # the even step between neighbours
betas = beta_start + gap * np.arange(T)
beta = np.r_[0.0, betas]
print(f"beta has shape {beta.shape}: beta_0 = {beta[0]}, beta_1 = {beta[1]}, beta_500 = {beta[500]:.5f}, beta_1000 = {beta[1000]:.5f}")
""",
        "your_turn_2": """
alpha = np.subtract(1.0, beta)
# a running product is the exponential of a running sum of logs
alpha_bar = np.exp(np.cumsum(np.log(alpha)))
print(f"alpha_bar_0 = {alpha_bar[0]}, alpha_bar_250 = {alpha_bar[250]:.4f}, alpha_bar_1000 = {alpha_bar[1000]:.2e}")
""",
        "your_turn_3": '''
def q_sample(x0, t, eps, alpha_bar):
    """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps."""
    signal_var, noise_var = alpha_bar[t], 1 - alpha_bar[t]
    return x0 * signal_var**0.5 + eps * noise_var**0.5

rng = np.random.default_rng(0)
x0 = np.array([0.9, -0.6, 0.3])
eps = rng.standard_normal(x0.shape)
x_500 = q_sample(x0, 500, eps, alpha_bar)
print("x_0   =", np.round(q_sample(x0, 0, eps, alpha_bar), 4))
print("x_500 =", np.round(x_500, 4))
''',
        "your_turn_4": """
with np.errstate(divide="ignore"):
    # alpha_bar / (1 - alpha_bar) = 1 / (1 / alpha_bar - 1)
    snr = 1 / (1 / alpha_bar - 1)
t_cross = np.argmax(snr < 1)  # np.int64
print(f"SNR_0 = {snr[0]}, SNR_1 = {snr[1]:.1f}")
print(f"SNR falls below 1 at t = {t_cross}: SNR_{t_cross - 1} = {snr[t_cross - 1]:.4f}, SNR_{t_cross} = {snr[t_cross]:.4f}")
""",
        "your_turn_5": '''
from helpers.schedules import Schedule


def predict_crossing(T, offset=0.008):
    """alpha_bar = 1/2 where cos(angle_t) = cos(angle_0) / sqrt(2)."""
    angle_0 = offset / (1 + offset) * np.pi / 2
    angle_t = np.arccos(np.cos(angle_0) / np.sqrt(2))
    return T * (angle_t / (np.pi / 2) * (1 + offset) - offset)  # np.float64


t_star = predict_crossing(1000)
print(f"predicted crossing t* = {t_star:.2f}, so SNR < 1 from t = {math.ceil(t_star)} on")
cosine = Schedule.create("cosine", 1000)
t_cross_cos = np.argmax(cosine.snr < 1)  # np.int64
print(f"measured: SNR falls below 1 at t = {t_cross_cos}")
''',
        "mini_challenge": '''
def cosine_betas(T, offset=0.008):
    """beta_t = min(1 - f(t) / f(t - 1), 0.999), with beta_0 = 0 in front."""
    f = lambda u: np.cos((u + offset) / (1 + offset) * np.pi / 2) ** 2
    steps = np.arange(T)
    betas = np.clip(1 - f((steps + 1) / T) / f(steps / T), None, 0.999)
    return np.concatenate([[0.0], betas])

beta_cos = cosine_betas(1000)
alpha_bar_cos = np.cumprod(1 - beta_cos)
n_floor = np.sum(alpha_bar_cos[1:] < 0.01)  # np.int64
print(f"beta_cos has shape {beta_cos.shape}: beta_1 = {beta_cos[1]:.6f}, beta_500 = {beta_cos[500]:.6f}, beta_1000 = {beta_cos[1000]:.3f}")
print(f"alpha_bar_cos < 0.01 at {n_floor} of 1000 steps")
''',
        "knowledge_check": """
q1, q2, q3 = 'b', 'a', 'd'
""",
    },
    "float32, torch and loops": {
        "your_turn_1": """
T = 1000
beta_start, beta_end = 1e-4, 0.02

betas = np.linspace(beta_start, beta_end, T, dtype=np.float32)  # float32, as diffusers stores betas
beta = np.concatenate([np.zeros(1, dtype=np.float32), betas])
print(f"beta has shape {beta.shape}: beta_0 = {beta[0]}, beta_1 = {beta[1]:.4g}, beta_500 = {beta[500]:.5f}, beta_1000 = {beta[1000]:.4g}")
""",
        "your_turn_2": """
alpha = 1.0 - beta
alpha_bar = np.empty_like(alpha)
running = 1.0
for t in range(len(alpha)):
    running = running * alpha[t]
    alpha_bar[t] = running
print(f"alpha_bar_0 = {alpha_bar[0]}, alpha_bar_250 = {alpha_bar[250]:.4f}, alpha_bar_1000 = {alpha_bar[1000]:.2e}")
""",
        "your_turn_3": '''
import torch


def q_sample(x0, t, eps, alpha_bar):
    """The closed form in torch: x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps."""
    x0, eps = torch.as_tensor(x0), torch.as_tensor(eps)
    a = torch.as_tensor(alpha_bar)[t]
    return a.sqrt() * x0 + (1 - a).sqrt() * eps

rng = np.random.default_rng(0)
x0 = np.array([0.9, -0.6, 0.3])
eps = rng.standard_normal(x0.shape)
x_500 = q_sample(x0, 500, eps, alpha_bar)
print("x_0   =", q_sample(x0, 0, eps, alpha_bar).numpy().round(4))
print("x_500 =", x_500.numpy().round(4))
''',
        "your_turn_4": """
with np.errstate(divide="ignore"):
    snr = np.array([a / (1 - a) for a in alpha_bar])
# snr falls with t: the first t below 1 is the number of t at or above 1
t_cross = (snr >= 1).sum()
print(f"SNR_0 = {snr[0]}, SNR_1 = {snr[1]:.1f}")
print(f"SNR falls below 1 at t = {t_cross}: SNR_{t_cross - 1} = {snr[t_cross - 1]:.4f}, SNR_{t_cross} = {snr[t_cross]:.4f}")
""",
        "your_turn_5": '''
from helpers.schedules import Schedule


def predict_crossing(T, offset=0.008):
    """Bisection on the real t where the cosine alpha_bar falls to 1/2."""
    f = lambda t: math.cos((t / T + offset) / (1 + offset) * math.pi / 2) ** 2
    lo, hi = 0.0, float(T)
    for _ in range(100):
        mid = (lo + hi) / 2
        if f(mid) / f(0) > 0.5:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


t_star = predict_crossing(1000)
print(f"predicted crossing t* = {t_star:.2f}, so SNR < 1 from t = {math.ceil(t_star)} on")
cosine = Schedule.create("cosine", 1000)
t_cross_cos = (cosine.snr >= 1).sum()
print(f"measured: SNR falls below 1 at t = {t_cross_cos}")
''',
        "mini_challenge": '''
def cosine_betas(T, offset=0.008):
    """Cosine schedule, one t at a time, as float32."""
    f = lambda t: math.cos((t / T + offset) / (1 + offset) * math.pi / 2) ** 2
    beta = [0.0]
    for t in range(1, T + 1):
        beta.append(min(1 - (f(t) / f(0)) / (f(t - 1) / f(0)), 0.999))
    return np.array(beta, dtype=np.float32)

beta_cos = cosine_betas(1000)
alpha_bar_cos = np.cumprod(1 - beta_cos)  # float32
n_floor = sum(1 for a in alpha_bar_cos[1:] if a < 0.01)
print(f"beta_cos has shape {beta_cos.shape}: beta_1 = {beta_cos[1]:.6f}, beta_500 = {beta_cos[500]:.6f}, beta_1000 = {beta_cos[1000]:.3f}")
print(f"alpha_bar_cos < 0.01 at {n_floor} of 1000 steps")
''',
        "knowledge_check": """
q1, q2, q3 = "bad"
""",
    },
}
