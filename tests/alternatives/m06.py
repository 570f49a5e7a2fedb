"""Module 06 (Stable Diffusion unrolled): correct answers written differently from the solution."""

ALTERNATIVES = {
    "another but equal formula (the issue's three examples), float32 alpha_bar": {
        "your_turn_1": """
def encode(text):
    ids = pipe.tokenizer(text, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                         truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        return pipe.text_encoder(input_ids=ids).last_hidden_state


text_embeddings = torch.stack([encode("")[0], encode(prompt)[0]])
print(tuple(text_embeddings.shape))
""",
        "your_turn_2": """
def denoise(text_embeddings, steps, scale, seed):
    generator = torch.Generator("cpu").manual_seed(seed)
    pipe.scheduler.set_timesteps(steps)
    f = pipe.vae_scale_factor
    shape = (1, pipe.unet.config.in_channels, 64 // f, 64 // f)
    latents = torch.randn(shape, generator=generator) * pipe.scheduler.init_noise_sigma
    with torch.no_grad():
        for t in pipe.scheduler.timesteps:
            x_in = pipe.scheduler.scale_model_input(torch.cat([latents] * 2), t)
            eps_uncond, eps_text = pipe.unet(x_in, t, encoder_hidden_states=text_embeddings).sample.chunk(2)
            eps = (1 - scale) * eps_uncond + scale * eps_text
            latents = pipe.scheduler.step(eps, t, latents).prev_sample
    return latents


latents = denoise(text_embeddings, steps, guidance_scale, seed)
""",
        "your_turn_3": """
def decode(latents):
    with torch.no_grad():
        decoded = pipe.vae.decode(latents * (1 / pipe.vae.config.scaling_factor)).sample
    return ((decoded + 1) / 2).clamp(0, 1)


image = decode(latents)
""",
        "your_turn_4": """
def course_t(k):
    return k + 1


alpha_bar = torch.cat([torch.ones(1), torch.cumprod(1 - pipe.scheduler.betas, dim=0)])  # float32, as diffusers
matches = torch.allclose(alpha_bar[1:], pipe.scheduler.alphas_cumprod)
print(matches)
""",
        "mini_challenge": """
STEP_COUNTS = [2, 3, 4, 5, 6, 8, 10, 15, 20]
TOLERANCE = 0.02
import numpy as np
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler


def image_with(cls, n):
    pipe.scheduler = cls.from_config(pipe.scheduler.config)
    out = pipe(prompt, num_inference_steps=n, guidance_scale=guidance_scale,
               generator=torch.Generator("cpu").manual_seed(seed), output_type="pt").images
    return out.numpy().astype(np.float64)


reference = image_with(DPMSolverMultistepScheduler, 100)
fewest = {}
for cls in (DDIMScheduler, DPMSolverMultistepScheduler):
    distances = np.array([np.sqrt(np.mean((image_with(cls, n) - reference) ** 2)) for n in STEP_COUNTS])
    fewest[cls.__name__] = np.array(STEP_COUNTS)[distances < TOLERANCE][0]  # an np.int64
print(fewest)
""",
        "knowledge_check": """
q1, q2, q3 = 'b', 'a', 'c'
""",
    },
    "batched encoding, numpy, the library's helpers": {
        "your_turn_1": """
def encode(text):
    tokens = pipe.tokenizer(text, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    with torch.no_grad():
        return pipe.text_encoder(tokens.input_ids, return_dict=False)[0]


text_embeddings = encode(["", prompt])  # both prompts in one batch of two
print(tuple(text_embeddings.shape))
""",
        "your_turn_2": """
from helpers.guidance import cfg_eps


def denoise(text_embeddings, steps, scale, seed):
    scheduler, unet = pipe.scheduler, pipe.unet
    scheduler.set_timesteps(steps)
    h = 64 // pipe.vae_scale_factor
    generator = torch.Generator("cpu").manual_seed(seed)
    latents = scheduler.init_noise_sigma * torch.randn((1, unet.config.in_channels, h, h), generator=generator)
    for t in scheduler.timesteps:
        with torch.no_grad():
            both = unet(scheduler.scale_model_input(latents.repeat(2, 1, 1, 1), t), t, text_embeddings).sample
        latents = scheduler.step(cfg_eps(both[:1], both[1:], scale), t, latents, return_dict=False)[0]
    return latents


latents = denoise(text_embeddings, steps, guidance_scale, seed)
""",
        "your_turn_3": """
def decode(latents):
    with torch.no_grad():
        decoded = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)[0]
    return pipe.image_processor.postprocess(decoded, output_type="pt")


image = decode(latents)
""",
        "your_turn_4": """
import numpy as np


def course_t(k):
    return np.int64(k) + 1


betas = pipe.scheduler.betas.numpy().astype(np.float64)
alpha_bar = np.concatenate([[1.0], np.cumprod(1 - betas)])
matches = np.allclose(alpha_bar[[course_t(k) for k in range(len(betas))]], pipe.scheduler.alphas_cumprod.numpy(), atol=1e-6)
matches = np.bool_(matches)
print(matches)
""",
        "mini_challenge": """
STEP_COUNTS = [2, 3, 4, 5, 6, 8, 10, 15, 20]
TOLERANCE = 0.02
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

config = dict(pipe.scheduler.config)
run = lambda n: pipe(prompt, num_inference_steps=n, guidance_scale=guidance_scale,
                    generator=torch.Generator("cpu").manual_seed(seed), output_type="pt").images
pipe.scheduler = DPMSolverMultistepScheduler.from_config(config)
reference = run(100)
fewest = dict()
for cls in (DDIMScheduler, DPMSolverMultistepScheduler):
    pipe.scheduler = cls.from_config(config)
    for n in STEP_COUNTS:
        if torch.nn.functional.mse_loss(run(n), reference).sqrt() < TOLERANCE:
            fewest[cls.__name__] = torch.tensor(n)
            break
print(fewest)
""",
        "knowledge_check": """
q1, q2, q3 = "bac"
""",
    },
}
