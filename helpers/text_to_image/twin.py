"""The trained shapes model as diffusers' own StableDiffusionPipeline: assemble it, save it, load it back offline.

The committed folder ``helpers/weights/shapes_sd/`` is what ``python scripts/train_twin.py`` writes with
``save_pretrained``; :func:`load_twin` reads it with ``StableDiffusionPipeline.from_pretrained``.
Derived in notebooks/09_text_to_image.ipynb §3.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from helpers.sd.pipeline import pipeline_class
from helpers.sd.shapes import SHAPES_DIR, check_shapes_folder
from helpers.text_to_image.parts import MAX_TOKENS, build_scheduler
from helpers.text_to_image.scenes import SIZE, vocabulary


def assemble(vae, text_encoder, tokenizer, unet, scheduler=None):
    """``StableDiffusionPipeline(vae=..., text_encoder=..., tokenizer=..., unet=..., scheduler=...)`` of our parts.

    Derived in notebooks/09_text_to_image.ipynb §3.
    """
    return pipeline_class()(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=scheduler or build_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def load_twin(folder: str | Path = SHAPES_DIR, progress: bool = False):
    """The shipped pipeline, loaded offline from ``folder`` by ``StableDiffusionPipeline.from_pretrained``.

    Derived in notebooks/09_text_to_image.ipynb §3.
    """
    pipe = pipeline_class().from_pretrained(str(check_shapes_folder(folder)), local_files_only=True)
    pipe.set_progress_bar_config(disable=not progress)
    return pipe


def check_prompt(prompt: str | list[str]) -> None:
    """Refuse, with the fix, a prompt the shapes model was never taught: empty, too long, or with unknown words.

    Derived in notebooks/09_text_to_image.ipynb §3.
    """
    known = vocabulary()  # built once, not once per word of every prompt
    for text in [prompt] if isinstance(prompt, str) else prompt:
        words = re.findall(r"[a-z]+|[^\sa-z]", str(text).lower())
        if not words:
            raise ValueError('the prompt is empty; describe a scene, for example "a small red circle at the top left".')
        unknown = sorted(set(words) - set(known))
        if unknown:
            raise ValueError(
                f"the shapes model never saw {', '.join(map(repr, unknown))} in training, so it cannot draw them; "
                f"use only these words: {' '.join(known)}."
            )
        if len(words) + 2 > MAX_TOKENS:
            raise ValueError(
                f"the prompt has {len(words)} words; the text encoder reads at most {MAX_TOKENS - 2}. Shorten it."
            )


def check_size(height: int | None, width: int | None) -> None:
    """Refuse an image size other than the SIZE × SIZE the model was trained on.

    Derived in notebooks/09_text_to_image.ipynb §3.
    """
    if (height or SIZE, width or SIZE) != (SIZE, SIZE):
        raise ValueError(
            f"the shapes model makes {SIZE}×{SIZE} images; got {height}×{width}. Leave height and width out."
        )


def generate(pipe, prompt: str | list[str], seed: int = 0, **kwargs) -> torch.Tensor:
    """``pipe(prompt, ...)`` after :func:`check_prompt` and :func:`check_size`: images (B, 3, SIZE, SIZE) in [-1, 1].

    One ``negative_prompt`` string serves every prompt of the batch.

    Derived in notebooks/09_text_to_image.ipynb §3.
    """
    check_prompt(prompt)
    check_size(kwargs.get("height"), kwargs.get("width"))
    if isinstance(negative := kwargs.get("negative_prompt"), str):  # one negative prompt for the whole batch
        check_prompt(negative)
        kwargs["negative_prompt"] = [negative] * (1 if isinstance(prompt, str) else len(prompt))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        images = pipe(prompt, generator=generator, output_type="pt", **kwargs).images  # (B, 3, H, W) in [0, 1]
    return images * 2 - 1
