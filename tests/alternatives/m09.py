"""Module 09 (text to image): correct answers written differently from the solution."""

_DEMO_1 = """
attn = pipe.unet.down_blocks[1].attentions[0].transformer_blocks[0].attn2
g = torch.Generator().manual_seed(0)
pixels, text = torch.randn(2, 16, attn.to_q.in_features, generator=g), torch.randn(2, 12, attn.to_k.in_features, generator=g)
with torch.no_grad():
    ours, weights = my_cross_attention(attn, pixels, text)
    theirs = attn(pixels, encoder_hidden_states=text)
print(torch.allclose(ours, theirs, atol=1e-5))
"""

_DEMO_2 = """
images = torch.from_numpy(scenes.make_scenes(500, seed=5)[0])
factor = scaling_factor(pipe.vae, images, torch.Generator().manual_seed(0))
print(factor)
"""

_HELPER_MINI = '''
def held_out_accuracy(settings, prompts, asked):
    """The share of pictures with every attribute right, drawn with ``settings``."""
    pipe.scheduler = parts.build_scheduler(settings["scheduler"])
    pictures = twin.generate(pipe, prompts, seed=0, num_inference_steps=settings["num_inference_steps"],
                             guidance_scale=settings["guidance_scale"], negative_prompt=settings["negative_prompt"])
    return measure.score_one_shape(pictures.numpy(), asked)["all"]


try_prompts, try_asked = measure.prompts(100, seed=100, split="held_out")
'''

ALTERNATIVES = {
    "einsum and an explicit exponential, numpy scalars": {
        "your_turn_1": """
def my_cross_attention(attn, hidden_states, context):
    heads = attn.heads
    q, k, v = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)
    B, N, C = q.shape
    d = C // heads
    q = q.reshape(B, N, heads, d)
    k = k.reshape(B, -1, heads, d)
    v = v.reshape(B, -1, heads, d)
    scores = torch.einsum("bnhd,bmhd->bhnm", q, k) * (1.0 / np.sqrt(d))
    scores = scores - scores.max(dim=-1, keepdim=True).values  # a stable softmax, written out
    weights = scores.exp() / scores.exp().sum(dim=-1, keepdim=True)
    out = torch.einsum("bhnm,bmhd->bnhd", weights, v).reshape(B, N, C)
    return attn.to_out[1](attn.to_out[0](out)), weights
"""
        + _DEMO_1,
        "your_turn_2": """
def scaling_factor(vae, images, generator):
    with torch.no_grad():
        dist = vae.encode(images).latent_dist
        noise = torch.randn(dist.mean.shape, generator=generator)
        latents = dist.mean + dist.std * noise
    return np.float64(1.0) / latents.double().std().item()  # a numpy float
"""
        + _DEMO_2,
        "your_turn_3": """
predicted_green_share = np.float64(0.02)  # a numpy number, close to none
""",
        "mini_challenge": _HELPER_MINI
        + """
settings = dict(scheduler="DPMSolverMultistepScheduler", num_inference_steps=np.int64(10), guidance_scale=np.float64(4.0),
                negative_prompt=None)
print(held_out_accuracy(settings, try_prompts, try_asked))
""",
        "knowledge_check": """
q1, q2, q3 = "b", "c", "d"
""",
    },
    "loops over the heads, the posterior's own sample, a float prediction": {
        "your_turn_1": """
def my_cross_attention(attn, hidden_states, context):
    q_all, k_all, v_all = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)
    d = q_all.shape[-1] // attn.heads
    outs, weights = [], []
    for h in range(attn.heads):  # one head at a time
        q, k, v = (x[..., h * d:(h + 1) * d] for x in (q_all, k_all, v_all))
        w = torch.nn.functional.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(d), dim=2)
        outs.append(torch.bmm(w, v))
        weights.append(w)
    return attn.to_out[0](torch.cat(outs, dim=-1)), torch.stack(weights, dim=1)


import math
"""
        + _DEMO_1,
        "your_turn_2": """
def scaling_factor(vae, images, generator):
    with torch.no_grad():
        z = vae.encode(images).latent_dist.sample(generator=generator)  # diffusers draws mean + std * noise
    return float(z.flatten().std().reciprocal())
"""
        + _DEMO_2,
        "your_turn_3": """
predicted_green_share = 0  # none: guidance pushes away from the negative prompt
""",
        "mini_challenge": _HELPER_MINI
        + """
settings = {"scheduler": "DPMSolverMultistepScheduler", "num_inference_steps": 8, "guidance_scale": 3,
            "negative_prompt": None}
print(held_out_accuracy(settings, try_prompts, try_asked))
""",
        "knowledge_check": """
q1 = 'b'
q2 = 'c'
q3 = 'd'
""",
    },
}
