"""The shapes model that Module 09 trains, as the CPU's Stable Diffusion for Modules 06 and 08.

Its folder ``helpers/weights/shapes_sd/`` is a ``save_pretrained`` StableDiffusionPipeline of SD's own
classes (``python scripts/train_twin.py`` makes it on 2 CPU cores in under 10 minutes). It draws 32 x 32
scenes of circles, squares and triangles, and its tokenizer knows only the words of its captions.
Derived in notebooks/06_stable_diffusion.ipynb §2 (loaded) and notebooks/09_text_to_image.ipynb §3 (trained).
"""

from __future__ import annotations

from pathlib import Path

SHAPES_DIR = Path(__file__).resolve().parents[1] / "weights" / "shapes_sd"
# Captions the shapes model was taught, which SD 1.5 also draws: the prompts of Modules 06 and 08.
SHAPES_PROMPT = "a large red circle in the middle"
SHAPES_EDIT_PROMPT = "a large blue square in the middle"


def check_shapes_folder(folder: str | Path = SHAPES_DIR) -> Path:
    """``folder`` as a Path, or a FileNotFoundError naming the script that makes it.

    Derived in notebooks/06_stable_diffusion.ipynb §2.
    """
    folder = Path(folder)
    if not (folder / "model_index.json").is_file():
        raise FileNotFoundError(
            f"{folder} holds no saved pipeline (no model_index.json); make it with `python scripts/train_twin.py`."
        )
    return folder
