"""Module 09's shapes model: the scenes and their grammar, the readers, and the shipped pipeline run by diffusers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers.sd.loop import generate_by_hand, seeded_generator
from helpers.sd.shapes import SHAPES_DIR
from helpers.text_to_image import measure, parts, readers, scenes, twin
from helpers.text_to_image.attention import Recorder, cross_attention

torch.set_num_threads(1)  # small models: one thread is fastest and immune to a busy neighbour


@pytest.fixture(scope="module")
def pipe():
    pipe = twin.load_twin()
    pipe.scheduler = parts.build_scheduler("DDIMScheduler")
    return pipe


def test_scenes_are_the_same_for_a_seed_and_keep_the_held_out_pairs_out_of_training():
    a, b = scenes.make_scenes(300, seed=3), scenes.make_scenes(300, seed=3)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    assert not np.array_equal(a[0], scenes.make_scenes(300, seed=4)[0])
    pairs = lambda split: {(s.colour, s.shape) for shapes in scenes.make_scenes(600, 5, split)[2] for s in shapes}
    assert pairs("train").isdisjoint(scenes.HELD_OUT) and len(pairs("train")) == 12 - len(scenes.HELD_OUT)
    assert pairs("held_out") == set(scenes.HELD_OUT)
    images, captions, _ = a
    assert images.shape == (300, 3, 32, 32) and images.min() == -1 and images.max() <= 1
    assert all(set(c.split()) <= set(scenes.vocabulary()) for c in captions)
    with pytest.raises(ValueError, match="split must be"):
        scenes.make_scenes(3, split="test")


def test_readers_read_back_what_was_drawn():
    images, _, drawn = scenes.make_scenes(300, seed=21, split="all")
    right = dict.fromkeys(("count", "colour", "shape", "size", "row", "column"), 0)
    for image, shapes in zip(images, drawn):
        found = readers.read(image)
        right["count"] += len(found) == len(shapes)
        for s in shapes if len(found) == len(shapes) else ():
            nearest = min(found, key=lambda r: (r.y - s.y) ** 2 + (r.x - s.x) ** 2)
            for k in ("colour", "shape", "size", "row", "column"):
                right[k] += getattr(nearest, k) == getattr(s, k)
    total = sum(len(s) for s in drawn)
    assert right["count"] == len(drawn)
    assert all(right[k] == total for k in ("colour", "size", "row", "column")), right
    assert right["shape"] >= 0.98 * total, right


def test_every_word_of_the_grammar_is_one_token(tmp_path):
    tokenizer = parts.build_tokenizer(tmp_path / "tok")
    for word in scenes.vocabulary():
        assert len(tokenizer(word).input_ids) == 3, word  # start, the word, end
    longest = max(scenes.corpus().splitlines(), key=lambda c: len(c.split()))
    assert len(tokenizer(longest).input_ids) <= parts.MAX_TOKENS


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("a photograph of an astronaut", "never saw 'an', 'astronaut', 'photograph'"),
        ("", "the prompt is empty"),
        ("a red circle " * 4, "at most 10"),
        ("a purple circle", "never saw 'purple'"),
    ],
)
def test_a_prompt_outside_the_grammar_is_refused_with_the_words_to_use(prompt, message):
    with pytest.raises(ValueError, match=message) as error:
        twin.check_prompt(prompt)
    assert "use only these words" in str(error.value) or "Shorten" in str(error.value) or "describe" in str(error.value)


def test_a_wrong_image_size_is_refused(pipe):
    with pytest.raises(ValueError, match="makes 32×32 images; got 64×64"):
        twin.generate(pipe, "a red circle", height=64, width=64)


def test_the_shipped_folder_is_a_stable_diffusion_pipeline_with_a_measured_scale():
    index = json.loads((SHAPES_DIR / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert {index[k][1] for k in ("vae", "text_encoder", "unet")} == {
        "AutoencoderKL",
        "CLIPTextModel",
        "UNet2DConditionModel",
    }
    size = sum(f.stat().st_size for f in SHAPES_DIR.rglob("*") if f.is_file())
    assert size <= 20e6, size
    scale = json.loads((SHAPES_DIR / "vae" / "config.json").read_text())["scaling_factor"]
    assert scale != 0.18215 and 0.05 < scale < 20  # measured from the latents, not SD's


def test_the_hand_written_loop_of_module_06_gives_the_pipelines_pixels(pipe):
    prompt = "a small red circle at the top left"
    theirs = pipe(prompt, num_inference_steps=10, guidance_scale=4.0, generator=seeded_generator(5), output_type="pt")
    ours = generate_by_hand(pipe, prompt, steps=10, guidance_scale=4.0, seed=5, progress=False)
    assert torch.allclose(ours, theirs.images, atol=1e-5)


def test_cross_attention_by_hand_is_diffusers_attention(pipe):
    layers = [m for name, m in pipe.unet.named_modules() if name.endswith("attn2")]
    assert layers
    generator = torch.Generator().manual_seed(0)
    for attn in layers:
        x = torch.randn(2, 16, attn.to_q.in_features, generator=generator)
        text = torch.randn(2, parts.MAX_TOKENS, attn.to_k.in_features, generator=generator)
        ours, weights = cross_attention(attn, x, text)
        with torch.no_grad():
            assert torch.allclose(ours, attn(x, encoder_hidden_states=text), atol=1e-5)
        assert torch.allclose(weights.sum(-1), torch.ones(()), atol=1e-5)


def test_recording_the_attention_changes_no_pixel(pipe):
    plain = twin.generate(pipe, "a blue square on the right", seed=2, num_inference_steps=8, guidance_scale=4.0)
    recorder = Recorder(pipe.unet, size=8)
    try:
        recorded = twin.generate(pipe, "a blue square on the right", seed=2, num_inference_steps=8, guidance_scale=4.0)
    finally:
        recorder.close()
    assert torch.allclose(plain, recorded, atol=1e-5)
    maps = recorder.maps()
    assert maps.shape == (1, parts.MAX_TOKENS, 8, 8)


def test_the_shipped_model_draws_what_one_shape_prompts_ask(pipe):
    captions, asked = measure.prompts(40, seed=7)
    images = twin.generate(pipe, captions, seed=0, num_inference_steps=20, guidance_scale=4.0).numpy()
    rates = measure.score_one_shape(images, asked)
    assert rates["colour"].value >= 0.9 and rates["shape"].value >= 0.85, {k: v.show(2) for k, v in rates.items()}


def test_one_negative_prompt_serves_the_batch_and_is_checked_too(pipe):
    both = twin.generate(pipe, ["a circle", "a square"], negative_prompt="red", num_inference_steps=3)
    assert both.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="never saw 'purple'"):
        twin.generate(pipe, "a circle", negative_prompt="purple", num_inference_steps=3)
