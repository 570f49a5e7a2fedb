"""Stable Diffusion 1.5 with diffusers, in eight parts. Derived in notebooks/06_stable_diffusion.ipynb.

- :mod:`helpers.sd.config`: SD 1.5's configuration (its */config.json files) and the tiny twin's;
  the VAE factor and latent shapes;
- :mod:`helpers.sd.cost`: parameters and FLOPs counted on the meta device, and median timings;
- :mod:`helpers.sd.tokenizer`: a small CLIP BPE tokenizer generated offline, and its checks;
- :mod:`helpers.sd.pipeline`: the one loading path (real SD 1.5 on a CUDA GPU, Module 09's shapes model
  elsewhere, a tiny random pipeline on request), and :mod:`helpers.sd.report`, what it says it loaded;
- :mod:`helpers.sd.shapes`: where the shapes model lives, and prompts it was taught;
- :mod:`helpers.sd.loop`: ``pipe(prompt)`` unrolled by hand;
- :mod:`helpers.sd.toy`: a 1-D world with a perfect noise predictor, for diffusers' schedulers.

Latent diffusion is Rombach et al. 2022; classifier-free guidance is Ho & Salimans 2022. Every
name is importable from ``helpers.sd`` itself, as lessons and exercises do (``sd.load_pipeline()``).
"""

from __future__ import annotations

from helpers.sd.config import (  # noqa: F401
    _TINY_BUILD,
    REMOVED_MODEL_ID,
    SD15_MODEL_ID,
    SD15_SCHEDULER_CONFIG,
    SD15_TEXT_ENCODER_CONFIG,
    SD15_TOKENIZER_MAX_LENGTH,
    SD15_UNET_CONFIG,
    SD15_VAE_CONFIG,
    TINY_SEED,
    TINY_TEXT_ENCODER_CONFIG,
    TINY_UNET_CONFIG,
    TINY_VAE_CONFIG,
    latent_shape,
    vae_factor,
)
from helpers.sd.cost import count_parameters, median_seconds, on_meta, unet_flops  # noqa: F401
from helpers.sd.loop import (  # noqa: F401
    decode,
    decode_latents,
    denoise,
    encode_prompt,
    generate_by_hand,
    initial_latents,
    seeded_generator,
    text_embeddings,
)
from helpers.sd.pipeline import (  # noqa: F401
    build_pipeline,
    build_tiny_pipeline,
    cache_root,
    load_from,
    load_pipeline,
    pipeline_class,
    quiet,
    tiny_pipeline_dir,
    try_real,
)
from helpers.sd.report import PipelineReport  # noqa: F401
from helpers.sd.shapes import SHAPES_DIR, SHAPES_EDIT_PROMPT, SHAPES_PROMPT, check_shapes_folder  # noqa: F401
from helpers.sd.tokenizer import (  # noqa: F401
    BOS,
    EOS,
    PROMPT_CORPUS,
    TOKENIZER_FILES,
    bytes_to_unicode,
    check_tokenizer,
    corpus_words,
    load_tokenizer,
    shipped_vocab_size,
    tokenizer_dir,
    tokenizer_files,
    train_bpe,
    write_tokenizer_files,
)
from helpers.sd.toy import toy_eps, toy_sample  # noqa: F401
