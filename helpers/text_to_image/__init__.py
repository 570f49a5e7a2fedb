"""Text to image from scratch: Module 09's shapes model, every part of Stable Diffusion trained on a CPU.

- :mod:`helpers.text_to_image.scenes`: captioned scenes made by code, and the held-out colour-and-shape pairs;
- :mod:`helpers.text_to_image.readers`: each shape's colour, shape, size and place, read back from pixels;
- :mod:`helpers.text_to_image.parts`: the four parts (AutoencoderKL, CLIPTextModel, UNet2DConditionModel,
  a scheduler) at a small size, and the grammar's tokenizer;
- :mod:`helpers.text_to_image.train`: the trainers, in Stable Diffusion's order, and the recipe;
- :mod:`helpers.text_to_image.twin`: the pipeline, assembled, saved, loaded offline; prompt checks;
- :mod:`helpers.text_to_image.measure`: prompts with known answers, and rates with their SEs;
- :mod:`helpers.text_to_image.attention`: cross-attention by hand, and a recorder of its maps.

Derived in notebooks/09_text_to_image.ipynb.
"""
