"""Diffusion transformers: the denoiser of Stable Diffusion 3 and FLUX, built from its parts on 8x8 digits.

An image becomes a sequence of patch tokens (:mod:`~helpers.dit.tokens`), a stack of transformer blocks
conditioned on t and the class through adaLN-Zero (Peebles & Xie 2023) denoises them
(:mod:`~helpers.dit.model`, with the paper's other two conditionings in :mod:`~helpers.dit.variants`), and
the text of Stable Diffusion 3 enters as tokens of its own in joint attention (:mod:`~helpers.dit.mmdit`).
:mod:`~helpers.dit.packaged` loads the DiTs that ``scripts/train_dits.py`` trained.

Derived in notebooks/10_diffusion_transformers.ipynb.
"""
