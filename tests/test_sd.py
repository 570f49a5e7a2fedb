"""helpers.sd: the SD 1.5 configs, the offline tokenizer, the one loading path, and the unrolled loop vs diffusers."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported: a hub lookup fails at once

import pytest
import torch

from helpers import sd


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny pipeline's tensors are small; one thread avoids oversubscribing a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    sd.quiet()
    yield
    torch.set_num_threads(before)


# --- the configurations --------------------------------------------------------------------------------


def test_sd15_configs_build_the_published_parameter_counts():
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(**sd.SD15_UNET_CONFIG)
        vae = AutoencoderKL(**sd.SD15_VAE_CONFIG)
        text_encoder = CLIPTextModel(CLIPTextConfig(**sd.SD15_TEXT_ENCODER_CONFIG))
    # SD 1.5's safetensors hold these counts (U-Net "860M", CLIP ViT-L/14 text tower "123M").
    assert sd.count_parameters(unet) == 859_520_964
    assert sd.count_parameters(vae) == 83_653_863
    assert sd.count_parameters(text_encoder) == 123_060_480


def test_scheduler_config_gives_diffusers_scaled_linear_betas():
    from diffusers import DDIMScheduler, PNDMScheduler

    pndm = PNDMScheduler.from_config(sd.SD15_SCHEDULER_CONFIG)
    expected = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float32) ** 2
    assert torch.allclose(pndm.betas, expected)
    assert DDIMScheduler.from_config(pndm.config).config.steps_offset == 1


def test_vae_factor_comes_from_the_config_and_matches_the_encoder():
    from diffusers import AutoencoderKL

    assert sd.vae_factor(sd.SD15_VAE_CONFIG) == 8 == sd.vae_factor(sd.TINY_VAE_CONFIG)
    assert sd.vae_factor({"block_out_channels": [1, 2, 3]}) == 4
    assert sd.latent_shape(512, 512) == (4, 64, 64)
    assert sd.latent_shape(768, 512) == (4, 96, 64)
    vae = sd.on_meta(AutoencoderKL, sd.SD15_VAE_CONFIG)
    with torch.device("meta"):
        z = vae.encode(torch.empty(1, 3, 512, 512)).latent_dist.mean
    assert tuple(z.shape) == (1, *sd.latent_shape(512, 512))
    with pytest.raises(ValueError, match="multiples of the VAE factor 8"):
        sd.latent_shape(500, 512)


def test_pixel_space_unet_costs_far_more_than_latent():
    latent = sd.unet_flops(sd.SD15_UNET_CONFIG, 4, 64)
    pixel = sd.unet_flops(sd.SD15_UNET_CONFIG, 3, 512)
    assert latent["total"] == latent["convolution"] + latent["attention"] + latent["linear"]
    # convolutions see 64x more positions; attention grows with the square of the positions
    assert 50 < pixel["convolution"] / latent["convolution"] < 70
    assert pixel["attention"] / latent["attention"] > 1000


# --- the tokenizer ----------------------------------------------------------------------------------------


def test_shipped_tokenizer_files_are_what_the_generator_makes():
    for name, text in sd.tokenizer_files().items():
        assert (sd.tokenizer_dir() / name).read_text(encoding="utf-8") == text, (
            f"helpers/tokenizer/{name} is stale; run sd.write_tokenizer_files(sd.tokenizer_dir())"
        )


def test_tokenizer_has_its_vocabulary_and_keeps_the_words():
    tokenizer = sd.load_tokenizer()
    vocab = json.loads((sd.tokenizer_dir() / "vocab.json").read_text(encoding="utf-8"))
    assert len(tokenizer) == len(vocab) == sd.shipped_vocab_size() > 1000
    assert tokenizer.model_max_length == 77
    ids = tokenizer("a photograph of an astronaut riding a horse on mars").input_ids
    assert len(ids) == 10 + 2, tokenizer.convert_ids_to_tokens(ids)  # one token per word, plus start and end
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert all(len(tokenizer(word).input_ids) == 3 for word in sd.corpus_words()), "every corpus word is one token"
    # unseen words still tokenize, into pieces
    assert len(tokenizer("quokka").input_ids) > 3
    assert (
        tokenizer.decode(tokenizer("a red fox in the snow").input_ids, skip_special_tokens=True)
        == "a red fox in the snow"
    )


def test_check_tokenizer_catches_a_tokenizer_that_ignored_its_files():
    from transformers import CLIPTokenizer

    folder = sd.tokenizer_dir()
    ignored = CLIPTokenizer(vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt"))
    with pytest.raises(RuntimeError, match="tokens, expected"):
        sd.check_tokenizer(ignored, sd.shipped_vocab_size())
    with pytest.raises(RuntimeError, match="only start and end tokens"):
        sd.check_tokenizer(ignored, len(ignored))


def test_train_bpe_is_deterministic_and_merges_frequent_pairs_first():
    import collections

    merges = sd.train_bpe(collections.Counter({"low": 5, "lower": 2, "newest": 6, "widest": 3}))
    assert merges == sd.train_bpe(collections.Counter({"widest": 3, "newest": 6, "lower": 2, "low": 5}))
    assert merges[0] == ("e", "s")  # 9 occurrences, the most frequent pair (Sennrich et al. 2016's example)


# --- loading ------------------------------------------------------------------------------------------------


def test_tiny_pipeline_loads_through_from_pretrained_and_says_so(pipe):
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    _, report = sd.load_pipeline(prefer="tiny", progress=False)
    assert report.kind == "tiny" and not report.is_real
    assert (sd.tiny_pipeline_dir() / "model_index.json").exists()
    assert report.source == str(sd.tiny_pipeline_dir())
    text = str(report)
    assert "TINY" in text and "prefer='tiny'" in text and sd.SD15_MODEL_ID in text and "random" in text
    assert isinstance(pipe.unet, UNet2DConditionModel) and isinstance(pipe.vae, AutoencoderKL)
    assert isinstance(pipe.text_encoder, CLIPTextModel) and isinstance(pipe.tokenizer, CLIPTokenizer)
    assert isinstance(pipe.scheduler, PNDMScheduler)
    assert len(pipe.tokenizer) == sd.shipped_vocab_size() == pipe.text_encoder.config.vocab_size
    assert pipe.vae_scale_factor == 8


def test_tiny_pipeline_is_seeded(pipe):
    built = sd.build_tiny_pipeline()
    for name in ("unet", "vae", "text_encoder"):
        saved, fresh = getattr(pipe, name).state_dict(), getattr(built, name).state_dict()
        assert saved.keys() == fresh.keys()
        assert all(torch.equal(saved[k], fresh[k]) for k in saved), f"{name} differs from a fresh seeded build"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_on_a_cpu_modules_06_and_08_get_the_trained_shapes_model_and_it_follows_the_prompt():
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    from helpers.text_to_image import readers

    pipe, report = sd.load_pipeline(progress=False)
    assert report.kind == "shapes" and not report.is_real and report.source == str(sd.SHAPES_DIR)
    text = str(report)
    assert "SHAPES" in text and "Module 09" in text and "no CUDA GPU" in text and sd.SD15_MODEL_ID in text
    assert isinstance(pipe.unet, UNet2DConditionModel) and isinstance(pipe.vae, AutoencoderKL)
    assert isinstance(pipe.text_encoder, CLIPTextModel)
    asked = {sd.SHAPES_PROMPT: ("red", "circle"), sd.SHAPES_EDIT_PROMPT: ("blue", "square")}
    for prompt, (colour, kind) in asked.items():
        images = pipe(
            [prompt] * 4, num_inference_steps=20, guidance_scale=4.0, generator=sd.seeded_generator(0), output_type="pt"
        ).images  # (4, 3, 32, 32) in [0, 1]
        drawn = [[(s.colour, s.shape) for s in readers.read(image.numpy() * 2 - 1)] for image in images]
        assert sum(d == [(colour, kind)] for d in drawn) >= 3, f"{prompt!r} drew {drawn}"
    _, shapes = sd.load_pipeline(prefer="shapes", progress=False)
    assert shapes.kind == "shapes" and "prefer='shapes'" in str(shapes)


def test_a_missing_shapes_folder_names_the_script_that_makes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="scripts/train_twin.py"):
        sd.check_shapes_folder(tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_without_a_gpu_the_report_says_no_cuda():
    pipe, reason = sd.try_real()
    assert pipe is None and reason.startswith("no CUDA GPU")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        sd.load_pipeline(prefer="real")


def test_with_a_gpu_but_offline_the_report_says_weights_not_reachable(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    pipe, reason = sd.try_real(progress=False)
    if pipe is not None:  # the weights happen to be cached on this machine
        pytest.skip("SD 1.5 is in the local Hugging Face cache")
    assert "not reachable offline (HF_HUB_OFFLINE=1)" in reason and sd.SD15_MODEL_ID in reason


def test_removed_model_id_is_refused_with_the_current_id():
    with pytest.raises(
        ValueError, match=r"runwayml/stable-diffusion-v1-5 was deleted.*stable-diffusion-v1-5/stable-diffusion-v1-5"
    ):
        sd.load_from(sd.REMOVED_MODEL_ID, progress=False)
    with pytest.raises(OSError) as offline:  # the current id is not refused; offline it just cannot download
        sd.load_from(sd.SD15_MODEL_ID, progress=False)
    assert "deleted" not in str(offline.value)


# --- the unrolled loop --------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside diffusers' Euler schedulers
@pytest.mark.parametrize("scheduler", ["PNDMScheduler", "DDIMScheduler", "EulerAncestralDiscreteScheduler"])
def test_generate_by_hand_reproduces_the_pipeline_exactly(pipe, scheduler):
    import diffusers

    original = pipe.scheduler
    pipe.scheduler = getattr(diffusers, scheduler).from_config(original.config)
    try:
        prompt, steps, w, seed = "a red fox in the snow", 8, 7.5, 3
        expected = pipe(
            prompt, num_inference_steps=steps, guidance_scale=w, generator=sd.seeded_generator(seed), output_type="pt"
        ).images
        by_hand = sd.generate_by_hand(pipe, prompt, steps, w, seed, progress=False)
    finally:
        pipe.scheduler = original
    assert by_hand.shape == expected.shape == (1, 3, 64, 64)
    assert torch.equal(by_hand, expected)


def test_generate_by_hand_without_guidance_and_as_latents(pipe):
    kwargs = {
        "num_inference_steps": 5,
        "guidance_scale": 1.0,
        "generator": sd.seeded_generator(1),
        "output_type": "latent",
    }
    expected = pipe("a cat", **kwargs).images
    assert torch.equal(sd.generate_by_hand(pipe, "a cat", 5, 1.0, 1, output_type="latent", progress=False), expected)


def test_different_seeds_and_prompts_give_different_images(pipe):
    a = sd.generate_by_hand(pipe, "a red fox", 4, 7.5, 0, progress=False)
    assert not torch.equal(a, sd.generate_by_hand(pipe, "a red fox", 4, 7.5, 1, progress=False))
    assert not torch.equal(a, sd.generate_by_hand(pipe, "a blue whale", 4, 7.5, 0, progress=False))


def test_pipeline_rejects_a_size_that_is_not_a_multiple_of_the_vae_factor(pipe):
    with pytest.raises(ValueError, match="divisible by 8"):
        pipe("a cat", height=100, width=64, num_inference_steps=1)


# --- the toy world -------------------------------------------------------------------------------------------


def test_toy_eps_is_the_posterior_mean_of_the_noise():
    """Compare with E[eps | x_t] by quadrature over x0 (Bayes' rule on a grid)."""
    alpha_bar, means, std = 0.3, (1.0, -1.0), 0.25
    x_t = torch.tensor([-1.2, 0.1, 0.9], dtype=torch.float64)
    x0 = torch.linspace(-4, 4, 200_001, dtype=torch.float64)[:, None]
    prior = sum(torch.exp(-((x0 - m) ** 2) / (2 * std**2)) for m in means)
    likelihood = torch.exp(-((x_t - alpha_bar**0.5 * x0) ** 2) / (2 * (1 - alpha_bar)))
    posterior = prior * likelihood
    x0_mean = (posterior * x0).sum(0) / posterior.sum(0)
    expected = (x_t - alpha_bar**0.5 * x0_mean) / (1 - alpha_bar) ** 0.5
    assert torch.allclose(sd.toy_eps(x_t, alpha_bar, means, std), expected, atol=1e-8)


def test_toy_sampler_recovers_the_data_with_enough_steps():
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler.from_config(sd.SD15_SCHEDULER_CONFIG)
    few, many = (sd.toy_sample(scheduler, n, means=(0.0,), std=0.5, n=4000).std().item() for n in (2, 100))
    assert few < 0.3 < 0.45 < many < 0.55
    guided = sd.toy_sample(scheduler, 20, guidance_scale=7.5, n=4000)
    assert (guided > 0).all() and guided.mean() > 1.2  # pushed past the data's mode at +1
