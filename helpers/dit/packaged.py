"""The digits denoisers that ``scripts/train_dits.py`` trained for Module 10, shipped in helpers/weights/dit/.

Each file, written by ``helpers.pretrained.save_weights(..., dtype=torch.float16)``, holds the weights in half
precision (to halve the download; they are used in float32), the model's config, and how it was trained: steps,
seconds, torch threads, recipe and seed. Derived in notebooks/10_diffusion_transformers.ipynb §4.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from safetensors.torch import load_file
from torch import nn

from helpers.dit.mmdit import MMDiT, MMDiTConfig
from helpers.dit.variants import build_dit
from helpers.models import build_model
from helpers.pretrained import read_metadata

EQUAL_TIME = ("unet-60s", "dit-p4-60s", "dit-p2-60s")  # each trained for 60 s on 2 cores
SCALING = ("dit-w32-p4", "dit-w64-p4", "dit-w96-p4", "dit-w64-p2")  # each trained for the same 400 steps
PACKAGED = (*EQUAL_TIME, *SCALING, "mmdit-shapes")


def weights_dir() -> Path:
    """helpers/weights/dit/, where the files live (found with importlib.resources, as helpers.pretrained does).

    Derived in notebooks/10_diffusion_transformers.ipynb §4.
    """
    try:
        return Path(str(resources.files("helpers"))) / "weights" / "dit"
    except (NotADirectoryError, TypeError):  # helpers as a namespace package under an editable install
        return Path(__file__).resolve().parent.parent / "weights" / "dit"


def build(config: dict[str, Any]) -> nn.Module:
    """A fresh model of a stored config: a DiT of any conditioning, the MM-DiT, or the course's U-Net.

    Derived in notebooks/10_diffusion_transformers.ipynb §4.
    """
    kind = config.get("kind")
    if kind == "dit":
        return build_dit(config)
    if kind == "mmdit":
        return MMDiT(MMDiTConfig(**{k: v for k, v in config.items() if k != "kind"}))
    return build_model(config)


def packaged_metadata(name: str) -> dict[str, Any]:
    """How the packaged model ``name`` was trained (its config included).

    Derived in notebooks/10_diffusion_transformers.ipynb §4.
    """
    if name not in PACKAGED:
        raise ValueError(f"no packaged Module 10 model named {name!r}; there are {', '.join(map(repr, PACKAGED))}.")
    return read_metadata(weights_dir() / f"{name}.safetensors")


def load_packaged(name: str) -> nn.Module:
    """The packaged model ``name`` in float32 and eval mode, its weights frozen.

    Derived in notebooks/10_diffusion_transformers.ipynb §4.
    """
    model = build(packaged_metadata(name)["config"])
    state = {k: v.float() for k, v in load_file(str(weights_dir() / f"{name}.safetensors")).items()}
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)
