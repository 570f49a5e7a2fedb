"""Save and load model weights, and the packaged digits U-Net (helpers/weights/digits_unet.safetensors).

``load_pretrained()`` is the model the digits lessons (Modules 03-05, 07, 08) load; ``pretrained_metadata()`` says
how it was trained. ``python scripts/train_pretrained.py`` made it: that script holds the training
and the evaluation, and its docstring the recipe and the measured numbers.
"""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from helpers.models import DigitsUNet, build_model, config_to_dict

PRETRAINED_FILE = "digits_unet.safetensors"


def save_weights(model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Write the model's weights to a safetensors file, with its config and ``metadata`` as JSON strings in its header.

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    header = {"config": json.dumps(config_to_dict(model.config))}
    header.update({k: json.dumps(v) for k, v in (metadata or {}).items()})
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata=header)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON-decoded metadata of a file written by save_weights (always has "config", as a dict).

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata() or {}
    if "config" not in header:
        raise ValueError(f"{path} has no model config in its metadata; was it written by helpers.models.save_weights?")
    return {k: json.loads(v) for k, v in header.items()}


def load_weights(path: str | Path) -> nn.Module:
    """Rebuild the model described by the file's config and load its weights (eval mode).

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    model = build_model(read_metadata(path)["config"])
    model.load_state_dict(load_file(str(path)))
    return model.eval()


def pretrained_path() -> Traversable:
    """The packaged weights of the class-conditional digits U-Net, found with importlib.resources.

    Derived in notebooks/04_sampling.ipynb §0.
    """
    try:
        root = resources.files("helpers")
    except (NotADirectoryError, TypeError):  # helpers as a namespace package under an editable install
        root = Path(__file__).resolve().parent
    return root / "weights" / PRETRAINED_FILE


def pretrained_metadata() -> dict[str, Any]:
    """How the packaged U-Net was trained: config, schedule, T, p_uncond, steps, seed (see scripts/train_pretrained.py).

    Derived in notebooks/04_sampling.ipynb §0.
    """
    with resources.as_file(pretrained_path()) as path:
        return read_metadata(path)


def load_pretrained() -> DigitsUNet:
    """The class-conditional digits U-Net trained by scripts/train_pretrained.py, in eval mode (eps prediction).

    Derived in notebooks/04_sampling.ipynb §0.
    """
    with resources.as_file(pretrained_path()) as path:
        return load_weights(path)


# The packaged U-Net's recipe (scripts/train_pretrained.py trains by it; the file's metadata records it)
SCHEDULE, T, P_UNCOND, STEPS, BATCH, LR, SEED, EMA_DECAY = "cosine", 1000, 0.15, 5000, 128, 2e-3, 0, 0.999


def recipe(steps: int) -> dict[str, Any]:
    """The metadata stored beside the weights: enough to rebuild the schedule and repeat the run.

    Derived in notebooks/04_sampling.ipynb §0.
    """
    return {
        "schedule": SCHEDULE,
        "T": T,
        "target": "eps",
        "p_uncond": P_UNCOND,
        "steps": steps,
        "batch_size": BATCH,
        "lr": LR,
        "seed": SEED,
        "ema_decay": EMA_DECAY,
        "data": "helpers.data.digits_split() training part",
        "script": "scripts/train_pretrained.py",
    }
