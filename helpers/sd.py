"""Stable Diffusion 1.5 with diffusers: one loading path, the real model on a GPU, a tiny random twin elsewhere.

Derived in notebooks/06_stable_diffusion.ipynb. Latent diffusion is Rombach et al. 2022,
"High-Resolution Image Synthesis with Latent Diffusion Models"; classifier-free guidance is
Ho & Salimans 2022.

:func:`load_pipeline` picks what runs:

* with a CUDA GPU and the weights reachable, the real ``stable-diffusion-v1-5/stable-diffusion-v1-5``
  in fp16;
* otherwise (CPU, offline, CI) a tiny, randomly initialised pipeline of the same classes
  (CLIPTextModel, UNet2DConditionModel, AutoencoderKL, PNDMScheduler), built from the configs
  below with a fixed seed, saved once to a local cache folder and loaded back.

Both go through the same :func:`load_from`, one ``StableDiffusionPipeline.from_pretrained`` call.
The tiny pipeline's CLIP tokenizer is built offline from ``helpers/tokenizer/`` (vocab.json and
merges.txt), files that :func:`tokenizer_files` generates deterministically from :data:`PROMPT_CORPUS`.
"""
from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

SD15_MODEL_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"
REMOVED_MODEL_ID = "runwayml/stable-diffusion-v1-5"  # deleted from the Hub in 2024; old tutorials still use it

# The configurations of stable-diffusion-v1-5/stable-diffusion-v1-5 (its */config.json files).
SD15_UNET_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": 8,  # in SD 1.5 this number is really the count of heads, a historical misnomer
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,  # the CLIP text encoder's hidden size
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,  # latent pixels: 64 * 8 = 512 image pixels
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
SD15_VAE_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "scaling_factor": 0.18215,  # rescales latents to about unit variance before diffusion
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
SD15_TEXT_ENCODER_CONFIG: dict[str, Any] = {  # CLIP ViT-L/14's text tower
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "dropout": 0.0,
    "eos_token_id": 2,
    "hidden_act": "quick_gelu",
    "hidden_size": 768,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 1,
    "projection_dim": 768,
    "vocab_size": 49408,
}
SD15_SCHEDULER_CONFIG: dict[str, Any] = {  # PNDMScheduler; DDIM and friends read the same keys
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}
SD15_TOKENIZER_MAX_LENGTH = 77

# The tiny twin: the same classes and block layout, much narrower, so it runs in milliseconds on a CPU.
TINY_UNET_CONFIG: dict[str, Any] = {
    **SD15_UNET_CONFIG,
    "block_out_channels": [32, 32, 64, 64],
    "cross_attention_dim": 32,
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 8,  # 8 * 8 = 64-pixel images
}
TINY_VAE_CONFIG: dict[str, Any] = {
    **SD15_VAE_CONFIG,
    "block_out_channels": [16, 16, 32, 32],  # four blocks, so the same 8x factor as SD 1.5
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 64,
}
TINY_TEXT_ENCODER_CONFIG: dict[str, Any] = {
    **SD15_TEXT_ENCODER_CONFIG,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "projection_dim": 32,
    # vocab_size and the special token ids come from the shipped tokenizer (see build_tiny_pipeline)
}
TINY_SEED = 0
_TINY_BUILD = 1  # bump to rebuild every cached tiny pipeline

# ---------------------------------------------------------------------------------------------
# Latent diffusion in numbers
# ---------------------------------------------------------------------------------------------


def vae_factor(vae_config: dict[str, Any]) -> int:
    """How many image pixels one latent pixel spans per side: each VAE block after the first halves the size."""
    return 2 ** (len(vae_config["block_out_channels"]) - 1)


def latent_shape(height: int, width: int, vae_config: dict[str, Any] = SD15_VAE_CONFIG) -> tuple[int, int, int]:
    """The (channels, height, width) of the latent that an image of ``height`` x ``width`` encodes to."""
    f = vae_factor(vae_config)
    if height % f or width % f:
        raise ValueError(f"height and width must be multiples of the VAE factor {f}, got {height} x {width}; "
                         f"use {height // f * f} x {width // f * f}.")
    return vae_config["latent_channels"], height // f, width // f


def on_meta(cls: type, config: dict[str, Any]) -> torch.nn.Module:
    """Build a diffusers model from ``config`` on the meta device: shapes without memory or weights."""
    with torch.device("meta"):
        return cls(**config)


def count_parameters(model: torch.nn.Module) -> int:
    """The number of parameters of ``model`` (works on the meta device too)."""
    return sum(p.numel() for p in model.parameters())


def unet_flops(config: dict[str, Any], channels: int, size: int, batch: int = 1) -> dict[str, int]:
    """Floating-point operations of one U-Net forward on a (batch, channels, size, size) input, by op, counted on meta.

    Counted by torch.utils.flop_counter (a multiply-add is 2 FLOPs); nothing is computed, only shapes.
    Keys: "convolution", "attention" (the batched matmuls of self- and cross-attention), "linear"
    (projections and feed-forward layers) and "total".
    """
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    unet = on_meta(UNet2DConditionModel, {**config, "in_channels": channels, "out_channels": channels, "sample_size": size})
    with torch.device("meta"):
        x = torch.zeros(batch, channels, size, size)  # (B, C, H, W)
        text = torch.zeros(batch, SD15_TOKENIZER_MAX_LENGTH, config["cross_attention_dim"])  # (B, 77, D)
        with FlopCounterMode(display=False) as counter:
            unet(x, torch.tensor([500] * batch), encoder_hidden_states=text)
    ops = {str(k).removeprefix("aten."): v for k, v in counter.get_flop_counts()["Global"].items()}
    groups = {"convolution": ops.get("convolution", 0), "attention": ops.get("bmm", 0),
              "linear": ops.get("addmm", 0) + ops.get("mm", 0)}
    groups["total"] = counter.get_total_flops()
    return groups


def median_seconds(fn, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


# ---------------------------------------------------------------------------------------------
# The tokenizer: a small CLIP BPE vocabulary, generated offline
# ---------------------------------------------------------------------------------------------

# Prompts of the kind people give Stable Diffusion. Every lowercase word here becomes one token.
PROMPT_CORPUS = """
a photograph of an astronaut riding a horse on mars
a red fox in the snow, highly detailed, golden hour
a serene mountain lake at sunset, photorealistic, 4k
a cozy cabin in a snowy forest at night, warm light in the windows
an oil painting of a lighthouse on a rocky coast during a storm
a watercolor painting of a small village by the river in spring
a portrait of an old man with a white beard, studio lighting, 85mm
a portrait of a young woman with red hair, soft light, film grain
a cute cat wearing a tiny hat, digital art, trending on artstation
a golden retriever puppy playing in a field of flowers
a futuristic city at night with neon lights and flying cars, cyberpunk
a busy street in tokyo in the rain, cinematic, reflections
a medieval castle on a hill under a starry sky, fantasy art
a dragon flying over the ocean, epic, dramatic clouds
a bowl of fruit on a wooden table, still life, oil on canvas
a robot reading a book in a library, concept art
a sailing ship on a calm blue sea, morning fog
an ancient temple in the jungle, overgrown with green plants
a close up photo of a bee on a yellow sunflower, macro, sharp focus
a vintage car parked in front of a diner, retro style
a black and white photo of a jazz musician playing the saxophone
a pencil sketch of a tree in winter
a hot air balloon above the desert at sunrise
a bird sitting on a branch with cherry blossoms, japanese ink painting
a cup of coffee and a croissant on a cafe table, shallow depth of field
a children's book illustration of a bear and a rabbit having a picnic
a panda eating bamboo in a misty forest
an owl with big eyes in the moonlight
a snowy mountain peak above the clouds, aerial view
a field of lavender in provence, summer, vibrant colors
a surreal landscape with floating islands and waterfalls
a steampunk airship with brass gears, intricate details
a beautiful garden with roses and a stone fountain
a wooden boat on a quiet river in autumn, orange leaves
a knight in shining armor holding a sword, dark background
a minimalist poster of a whale, flat design, pastel colors
a pixel art scene of a castle and a dragon
a 3d render of a glass sphere on a marble floor, octane render
a man and a woman walking on the beach at dusk
a dog and a cat sleeping together on a sofa
an elephant and a giraffe on the african savanna
a girl reading under an umbrella in the rain
a boy flying a kite on a windy day
a plate of pasta with tomato sauce and basil, food photography
a bright kitchen with white cabinets, interior design
a modern house with large windows, architecture photography
a tiger resting in tall grass, wildlife photography
a galaxy with purple and pink nebula, space art
a volcano erupting at night with red lava
a frozen waterfall in a dark canyon
an impressionist painting of a bridge over a pond with water lilies
a comic book style superhero in a city
an anime girl with blue eyes and long silver hair
a map of a fantasy kingdom, parchment, hand drawn
a teddy bear on a skateboard in times square
a photo of a horse running through a meadow
a chair made of avocado, product photo
an astronaut floating in space with the earth in the background
"""

# CLIP's pre-tokenizer (the same pattern transformers' CLIPTokenizer uses), for ASCII text.
_WORD = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+")
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
TOKENIZER_FILES = ("merges.txt", "tokenizer_config.json", "vocab.json")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's and CLIP's map from each byte to a printable character, so BPE never sees whitespace or control bytes."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def corpus_words(text: str = PROMPT_CORPUS) -> collections.Counter:
    """How often each pre-tokenized word occurs in ``text``, lowercased as CLIP does."""
    return collections.Counter(_WORD.findall(text.lower()))


def train_bpe(words: collections.Counter) -> list[tuple[str, str]]:
    """Byte-pair merges (Sennrich et al. 2016) until every word is one symbol; ties go to the smallest pair."""
    byte_char = bytes_to_unicode()
    split = {}
    for word in words:
        symbols = [byte_char[b] for b in word.encode("utf-8")]
        symbols[-1] += "</w>"  # CLIP marks the end of a word on its last symbol
        split[word] = symbols
    merges = []
    while True:
        pairs: collections.Counter = collections.Counter()
        for word, symbols in split.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += words[word]
        if not pairs:
            return merges
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for word, symbols in split.items():
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            split[word] = merged


def tokenizer_files(text: str = PROMPT_CORPUS) -> dict[str, str]:
    """The contents of vocab.json, merges.txt and tokenizer_config.json for a CLIP tokenizer trained on ``text``.

    The vocabulary is laid out as CLIP's is: the 256 byte characters, the same with ``</w>``,
    one token per merge, then the start and end tokens (so the end token has the largest id).
    """
    merges = train_bpe(corpus_words(text))
    base = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for token in base + [b + "</w>" for b in base] + ["".join(m) for m in merges] + [BOS, EOS]:
        vocab.setdefault(token, len(vocab))
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": SD15_TOKENIZER_MAX_LENGTH,
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": EOS,  # SD 1.5 pads with the end token too
        "unk_token": EOS,
        "do_lower_case": True,
    }
    return {
        "vocab.json": json.dumps(vocab, ensure_ascii=False, indent=0) + "\n",
        "merges.txt": "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges),
        "tokenizer_config.json": json.dumps(config, indent=2) + "\n",
    }


def write_tokenizer_files(folder: Path) -> None:
    """Write :func:`tokenizer_files` into ``folder`` (how helpers/tokenizer/ was made)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tokenizer_files().items():
        (folder / name).write_text(text, encoding="utf-8")


def tokenizer_dir() -> Path:
    """The folder of the shipped tokenizer files, helpers/tokenizer/."""
    return Path(__file__).resolve().parent / "tokenizer"


def shipped_vocab_size() -> int:
    """How many tokens the shipped vocab.json holds."""
    return len(json.loads((tokenizer_dir() / "vocab.json").read_text(encoding="utf-8")))


def check_tokenizer(tokenizer, vocab_size: int, prompt: str = "a photograph of an astronaut riding a horse") -> None:
    """Fail loudly if ``tokenizer`` is not the one we meant to load.

    Offline, a Hub tokenizer id can quietly give a tokenizer that knows only its special tokens, and
    transformers 5's ``CLIPTokenizer(vocab_file=..., merges_file=...)`` ignores those files; either
    way every prompt becomes start + end tokens and the text encoder sees no words at all.
    """
    if len(tokenizer) != vocab_size:
        raise RuntimeError(f"the tokenizer has {len(tokenizer)} tokens, expected {vocab_size}: it was not built "
                           "from the intended vocab.json and merges.txt.")
    ids = tokenizer(prompt).input_ids
    words = [i for i in ids if i not in (tokenizer.bos_token_id, tokenizer.eos_token_id)]
    if not words:
        raise RuntimeError(f"{prompt!r} tokenizes to {ids}: only start and end tokens, the prompt is lost.")


def load_tokenizer(folder: Path | None = None):
    """The CLIP tokenizer of ``folder`` (default: the shipped helpers/tokenizer/), checked by :func:`check_tokenizer`."""
    from transformers import CLIPTokenizer

    folder = folder or tokenizer_dir()
    tokenizer = CLIPTokenizer.from_pretrained(str(folder))
    expected = len(json.loads((folder / "vocab.json").read_text(encoding="utf-8")))
    check_tokenizer(tokenizer, expected)
    return tokenizer


# ---------------------------------------------------------------------------------------------
# The tiny pipeline and the one loading path
# ---------------------------------------------------------------------------------------------


def build_pipeline(unet_config: dict[str, Any], vae_config: dict[str, Any], text_config: dict[str, Any],
                   seed: int = TINY_SEED, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
    """A randomly initialised StableDiffusionPipeline of SD 1.5's classes from the given configs, seeded, with the shipped tokenizer."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = load_tokenizer()
    if text_config["vocab_size"] < len(tokenizer):
        raise ValueError(f"the text encoder knows {text_config['vocab_size']} tokens, the tokenizer {len(tokenizer)}.")
    forked = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=forked), torch.device(device):  # leave the caller's random state alone
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(**unet_config)
        vae = AutoencoderKL(**vae_config)
        text_encoder = CLIPTextModel(CLIPTextConfig(**text_config))
    return pipeline_class()(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                            scheduler=PNDMScheduler.from_config(SD15_SCHEDULER_CONFIG), safety_checker=None,
                            feature_extractor=None, requires_safety_checker=False).to(dtype=dtype)


def build_tiny_pipeline(seed: int = TINY_SEED):
    """The tiny pipeline, in memory: SD 1.5's classes with the TINY_* configs and the shipped tokenizer's ids."""
    tokenizer = load_tokenizer()
    text_config = {**TINY_TEXT_ENCODER_CONFIG, "vocab_size": len(tokenizer), "bos_token_id": tokenizer.bos_token_id,
                   "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    return build_pipeline(TINY_UNET_CONFIG, TINY_VAE_CONFIG, text_config, seed)


def cache_root() -> Path:
    """Where the tiny pipeline is saved: $COURSE_CACHE, else the repository's .cache/, else the user cache folder."""
    if os.environ.get("COURSE_CACHE"):
        return Path(os.environ["COURSE_CACHE"])
    repo = Path(__file__).resolve().parent.parent
    if (repo / "pyproject.toml").exists() and os.access(repo, os.W_OK):
        return repo / ".cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "diffusion-course"


def _tiny_fingerprint() -> str:
    """A short hash of everything the tiny pipeline is built from, so a changed recipe gets a fresh folder."""
    import diffusers
    import transformers

    recipe = json.dumps([TINY_UNET_CONFIG, TINY_VAE_CONFIG, TINY_TEXT_ENCODER_CONFIG, SD15_SCHEDULER_CONFIG, TINY_SEED,
                         _TINY_BUILD, diffusers.__version__, transformers.__version__, torch.__version__], sort_keys=True)
    files = "".join((tokenizer_dir() / name).read_text(encoding="utf-8") for name in TOKENIZER_FILES)
    return hashlib.sha256((recipe + files).encode()).hexdigest()[:10]


def tiny_pipeline_dir() -> Path:
    """The saved tiny pipeline's folder, built and saved on first use (atomically, so parallel kernels are safe)."""
    folder = cache_root() / f"tiny-sd-{_tiny_fingerprint()}"
    if (folder / "model_index.json").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="tiny-sd-building-", dir=folder.parent))
    try:
        build_tiny_pipeline().save_pretrained(scratch)
        try:
            scratch.rename(folder)
        except OSError:  # another process finished first; its copy is identical
            pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def pipeline_class() -> type:
    """diffusers' StableDiffusionPipeline, imported without transformers' "requires torchvision" notice on stderr."""
    from transformers.utils import logging as transformers_logging

    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # without torchvision, CLIP's image processor falls back to PIL and says so
    try:
        from diffusers import StableDiffusionPipeline
    finally:
        transformers_logging.set_verbosity(level)
    return StableDiffusionPipeline


def load_from(source: str | Path, dtype: torch.dtype = torch.float32, progress: bool = True, **kwargs):
    """The one loading path: ``StableDiffusionPipeline.from_pretrained(source, dtype=dtype)``, for the Hub and for the tiny folder."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    shown = diffusers_logging.is_progress_bar_enabled(), transformers_logging.is_progress_bar_enabled()
    if not progress:
        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()
    try:
        pipe = pipeline_class().from_pretrained(str(source), dtype=dtype, **kwargs)
    finally:
        if shown[0]:
            diffusers_logging.enable_progress_bar()
        if shown[1]:
            transformers_logging.enable_progress_bar()
    check_tokenizer(pipe.tokenizer, pipe.text_encoder.config.vocab_size)  # one embedding row per token
    return pipe


@dataclass(frozen=True)
class PipelineReport:
    """Which pipeline :func:`load_pipeline` loaded, from where, and why."""

    kind: str  # "real" or "tiny"
    source: str
    device: str
    dtype: str
    reason: str

    @property
    def is_real(self) -> bool:
        return self.kind == "real"

    def __str__(self) -> str:
        size = SD15_UNET_CONFIG["sample_size"] * vae_factor(SD15_VAE_CONFIG)
        if self.is_real:
            return (f"Running the REAL Stable Diffusion 1.5 ({self.source}) on {self.device} in {self.dtype}.\n"
                    f"Why: {self.reason}.\n"
                    f"Images are {size}x{size} by default and follow the prompt.")
        tiny = TINY_UNET_CONFIG["sample_size"] * vae_factor(TINY_VAE_CONFIG)
        return (f"Running the TINY pipeline on {self.device} in {self.dtype}: SD 1.5's classes (CLIPTextModel, "
                f"UNet2DConditionModel, AutoencoderKL, PNDMScheduler), much narrower and randomly initialised,\n"
                f"loaded with StableDiffusionPipeline.from_pretrained({self.source!r}).\n"
                f"Why: {self.reason}.\n"
                f"Every step of the pipeline runs for real, but its weights are random: its {tiny}x{tiny} images are "
                "structured noise, not pictures of the prompt.\n"
                f"On a CUDA GPU with the weights reachable, the same code loads {SD15_MODEL_ID} in float16 and "
                f"draws {size}x{size} images that follow the prompt.")


def _short(err: BaseException) -> str:
    """The first line of an exception, prefixed by its type."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {first[:200]}"


def try_real(progress: bool = True):
    """``(pipe, "")`` with the real SD 1.5 in fp16 on the GPU, or ``(None, reason)`` saying why it cannot load here."""
    if not torch.cuda.is_available():
        return None, "no CUDA GPU (torch.cuda.is_available() is False)"
    try:
        pipe = load_from(SD15_MODEL_ID, dtype=torch.float16, progress=progress, variant="fp16").to("cuda")
    except Exception as err:  # offline, not in the cache, the Hub unreachable, ...
        from huggingface_hub import constants

        where = "not reachable offline (HF_HUB_OFFLINE=1)" if constants.HF_HUB_OFFLINE else "not reachable"
        return None, f"a CUDA GPU is present, but the weights of {SD15_MODEL_ID} are {where}: {_short(err)}"
    pipe.set_progress_bar_config(disable=not progress)
    return pipe, ""


def load_pipeline(prefer: str = "auto", progress: bool = True):
    """Return ``(pipe, report)``: real SD 1.5 in fp16 on a CUDA GPU when its weights load, else the tiny pipeline.

    ``prefer="tiny"`` always gives the tiny pipeline; ``prefer="real"`` raises instead of falling back.
    """
    if prefer not in ("auto", "real", "tiny"):
        raise ValueError(f"prefer must be 'auto', 'real' or 'tiny', got {prefer!r}.")
    if prefer == "tiny":
        reason = "the tiny pipeline was asked for (prefer='tiny')"
    else:
        pipe, reason = try_real(progress)
        if pipe is not None:
            return pipe, PipelineReport("real", SD15_MODEL_ID, "cuda", "float16", "a CUDA GPU is present and the weights loaded")
        if prefer == "real":
            raise RuntimeError(f"the real Stable Diffusion 1.5 cannot load here: {reason}.")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    folder = tiny_pipeline_dir()
    pipe = load_from(folder, dtype=torch.float32, progress=progress).to(device)
    pipe.set_progress_bar_config(disable=not progress)
    return pipe, PipelineReport("tiny", str(folder), device, "float32", reason)


def quiet(pipe=None) -> None:
    """Silence progress bars, diffusers' and transformers' logging, and warnings (graded test cells must not write to stderr)."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
    warnings.filterwarnings("ignore")
    if pipe is not None:
        pipe.set_progress_bar_config(disable=True)


# ---------------------------------------------------------------------------------------------
# The pipeline, unrolled
# ---------------------------------------------------------------------------------------------


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU generator: the same seed gives the same starting noise whichever device the pipeline is on."""
    return torch.Generator("cpu").manual_seed(seed)


def encode_prompt(pipe, prompt: str) -> torch.Tensor:
    """Tokenize ``prompt`` to 77 ids and run the CLIP text encoder: (1, 77, D) embeddings, as the pipeline does."""
    tokens = pipe.tokenizer(prompt, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                            truncation=True, return_tensors="pt")
    embeddings = pipe.text_encoder(tokens.input_ids.to(pipe._execution_device))[0]  # (1, 77, D)
    return embeddings.to(dtype=pipe.text_encoder.dtype)


def classifier_free_guidance(eps_uncond: torch.Tensor, eps_text: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """eps = eps_uncond + w * (eps_text - eps_uncond) (Ho & Salimans 2022, eq. 6 with w = 1 + their w)."""
    return eps_uncond + guidance_scale * (eps_text - eps_uncond)


def decode_latents(pipe, latents: torch.Tensor) -> torch.Tensor:
    """Undo the VAE's scaling, decode, and map [-1, 1] to [0, 1]: (B, 4, h, w) latents -> (B, 3, H, W) image."""
    image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample  # (B, 3, H, W) in about [-1, 1]
    return (image / 2 + 0.5).clamp(0, 1)


@torch.no_grad()
def generate_by_hand(pipe, prompt: str, steps: int = 25, guidance_scale: float = 7.5, seed: int = 0,
                     height: int | None = None, width: int | None = None, output_type: str = "pt",
                     progress: bool = True) -> torch.Tensor:
    """``pipe(prompt, ...)`` unrolled: encode, start from noise, denoise with CFG, decode. Same seed, same image.

    Returns what ``pipe(..., generator=seeded_generator(seed), output_type=output_type).images``
    returns for ``output_type`` "pt" (B, 3, H, W) in [0, 1] or "latent" (B, 4, h, w).
    """
    from diffusers.utils.torch_utils import randn_tensor

    if output_type not in ("pt", "latent"):
        raise ValueError(f"output_type must be 'pt' or 'latent', got {output_type!r}.")
    device = pipe._execution_device
    f = pipe.vae_scale_factor  # 2 ** (len(vae.config.block_out_channels) - 1)
    height = height or pipe.unet.config.sample_size * f
    width = width or pipe.unet.config.sample_size * f
    generator = seeded_generator(seed)
    use_cfg = guidance_scale > 1  # the pipeline skips the unconditional pass at w <= 1

    # 1. Text: the prompt and the empty prompt, through the tokenizer and the CLIP text encoder.
    cond = encode_prompt(pipe, prompt)  # (1, 77, D)
    text = torch.cat([encode_prompt(pipe, ""), cond]) if use_cfg else cond  # (2, 77, D): unconditional first

    # 2. Start from Gaussian noise in latent space, scaled to the scheduler's first noise level.
    pipe.scheduler.set_timesteps(steps, device=device)
    shape = (1, pipe.unet.config.in_channels, height // f, width // f)  # (1, 4, h, w)
    latents = randn_tensor(shape, generator=generator, device=device, dtype=text.dtype) * pipe.scheduler.init_noise_sigma

    # 3. Denoise: scale the input, predict eps for both texts in one batch, guide, step.
    step_kwargs = _extra_step_kwargs(pipe.scheduler, generator)
    for t in tqdm(pipe.scheduler.timesteps, desc="denoising by hand", disable=not progress):
        x_in = torch.cat([latents] * 2) if use_cfg else latents  # (2, 4, h, w)
        x_in = pipe.scheduler.scale_model_input(x_in, t)
        eps = pipe.unet(x_in, t, encoder_hidden_states=text).sample  # (2, 4, h, w)
        if use_cfg:
            eps_uncond, eps_text = eps.chunk(2)
            eps = classifier_free_guidance(eps_uncond, eps_text, guidance_scale)
        latents = pipe.scheduler.step(eps, t, latents, **step_kwargs).prev_sample
    if output_type == "latent":
        return latents

    # 4. Decode with the VAE, undoing its scaling factor.
    if pipe.safety_checker is None:
        return decode_latents(pipe, latents)
    image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    image, nsfw = pipe.run_safety_checker(image, device, text.dtype)  # the real SD 1.5 screens its outputs
    return pipe.image_processor.postprocess(image, output_type="pt", do_denormalize=[not n for n in nsfw])


def _extra_step_kwargs(scheduler, generator: torch.Generator) -> dict[str, Any]:
    """What the pipeline passes to ``scheduler.step`` besides (eps, t, x_t): DDIM's eta, an ancestral sampler's generator."""
    import inspect

    accepted = inspect.signature(scheduler.step).parameters
    kwargs: dict[str, Any] = {}
    if "eta" in accepted:
        kwargs["eta"] = 0.0
    if "generator" in accepted:
        kwargs["generator"] = generator
    return kwargs


# ---------------------------------------------------------------------------------------------
# A one-dimensional world with a perfect noise predictor, to measure what steps and guidance do
# ---------------------------------------------------------------------------------------------


def toy_eps(x_t: torch.Tensor, alpha_bar: float, means: tuple[float, ...], std: float) -> torch.Tensor:
    """The exact E[eps | x_t] when x0 is an equal mix of N(m, std^2), m in ``means``: the best any network can do.

    Each component gives x_t ~ N(sqrt(alpha_bar) m, v) with v = alpha_bar std^2 + 1 - alpha_bar, and
    E[x0 | x_t, m] = m + sqrt(alpha_bar) std^2 (x_t - sqrt(alpha_bar) m) / v; average over the
    components' posterior weights, then eps = (x_t - sqrt(alpha_bar) E[x0 | x_t]) / sqrt(1 - alpha_bar).
    """
    v = alpha_bar * std**2 + 1 - alpha_bar
    m = torch.tensor(means, dtype=x_t.dtype)[:, None]  # (K, 1)
    weights = torch.softmax(-(x_t - alpha_bar**0.5 * m) ** 2 / (2 * v), dim=0)  # (K, N), equal priors
    x0_hat = (weights * (m + alpha_bar**0.5 * std**2 * (x_t - alpha_bar**0.5 * m) / v)).sum(0)  # (N,)
    return (x_t - alpha_bar**0.5 * x0_hat) / (1 - alpha_bar) ** 0.5


def toy_sample(scheduler, steps: int, guidance_scale: float | None = None, means: tuple[float, ...] = (1.0, -1.0),
               std: float = 0.25, n: int = 20_000, seed: int = 0, train_alphas_cumprod: torch.Tensor | None = None) -> torch.Tensor:
    """Sample the toy world with a diffusers ``scheduler``: (n,) float64 samples.

    Unconditional when ``guidance_scale`` is None; otherwise the "prompt" asks for the first mode,
    means[0], and classifier-free guidance mixes the two exact predictions. The predictor knows
    the noise levels it was "trained" with, ``train_alphas_cumprod`` (default: the scheduler's own).
    """
    train = scheduler.alphas_cumprod if train_alphas_cumprod is None else train_alphas_cumprod
    x = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x * scheduler.init_noise_sigma
    scheduler.set_timesteps(steps)
    for t in scheduler.timesteps:
        alpha_bar = float(train[int(t)])
        eps = toy_eps(x, alpha_bar, means, std)
        if guidance_scale is not None:
            eps = classifier_free_guidance(eps, toy_eps(x, alpha_bar, means[:1], std), guidance_scale)
        x = scheduler.step(eps, t, x).prev_sample
    return x
