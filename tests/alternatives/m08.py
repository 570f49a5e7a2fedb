"""Module 08 (editing): correct answers written differently from the solution."""

_DEMO_1 = """
for strength in (0.3, 0.75, 1.0):
    print(f"strength {strength}:", strength_timesteps(make_timesteps(1000, 10), strength))
"""

_DEMO_2 = """
x0 = split.x_held_out[:8]  # (8, 1, 8, 8)
mask = torch.zeros(1, 1, 8, 8)
mask[..., 4:, :] = 1  # generate the bottom half
g = torch.Generator().manual_seed(0)
x_generated, eps = torch.randn(x0.shape, generator=g), torch.randn(x0.shape, generator=g)
keep = (1 - mask).bool().expand_as(x0)
print("kept pixels at t_prev = 0 exact:", torch.equal(merge_step(x_generated, x0, mask, 0, eps)[keep], x0[keep]))
"""

_DEMO_3 = """
xs, ys = split.x_held_out[:5], split.y_held_out[:5]
timesteps = make_timesteps(1000, 50, "leading")  # 981, 961, ..., 1
eps_fn = lambda x, t: model(x, t, ys)  # the conditional prediction, no guidance
x, t = xs, 0
with torch.no_grad():
    for t_next in reversed(timesteps):
        x = invert_step(x, t, t_next, eps_fn(x, torch.full((5,), t_next)))
        t = t_next
back = ddim_sample(eps_fn, xs.shape, schedule, timesteps=timesteps, x_T=x, clip=False, progress=False)
print(f"reconstruction RMS error after the round trip: {((back - xs) ** 2).mean(dim=(1, 2, 3)).sqrt().mean():.4f}")
"""

_DEMO_4 = """
def any_digit_but(k: int, scale: float):
    def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        B = x_t.shape[0]
        labels = torch.cat([torch.full((B,), NULL_CLASS), torch.full((B,), k)])  # condition, then the negative
        eps_cond, eps_neg = model(torch.cat([x_t, x_t]), torch.cat([t, t]), labels).chunk(2)
        return negative_guided_eps(eps_cond, eps_neg, scale)
    return eps_fn


x_T = torch.randn(200, 1, 8, 8, generator=torch.Generator().manual_seed(0))
digits = ddim_sample(any_digit_but(1, 2.0), x_T.shape, schedule, 25, x_T=x_T, progress=False)
print(f"share of 1s, negative label 1 at scale 2: {(classifier.predict(digits) == 1).float().mean():.3f}")
"""

_MINI_DEMO = """
edited = three_to_eight(three, torch.Generator().manual_seed(0))
print(f"successful tries: {success_rate(three, edited):.2f} (the bar is 0.90)")
"""

ALTERNATIVES = {
    "another but equal formula, a tuple, my own functions": {
        "your_turn_1": """
import math


def strength_timesteps(timesteps, strength):
    n = len(timesteps)
    kept = min(math.floor(n * strength), n)
    return tuple(timesteps[n - kept :])
"""
        + _DEMO_1,
        "your_turn_2": """
def merge_step(x_generated, x0, mask, t_prev, eps):
    a = float(schedule.alpha_bar[t_prev])
    x_known = a**0.5 * x0 + (1 - a) ** 0.5 * eps  # q_sample written out
    return x_known + mask * (x_generated - x_known)
"""
        + _DEMO_2,
        "your_turn_3": """
def invert_step(x_t, t, t_next, eps):
    a_t, a_next = float(schedule.alpha_bar[t]), float(schedule.alpha_bar[t_next])
    # x0_hat substituted into the re-noising: one coefficient for x_t, one for eps
    return (a_next / a_t) ** 0.5 * x_t + ((1 - a_next) ** 0.5 - (a_next * (1 - a_t) / a_t) ** 0.5) * eps
"""
        + _DEMO_3,
        "your_turn_4": """
def negative_guided_eps(eps_cond, eps_neg, scale):
    return (1 - scale) * eps_neg + scale * eps_cond
"""
        + _DEMO_4,
        "mini_challenge": '''
def three_to_eight(x, generator):
    """Inversion by hand with my own invert_step and strength_timesteps, then guided DDIM back."""
    timesteps = list(strength_timesteps(make_timesteps(1000, 50, "leading"), 0.5))
    as_three = guided_eps_fn(model, 3, 1.0)
    x_t, t = x, 0
    with torch.no_grad():
        for t_next in reversed(timesteps):
            x_t = invert_step(x_t, t, t_next, as_three(x_t, torch.full((x.shape[0],), t_next)))
            t = t_next
    eight = clip_consistent_eps_fn(guided_eps_fn(model, 8, 2.0), schedule)
    return ddim_sample(eight, x.shape, schedule, timesteps=timesteps, x_T=x_t, progress=False)
'''
        + _MINI_DEMO,
        "knowledge_check": """
q1, q2, q3 = 'b', 'd', 'a'
""",
    },
    "numpy instead of torch, loops": {
        "your_turn_1": """
import numpy as np


def strength_timesteps(timesteps, strength):
    n = len(timesteps)
    kept = 0
    while kept < n and kept + 1 <= n * strength:
        kept += 1
    return np.asarray(timesteps)[n - kept :]
"""
        + _DEMO_1,
        "your_turn_2": """
def merge_step(x_generated, x0, mask, t_prev, eps):
    x_known = q_sample(x0, t_prev, eps, schedule)
    return torch.where(mask.bool(), x_generated, x_known)
"""
        + _DEMO_2,
        "your_turn_3": """
import numpy as np


def invert_step(x_t, t, t_next, eps):
    x0_hat = predict_x0(x_t, t, eps, schedule).numpy()
    a_next = schedule.alpha_bar[t_next]  # a numpy float64
    return torch.from_numpy(np.sqrt(a_next) * x0_hat + np.sqrt(1 - a_next) * eps.numpy()).to(x_t.dtype)
"""
        + _DEMO_3,
        "your_turn_4": """
def negative_guided_eps(eps_cond, eps_neg, scale):
    return torch.lerp(eps_neg, eps_cond, scale)
"""
        + _DEMO_4,
        "mini_challenge": '''
def three_to_eight(x, generator):
    """Invert halfway without a label, then sample back guided towards 8."""
    x_t, timesteps = ddim_invert(guided_eps_fn(model, NULL_CLASS, 1.0), x, schedule, 50, strength=0.5)
    eight = clip_consistent_eps_fn(guided_eps_fn(model, 8, 2.0), schedule)
    return ddim_sample(eight, tuple(x.shape), schedule, timesteps=timesteps, x_T=x_t, progress=False)
'''
        + _MINI_DEMO,
        "knowledge_check": """
q1, q2, q3 = "bda"
""",
    },
}
