"""Module 10 (diffusion transformers): correct answers written differently from the solution."""

_DEMO_1 = """
digits = split.x_train[:2]
tokens = my_patchify(digits, 2)
print("tokens:", tuple(tokens.shape), torch.equal(my_unpatchify(tokens, 2, 1, 8, 8), digits))
"""

_DEMO_2 = """
from helpers.dit.model import modulate

g = torch.Generator().manual_seed(0)
x, shift, scale = torch.randn(2, 5, 8, generator=g), torch.randn(2, 8, generator=g), torch.randn(2, 8, generator=g)
zero = torch.zeros(2, 8)
print((my_modulate(x, shift, scale) - modulate(x, shift, scale)).abs().max())
"""

_CHALLENGE = """
from helpers.dit.model import DiTConfig
from helpers.dit.train import RECIPE, draw_digits, train_flow
from helpers.dit.variants import build_dit
from helpers.metrics import class_accuracy, digits_kernel_distance

{model}
torch.manual_seed(0)
trained, run = train_flow(challenge_model, split.x_train, split.y_train, steps=100, seed=0, progress=False,
                          **challenge_recipe)
drawn, labels = draw_digits(trained, n=300, seed=1)
accuracy = class_accuracy(drawn, labels)
kid, kid_se = digits_kernel_distance(drawn, seed=1)
print(accuracy, kid)
"""

ALTERNATIVES = {
    "unfold and loops instead of reshape and permute, numpy scalars": {
        "your_turn_1": """
def my_patchify(x, p):
    B, C, H, W = x.shape
    patches = x.unfold(2, p, p).unfold(3, p, p)  # (B, C, H/p, W/p, p, p)
    return patches.permute(0, 2, 3, 4, 5, 1).reshape(B, -1, p * p * C)


def my_unpatchify(tokens, p, channels, height, width):
    out = torch.empty(tokens.shape[0], channels, height, width, dtype=tokens.dtype)
    per_row = width // p
    for index in range(tokens.shape[1]):
        i, j = divmod(index, per_row)
        patch = tokens[:, index].reshape(-1, p, p, channels).permute(0, 3, 1, 2)
        out[:, :, i * p : (i + 1) * p, j * p : (j + 1) * p] = patch
    return out
"""
        + _DEMO_1,
        "your_turn_2": """
def my_modulate(x, shift, scale):
    mean = x.mean(dim=-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    normed = (x - mean) / torch.sqrt(variance + 1e-6)
    return normed + normed * scale.unsqueeze(1) + shift.unsqueeze(1)
"""
        + _DEMO_2,
        "your_turn_3": """
import numpy as np

predicted_change = np.float32(0)
moved_first = "b"
""",
        "mini_challenge": _CHALLENGE.format(
            model="import numpy as np\nchallenge_model = build_dit(DiTConfig(patch=4))\n"
            'challenge_recipe = {"ema_decay": np.float64(0.8), "lr": np.float32(3e-3)}'
        ),
        "knowledge_check": """
answers = "cad"
q1, q2, q3 = answers[0], answers[1], answers[2]
""",
    },
    "einsum and torch's LayerNorm module": {
        "your_turn_1": """
def my_patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    B, C, H, W = x.shape
    grid = x.reshape(B, C, H // p, p, W // p, p)
    return torch.einsum("bcipjq->bijpqc", grid).reshape(B, (H // p) * (W // p), p * p * C)


def my_unpatchify(tokens, p, channels, height, width):
    grid = tokens.reshape(len(tokens), height // p, width // p, p, p, channels)
    return torch.einsum("bijpqc->bcipjq", grid).reshape(len(tokens), channels, height, width)
"""
        + _DEMO_1,
        "your_turn_2": """
def my_modulate(x, shift, scale):
    norm = torch.nn.LayerNorm(x.shape[-1], eps=1e-6, elementwise_affine=False).to(x.dtype)
    return torch.addcmul(shift[:, None, :], norm(x), 1 + scale[:, None, :])
"""
        + _DEMO_2,
        "your_turn_3": """
predicted_change = 0  # every gate starts at zero
moved_first = "B".lower()
""",
        "mini_challenge": _CHALLENGE.format(
            model="challenge_model = DiT(dim=64, heads=4, layers=4, patch=4)\n"
            "challenge_recipe = dict(ema_decay=0.85, batch_size=128)"
        ),
        "knowledge_check": """
q1 = 'c'
q2 = 'a'
q3 = str("d")
""",
    },
}
