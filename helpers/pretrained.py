"""Save and load model weights, and the digits U-Nets packaged with the course (helpers/weights/).

``load_pretrained()`` is the model the digits lessons (Modules 03-05, 07, 08) load; ``pretrained_metadata()`` says
how it was trained. ``load_pretrained(name)`` loads the others in ``PACKAGED``: the same recipe trained as a
flow (Module 07), and the one-minute recipe of Module 03 run to its full 1,500 steps for each target
(Module 03 §5). ``python scripts/train_pretrained.py --model NAME`` made each: that script holds the
training and the evaluation, and its docstring the recipes and the measured numbers.
"""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from helpers.models import DigitsUNet, build_model, config_to_dict

PACKAGED = {  # name: file in helpers/weights/
    "eps": "digits_unet.safetensors",  # the course's digits model, predicting the noise
    "flow": "digits_flow_unet.safetensors",  # the same recipe, predicting the velocity (Module 07)
    "eps-on-flow-path": "digits_unet_eps_on_flow_path.safetensors",  # Module 07: the flow's path, the noise target
    "v-on-diffusion-path": "digits_unet_v_on_diffusion_path.safetensors",  # Module 07: diffusion's path, v target
    "one-minute-eps": "digits_unet_one_minute_eps.safetensors",  # Module 03's ONE_MINUTE recipe, all 1,500 steps
    "one-minute-x0": "digits_unet_one_minute_x0.safetensors",  # ... the same run predicting the clean image
}


def save_weights(
    model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None, dtype: torch.dtype | None = None
) -> None:
    """Write the model's weights to a safetensors file, with its config and ``metadata`` as JSON strings in its header.

    ``dtype`` stores the weights in another precision (Module 10 ships float16 to halve the download).

    Derived in notebooks/03_training_objective.ipynb §4.
    """
    header = {"config": json.dumps(config_to_dict(model.config))}
    header.update({k: json.dumps(v) for k, v in (metadata or {}).items()})
    tensors = {k: v.detach().to(dtype or v.dtype).contiguous().cpu() for k, v in model.state_dict().items()}
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


def pretrained_path(name: str = "eps") -> Traversable:
    """The packaged weights of a class-conditional digits U-Net (a name in PACKAGED), found with importlib.resources.

    Derived in notebooks/04_sampling.ipynb §0.
    """
    if name not in PACKAGED:
        raise ValueError(f"no packaged model named {name!r}; the course packages {', '.join(map(repr, PACKAGED))}.")
    try:
        root = resources.files("helpers")
    except (NotADirectoryError, TypeError):  # helpers as a namespace package under an editable install
        root = Path(__file__).resolve().parent
    return root / "weights" / PACKAGED[name]


def pretrained_metadata(name: str = "eps") -> dict[str, Any]:
    """How a packaged U-Net was trained: config, schedule, T, target, steps, seed... (see scripts/train_pretrained.py).

    Derived in notebooks/04_sampling.ipynb §0.
    """
    with resources.as_file(pretrained_path(name)) as path:
        return read_metadata(path)


def load_pretrained(name: str = "eps") -> DigitsUNet:
    """A class-conditional digits U-Net trained by scripts/train_pretrained.py, in eval mode.

    ``name`` is one of PACKAGED: by default the course's noise predictor.
    Derived in notebooks/04_sampling.ipynb §0.
    """
    with resources.as_file(pretrained_path(name)) as path:
        return load_weights(path)


# The packaged U-Net's recipe (scripts/train_pretrained.py trains by it; the file's metadata records it)
SCHEDULE, T, P_UNCOND, STEPS, BATCH, LR, SEED, EMA_DECAY = "cosine", 1000, 0.15, 5000, 128, 2e-3, 0, 0.999


def recipe(steps: int, target: str = "eps", **changes: Any) -> dict[str, Any]:
    """The metadata stored beside the weights: enough to rebuild the schedule and repeat the run.

    The packaged recipe's values, with ``target`` and any ``changes`` (the one-minute models' lr, EMA...).
    Derived in notebooks/04_sampling.ipynb §0.
    """
    return {
        "schedule": SCHEDULE,
        "T": T,
        "target": target,
        "p_uncond": P_UNCOND,
        "steps": steps,
        "batch_size": BATCH,
        "lr": LR,
        "seed": SEED,
        "ema_decay": EMA_DECAY,
        "data": "helpers.data.digits_split() training part",
        "script": "scripts/train_pretrained.py",
        **changes,
    }
