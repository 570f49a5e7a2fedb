"""Hidden tests catch wrong-but-plausible answers, including ones that the visible tests let through.

Each mistake is written into the solution and graded with the teacher's command (tests/graded_fixture.py), with an
ungraded copy of its test cell's visible part just before the test: the hidden tests catch it, a mistake marked
`slips` (one the hidden tests are there for) passes that visible copy, and it costs exactly its test cell's points.
"""

from __future__ import annotations

from dataclasses import dataclass

import nbformat
import pytest

from helpers.teach.notebooks import grade_id, solution


@dataclass(frozen=True)
class Mistake:
    module: str
    cell: str  # grade_id of the solution cell the mistake is written into
    right: str
    wrong: str
    test: str  # grade_id of the test cell that must fail
    slips: bool  # True when the visible test alone passes


MISTAKES = [
    Mistake(
        "01_toy_signal",
        "mini_challenge",
        "math.ceil((target_std / step_std) ** 2)",
        "round((target_std / step_std) ** 2)",
        "test_mini_challenge",
        True,
    ),
    Mistake(
        "02_forward_process",
        "mini_challenge",
        "np.cos((t / T + offset) / (1 + offset)",
        "np.cos((t / T + 0.008) / (1 + 0.008)",
        "test_mini_challenge",
        True,
    ),
    Mistake(
        "02_forward_process",
        "your_turn_5",
        "math.acos(math.sqrt(f0 / 2))",
        "math.acos(math.sqrt(1 / 2))",
        "test_your_turn_5",
        False,
    ),
    Mistake(
        "03_training_objective",
        "your_turn_1",
        "torch.randint(1, ts.T + 1, (B,)",
        "torch.randint(0, ts.T, (B,)",
        "test_your_turn_1",
        True,
    ),
    Mistake("03_training_objective", "your_turn_4", "half = dim // 2", "half = 8", "test_your_turn_4", True),
    Mistake(
        "04_sampling",
        "your_turn_5",
        "noise = torch.randn(x_T.shape, generator=generator, dtype=x_T.dtype)",
        "noise = torch.randn_like(x_T)",
        "test_your_turn_5",
        True,
    ),
    Mistake(
        "04_sampling",
        "your_turn_2",
        "coef_x_t = math.sqrt(alpha) * (1 - a_prev)",
        "coef_x_t = alpha * (1 - a_prev)",
        "test_your_turn_2",
        False,
    ),
    Mistake(
        "05_guidance",
        "your_turn_2",
        "torch.rand(B, generator=generator) < p_uncond",
        "torch.rand(B) < p_uncond",
        "test_your_turn_2",
        True,
    ),
    Mistake(
        "05_guidance",
        "your_turn_3",
        "cfg(eps_uncond, eps_cond, scale)",
        "cfg(eps_uncond, eps_cond, scale + 1)",
        "test_your_turn_3",
        False,
    ),
    Mistake(
        "06_stable_diffusion",
        "your_turn_2",
        "eps_uncond + scale * (eps_text - eps_uncond)",
        "eps_uncond + guidance_scale * (eps_text - eps_uncond)",
        "test_your_turn_2",
        True,
    ),
    Mistake("06_stable_diffusion", "your_turn_4", "return int(k) + 1", "return int(k)", "test_your_turn_4", False),
    Mistake(
        "07_flow_matching",
        "your_turn_1",
        "dtau_du = shift / (1 + (shift - 1) * u) ** 2",
        "dtau_du = shift / (1 + (shift - 1) * u)",  # the quotient rule's square forgotten
        "test_your_turn_1",
        False,
    ),
    Mistake(
        "07_flow_matching",
        "your_turn_2",
        "return math.log2(err_n / err_2n)",
        "return round(math.log2(err_n / err_2n))",  # right for the visible test's orders 1 and 2, not in general
        "test_your_turn_2",
        True,
    ),
    Mistake(
        "07_flow_matching",
        "your_turn_2",
        "v_next = v_fn(x_trial, tau_next)",
        "v_next = v_fn(x, tau_next)",
        "test_your_turn_2",
        False,
    ),
    Mistake(
        "07_flow_matching",
        "your_turn_3",
        "eps = x_tau + (1 - tau) * v",
        "eps = x_tau + tau * v",
        "test_your_turn_3",
        False,
    ),
    Mistake("07_flow_matching", "your_turn_3", 'why = "d"', 'why = "a"', "test_your_turn_3", True),
    Mistake("07_flow_matching", "your_turn_4", "predicted_std = 0.0", "predicted_std = 1.0", "test_your_turn_4", True),
    Mistake(
        "08_editing",
        "your_turn_1",
        "return a**0.5 * x_prev + (1 - a) ** 0.5 * noise",
        "return a**0.5 * x_prev + (1 - float(schedule.alpha_bar[t])) ** 0.5 * noise",  # equal from t_prev = 0
        "test_your_turn_1",
        True,
    ),
    Mistake(
        "08_editing",
        "your_turn_1",
        "std_if_wrong = ((a_t / a_prev) * (1 - a_prev) + 1 - a_t) ** 0.5",
        "std_if_wrong = ((1 - a_prev) + 1 - a_t) ** 0.5",  # the inherited variance not scaled by the jump
        "test_your_turn_1",
        True,
    ),
    Mistake(
        "08_editing",
        "your_turn_2",
        "known = q_sample(x0, t_prev, noise, schedule)",
        "known = q_sample(x0, t, noise, schedule)",
        "test_your_turn_2",
        False,
    ),
    Mistake(
        "08_editing",
        "your_turn_2",
        "known = q_sample(x0, t_prev, noise, schedule)",
        "known = q_sample(x0, t_prev, torch.randn_like(x0), schedule)",  # at t_prev = 0 the noise is multiplied by 0
        "test_your_turn_2",
        True,
    ),
    Mistake(
        "08_editing",
        "your_turn_3",
        "ddim_invert_step(x_t, t, t_next, eps_fn(x_next, t_batch), schedule)",
        "ddim_invert_step(x_next, t, t_next, eps_fn(x_next, t_batch), schedule)",  # the visible test: iters = 0
        "test_your_turn_3",
        True,
    ),
    Mistake(
        "08_editing",
        "your_turn_3",
        "eps_fn(x_next, t_batch), schedule)",
        "eps_fn(x_t, t_batch), schedule)",  # the iterations do nothing
        "test_your_turn_3",
        True,
    ),
    Mistake(
        "08_editing",
        "your_turn_4",
        "v = v_fn(x, batch_t(t_next, x.shape[0]))",
        "v = v_fn(x, batch_t(t, x.shape[0]))",  # the visible test's field is constant
        "test_your_turn_4",
        True,
    ),
    Mistake(
        "08_editing",
        "your_turn_4",
        "x = x + (t_next - t) / 1000 * v",
        "x = x + (t_next - t) * v",
        "test_your_turn_4",
        False,
    ),
    Mistake(
        "09_text_to_image",
        "your_turn_1",
        "weights = torch.softmax(q @ k.transpose(-1, -2) / d**0.5, dim=-1)",
        "weights = torch.softmax(q @ k.transpose(-1, -2) / d**0.5, dim=-2)",  # each token's softmax over the pixels
        "test_your_turn_1",
        False,
    ),
    Mistake(
        "09_text_to_image",
        "your_turn_1",
        "weights = torch.softmax(q @ k.transpose(-1, -2) / d**0.5, dim=-1)",
        "weights = torch.softmax(q @ k.transpose(-1, -2), dim=-1)",  # the 1 / sqrt(d) forgotten
        "test_your_turn_1",
        False,
    ),
    Mistake(
        "09_text_to_image",
        "your_turn_2",
        "return 1 / float(z.std())",
        "return float(z.std())",
        "test_your_turn_2",
        False,
    ),
    Mistake(
        "09_text_to_image",
        "your_turn_2",
        "return 1 / float(z.std())",
        "return float(pipe.vae.config.scaling_factor)",  # read, not measured: right for this VAE only
        "test_your_turn_2",
        True,
    ),
    Mistake(
        "09_text_to_image",
        "your_turn_3",
        "predicted_green_share = 0.05",
        "predicted_green_share = 0.9",  # as if the negative prompt changed nothing
        "test_your_turn_3",
        True,
    ),
    Mistake(
        "09_text_to_image",
        "mini_challenge",
        '"num_inference_steps": 10, "guidance_scale": 3.0',
        '"num_inference_steps": 25, "guidance_scale": 3.0',
        "test_mini_challenge",
        False,
    ),
    Mistake("09_text_to_image", "knowledge_check", 'q2 = "c"', 'q2 = "a"', "test_q2", True),
    Mistake(
        "10_diffusion_transformers",
        "your_turn_1",
        "x = x.permute(0, 2, 4, 3, 5, 1)",
        "x = x.permute(0, 2, 4, 1, 3, 5)",  # the channel first inside a patch: the same as diffusers' for one channel
        "test_your_turn_1",
        True,
    ),
    Mistake(
        "10_diffusion_transformers",
        "your_turn_2",
        "return normed * (1 + scale[:, None]) + shift[:, None]",
        "return (normed + shift[:, None]) * (1 + scale[:, None])",  # shifted before it is scaled
        "test_your_turn_2",
        True,
    ),
    Mistake(
        "10_diffusion_transformers", "your_turn_3", 'moved_first = "b"', 'moved_first = "c"', "test_your_turn_3", True
    ),
]


def with_mistake(mistake: Mistake) -> nbformat.NotebookNode:
    """The solution with the mistake written into its cell (tests/graded_fixture.py grades it with nbgrader)."""
    nb = nbformat.read(solution(mistake.module), as_version=4)
    cell = nb.cells[[grade_id(c) for c in nb.cells].index(mistake.cell)]
    assert cell.source.count(mistake.right) == 1, f"{mistake}: the right answer is not in the solution exactly once"
    cell.source = cell.source.replace(mistake.right, mistake.wrong)
    return nb


def _failed(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.module}-{m.cell}-{m.wrong[:24]}")
def test_hidden_tests_catch_the_mistake_and_it_costs_only_its_own_cell(mistake, graded):
    k = [m for m in MISTAKES if m.module == mistake.module].index(mistake)
    result, full = graded[(mistake.module, f"mistake{k}")], graded[(mistake.module, "full")]
    cells = result.notebook().cells
    ids = [grade_id(c) for c in cells]
    before = [ids[i] or i for i in range(ids.index(mistake.cell)) if _failed(cells[i])]
    assert not before, f"{mistake.module}: the solution fails before the mistake, in {before}"
    assert result.cells[mistake.test] < full.cells[mistake.test], f"{mistake.test} passed with {mistake.wrong!r}"
    visible = next(c for c in cells if c.get("id", "").endswith("-visible"))
    assert _failed(visible) != mistake.slips, (
        f"{mistake.module}: the visible test {'failed' if mistake.slips else 'passed'}"
    )
    lost = sorted(g for g in full.cells if result.cells[g] < full.cells[g])
    assert lost == [mistake.test], f"{mistake.module}: {mistake.wrong!r} lost the points of {lost}"
