"""Module 08 (editing): correct answers written differently from the solution."""

_DEMO_1 = """
n = 20_000
g = torch.Generator().manual_seed(0)
x0 = split.x_held_out[:1].expand(n, 1, 8, 8)
x_prev = q_sample(x0, 300, torch.randn(n, 1, 8, 8, generator=g), schedule)
jumped = renoise(x_prev, 300, 600, torch.randn(n, 1, 8, 8, generator=g))
print(f"std of x_600 after the jump {jumped.std(0).mean():.3f}; the colleague's, predicted {std_if_wrong:.3f}")
"""

_DEMO_2 = """
print("your step:", kept_pixels(inpaint_step))
"""

_DEMO_3 = """
xs, ys = split.x_held_out[:50], split.y_held_out[:50]
eps_own = lambda x, t: model(x, t, ys)
with torch.no_grad():
    for iters in (0, 2):
        timesteps = make_timesteps(schedule.T, 20, "leading")
        x_T = fixed_point_invert(eps_own, xs, timesteps, iters)
        back = ddim_sample(eps_own, xs.shape, schedule, timesteps=timesteps, x_T=x_T, clip=False, progress=False)
        print(f"20 steps, {iters} iterations: round-trip RMS error {((back - xs) ** 2).mean().sqrt():.4f}")
"""

_FLOW_DOWN = """
def flow_down(v_fn, x, ts):
    for t, t_prev in zip(ts[::-1], ts[::-1][1:]):
        x = euler_flow_step(x, v_fn(x, batch_t(t, x.shape[0])), t / 1000, t_prev / 1000)
    return x
"""

_DEMO_4 = """
xs, ys = split.x_held_out[:50], split.y_held_out[:50]
v_own = lambda x, t: flow(x, t, ys)
ts = [k * 50 for k in range(21)]
with torch.no_grad():
    back = flow_down(v_own, flow_invert(v_own, xs, ts), ts)
print(f"the flow's round trip, 20 steps each way: RMS error {((back - xs) ** 2).mean().sqrt():.4f}")
"""

_MINI_DEMO = """
edited = three_to_eight(threes, torch.Generator().manual_seed(0))
print(f"successful edits: {success_rate(threes, edited):.2f} (the bar is 0.70)")
"""

ALTERNATIVES = {
    "numpy scalars, another but equal formula, my own loops": {
        "your_turn_1": """
import numpy as np


def renoise(x_prev, t_prev, t, noise):
    ratio = np.float64(schedule.alpha_bar[t]) / np.float64(schedule.alpha_bar[t_prev])
    return float(np.sqrt(ratio)) * x_prev + float(np.sqrt(1.0 - ratio)) * noise


t_prev, t = 300, 600
ab = schedule.alpha_bar  # a numpy array
# the inherited noise, scaled by the jump, plus the colleague's own: variances add
std_if_wrong = np.sqrt(ab[t] / ab[t_prev] * (1 - ab[t_prev]) + (1 - ab[t]))  # a numpy float64
"""
        + _DEMO_1,
        "your_turn_2": """
def inpaint_step(x_t, x0, mask, t, t_prev, eps_fn, noise):
    eps = eps_fn(x_t, torch.full((x_t.shape[0],), t))
    x_prev = ddim_step(x_t, t, t_prev, eps, schedule)
    a = float(schedule.alpha_bar[t_prev])
    known = a**0.5 * x0 + (1 - a) ** 0.5 * noise  # q_sample written out
    return torch.where(mask.bool(), x_prev, known)
"""
        + _DEMO_2,
        "your_turn_3": """
def fixed_point_invert(eps_fn, x0, timesteps, iters):
    ab = schedule.alpha_bar
    x, t = x0, 0
    for t_next in sorted(timesteps):
        # ddim_invert_step with x0_hat substituted: one coefficient for x_t, one for eps
        c_x = float((ab[t_next] / ab[t]) ** 0.5)
        c_eps = float((1 - ab[t_next]) ** 0.5 - (ab[t_next] * (1 - ab[t]) / ab[t]) ** 0.5)
        t_batch = torch.full((x0.shape[0],), t_next)
        x_next = c_x * x + c_eps * eps_fn(x, t_batch)
        for _ in range(iters):
            x_next = c_x * x + c_eps * eps_fn(x_next, t_batch)
        x, t = x_next, t_next
    return x
"""
        + _DEMO_3,
        "your_turn_4": _FLOW_DOWN
        + """

def flow_invert(v_fn, x0, ts):
    x = x0
    for k in range(len(ts) - 1):
        # the sampler's Euler step, run from ts[k] up to ts[k + 1]
        x = euler_flow_step(x, v_fn(x, torch.full((x.shape[0],), ts[k + 1])), ts[k] / 1000, ts[k + 1] / 1000)
    return x
"""
        + _DEMO_4,
        "mini_challenge": '''
def three_to_eight(x, generator):
    """My own inversion (iters = 0: the lesson's), then one guided run per scale; per image the strongest close one."""
    timesteps = make_timesteps(1000, 20, "leading")[10:]  # the last half of 20 steps: strength 0.5
    x_t = fixed_point_invert(guided_eps_fn(model, 3, 1.0), x, timesteps, 0)
    best = None
    for scale in (2.0, 2.5, 3.0, 4.0):
        eight = clip_consistent_eps_fn(guided_eps_fn(model, 8, scale), schedule)
        edit = ddim_sample(eight, x.shape, schedule, timesteps=timesteps, x_T=x_t, progress=False)
        close = distance(x, edit) <= 0.44
        best = edit if best is None else torch.where(close[:, None, None, None], edit, best)
    return best
'''
        + _MINI_DEMO,
        "knowledge_check": """
q1, q2, q3 = 'b', 'd', 'a'
""",
    },
    "torch tensors, float64, the colleague's paste kept": {
        "your_turn_1": """
def renoise(x_prev, t_prev, t, noise):
    ab = torch.as_tensor(schedule.alpha_bar, dtype=torch.float64)
    a = ab[t] / ab[t_prev]  # a 0-d tensor
    return (a.sqrt() * x_prev.double() + (1 - a).sqrt() * noise.double()).to(x_prev.dtype)


t_prev, t = 300, 600
a_prev, a_t = float(schedule.alpha_bar[t_prev]), float(schedule.alpha_bar[t])
variance = (a_t / a_prev) * (1 - a_prev) + (1 - a_t)
std_if_wrong = torch.tensor(variance).sqrt()  # a 0-d float32 tensor
"""
        + _DEMO_1,
        "your_turn_2": """
def inpaint_step(x_t, x0, mask, t, t_prev, eps_fn, noise):
    x_t = mask * x_t + (1 - mask) * q_sample(x0, t, noise, schedule)  # the colleague's paste at t, kept
    x_prev = ddim_step(x_t, t, t_prev, eps_fn(x_t, batch_t(t, len(x_t))), schedule)
    return mask * x_prev + (1 - mask) * q_sample(x0, t_prev, noise, schedule)  # and the last word at t_prev
"""
        + _DEMO_2,
        "your_turn_3": """
def fixed_point_invert(eps_fn, x0, timesteps, iters):
    up = [0] + list(timesteps)[::-1]
    x = x0
    for t, t_next in zip(up, up[1:]):
        t_batch = batch_t(t_next, x.shape[0])
        guess = x  # the first pass is the lesson's step: the noise at the point we start from
        for _ in range(iters + 1):
            guess = ddim_invert_step(x, t, t_next, eps_fn(guess, t_batch), schedule)
        x = guess
    return x
"""
        + _DEMO_3,
        "your_turn_4": _FLOW_DOWN
        + """

def flow_invert(v_fn, x0, ts):
    taus = torch.tensor(ts, dtype=torch.float64) / 1000
    x = x0
    for i, t_next in enumerate(ts[1:], start=1):
        v = v_fn(x, torch.tensor([t_next] * x.shape[0]))
        x = x + float(taus[i] - taus[i - 1]) * v
    return x
"""
        + _DEMO_4,
        "mini_challenge": '''
def three_to_eight(x, generator):
    """The flow: my own flow_invert under the label 3 to tau = 0.4, back down towards 8 at four scales."""
    ts = list(range(0, 401, 50))
    with torch.no_grad():
        x_tau = flow_invert(guided_eps_fn(flow, 3, 1.0), x, ts)
        best = None
        for scale in (3.0, 4.0, 5.0, 6.0):
            edit = flow_down(guided_eps_fn(flow, 8, scale), x_tau, ts)
            best = edit if best is None else torch.where((distance(x, edit) <= 0.44).view(-1, 1, 1, 1), edit, best)
    return best
'''
        + _MINI_DEMO,
        "knowledge_check": """
q1, q2, q3 = "bda"
""",
    },
}
