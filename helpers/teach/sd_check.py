"""The doctor's Stable Diffusion line: will Module 06 run the real SD 1.5 here, or the shapes model (Module 09's)?"""

from __future__ import annotations

import threading
from pathlib import Path

from helpers.teach.env import HUB_TIMEOUT_S, PIP_FIX, SD15_MODEL_ID, Check, hub_offline, installed_version


def weights_in_cache(cache_dir: str | Path | None = None) -> str | None:
    """The cached path of SD 1.5's model_index.json, or None when it is not in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(SD15_MODEL_ID, "model_index.json", cache_dir=cache_dir)
    return found if isinstance(found, str) else None


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> tuple[bool, str]:
    """Ask the Hugging Face Hub about SD 1.5, giving up after ``timeout`` seconds; return (reachable, why not)."""
    result: list[tuple[bool, str]] = []

    def ask() -> None:
        try:
            from huggingface_hub import HfApi

            HfApi().model_info(SD15_MODEL_ID, timeout=timeout)
            result.append((True, ""))
        except Exception as err:
            first = (str(err).strip().splitlines() or [""])[0]
            result.append((False, f"{type(err).__name__}: {first[:120]}"))

    thread = threading.Thread(target=ask, daemon=True)  # a stuck DNS lookup must not hang the doctor
    thread.start()
    thread.join(timeout + 1)
    return result[0] if result else (False, f"no answer within {timeout:.0f} s")


def _where(cache_dir, offline: bool) -> tuple[str | None, bool, str]:
    """(cached path, Hub reachable, what was found, in words)."""
    cached = weights_in_cache(cache_dir)
    where = [
        f"{SD15_MODEL_ID} is in the local Hugging Face cache"
        if cached
        else f"{SD15_MODEL_ID} is not in the local cache"
    ]
    reachable = False
    if offline:
        where.append("hub not asked (HF_HUB_OFFLINE=1)")
    else:
        reachable, why = hub_reachable()
        where.append("the Hub is reachable" if reachable else f"the Hub is not reachable ({why})")
    return cached, reachable, "; ".join(where)


def check_weights(cuda: bool, cache_dir: str | Path | None = None, offline: bool | None = None) -> Check:
    """Will Module 06 load the real SD 1.5 (a CUDA GPU and weights cached or reachable) or the shapes model?"""
    if installed_version("huggingface-hub") is None:
        return Check(
            "SD weights",
            "note",
            "cannot check: huggingface_hub is not installed; "
            "Modules 06 and 08 will use the shapes model trained in Module 09",
            PIP_FIX,
        )
    offline = hub_offline() if offline is None else offline
    cached, reachable, detail = _where(cache_dir, offline)
    if cuda and (cached or reachable):
        download = "" if cached else ", after a first download of about 2 GB"
        return Check("SD weights", "ok", f"{detail}: Module 06 will run the real Stable Diffusion 1.5{download}")
    detail += ": Modules 06 and 08 will use the shapes model trained in Module 09 (32x32 scenes of shapes)"
    if not cuda:
        return Check(
            "SD weights",
            "note",
            detail + " (no CUDA GPU)",
            "the real model needs a CUDA GPU: on Colab choose Runtime > Change runtime type > GPU",
        )
    if offline:
        return Check(
            "SD weights",
            "note",
            detail,
            "unset HF_HUB_OFFLINE and connect to the internet once; the first run "
            "downloads the weights (about 2 GB) into the Hugging Face cache",
        )
    return Check(
        "SD weights",
        "note",
        detail,
        "connect to the internet (huggingface.co) once; the first run downloads "
        "the weights (about 2 GB) into the Hugging Face cache",
    )
