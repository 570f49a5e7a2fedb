"""What :func:`helpers.sd.load_pipeline` says it loaded: the real SD 1.5, the shapes model or the tiny pipeline.

Derived in notebooks/06_stable_diffusion.ipynb §2.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from helpers.sd.config import SD15_MODEL_ID, SD15_UNET_CONFIG, SD15_VAE_CONFIG, vae_factor
from helpers.sd.shapes import SHAPES_PROMPT


@dataclass(frozen=True)
class PipelineReport:
    """Which pipeline :func:`load_pipeline` loaded, from where, and why.

    Derived in notebooks/06_stable_diffusion.ipynb §2.
    """

    kind: str  # "real", "shapes" or "tiny"
    source: str
    device: str
    dtype: str
    reason: str

    @property
    def is_real(self) -> bool:
        return self.kind == "real"

    def __str__(self) -> str:
        size = SD15_UNET_CONFIG["sample_size"] * vae_factor(SD15_VAE_CONFIG)
        loaded = f"loaded with StableDiffusionPipeline.from_pretrained({self.source!r})"
        real = f"On a CUDA GPU with the weights reachable, the same code loads {SD15_MODEL_ID} in float16 and draws "
        lines = {
            "real": [
                f"Running the REAL Stable Diffusion 1.5 ({self.source}) on {self.device} in {self.dtype}.",
                f"Why: {self.reason}.",
                f"Images are {size}x{size} by default and follow the prompt.",
            ],
            "shapes": [
                f"Running the SHAPES model on {self.device} in {self.dtype}: SD's own classes (CLIPTextModel, "
                "UNet2DConditionModel, AutoencoderKL, DDIMScheduler), small, and trained on a CPU in Module 09, "
                f"{loaded}.",
                f"Why: {self.reason}.",
                "It draws 32x32 scenes of circles, squares and triangles in red, green, blue and yellow, and it knows "
                f"only the words of its captions, such as {SHAPES_PROMPT!r}.",
                real + f"{size}x{size} images of anything you describe.",
            ],
            "tiny": [
                f"Running the TINY pipeline on {self.device} in {self.dtype}: SD 1.5's classes, much narrower and "
                f"randomly initialised, {loaded}.",
                f"Why: {self.reason}.",
                "Every step of the pipeline runs for real, but its weights are random: its images are structured "
                "noise, not pictures of the prompt.",
                real + f"{size}x{size} images that follow the prompt.",
            ],
        }[self.kind]
        return "\n".join(textwrap.fill(line, 100, break_on_hyphens=False) for line in lines)  # whole words per line
