"""Old import paths keep working for one release: every path an already-downloaded notebook or a teacher's script uses.

The names come from the lessons and exercises as they were published before helpers was
reorganised, plus the documented teacher and contributor paths. A moved name resolves to the
very object in its new home (one home per formula) and warns with a DeprecationWarning.
"""

from __future__ import annotations

import importlib
import warnings

import pytest

# (old path, its home now; None when the name did not move)
OLD_PATHS = {
    "helpers.blanks.___": None,
    "helpers.data.digits_split": None,
    "helpers.data.two_moons": None,
    "helpers.device.setup_torch": None,
    "helpers.guidance.cfg_eps": None,
    "helpers.guidance.guidance_sweep": None,
    "helpers.guidance.guided_eps_fn": None,
    "helpers.guidance.guided_samples": None,
    "helpers.guidance.clip_consistent_eps": "helpers.sampling.clip_consistent_eps",
    "helpers.guidance.drop_labels": "helpers.training.drop_labels",
    "helpers.guidance.saturation": "helpers.metrics.saturation",
    "helpers.guidance.sweep_metrics": "helpers.metrics.sweep_metrics",
    "helpers.guidance.within_class_diversity": "helpers.metrics.within_class_diversity",
    "helpers.images.PHOTOS": None,
    "helpers.images.load_photo": None,
    "helpers.images.to_png": None,
    "helpers.images.to_uint8": None,
    "helpers.metrics.class_accuracy": None,
    "helpers.metrics.classifier_held_out_accuracy": None,
    "helpers.metrics.digits_classifier": None,
    "helpers.metrics.digits_frechet_distance": None,
    "helpers.metrics.energy_distance": None,
    "helpers.metrics.real_frechet_baseline": None,
    "helpers.models.DigitsUNet": None,
    "helpers.models.MLPDenoiser": None,
    "helpers.models.NULL_CLASS": None,
    "helpers.models.build_model": None,
    "helpers.models.count_parameters": None,
    "helpers.models.load_pretrained": None,
    "helpers.models.pretrained_metadata": None,
    "helpers.plotting.animate_images": None,
    "helpers.plotting.show_images": None,
    "helpers.quiz.Question": None,
    "helpers.quiz.Quiz": None,
    "helpers.sampling.ddim_sample": None,
    "helpers.sampling.ddim_sigma": None,
    "helpers.sampling.ddim_step": None,
    "helpers.sampling.ddpm_sample": None,
    "helpers.sampling.ddpm_step": None,
    "helpers.sampling.make_timesteps": None,
    "helpers.sampling.posterior_mean_variance": None,
    "helpers.sampling.predict_x0": None,
    "helpers.sampling.extract": "helpers.schedules.at",
    "helpers.sampling.check_timesteps": "helpers.sampling.check_timestep_sequence",
    "helpers.schedules.Schedule": None,
    "helpers.schedules.cosine_betas": None,
    "helpers.schedules.q_sample": None,
    "helpers.training.diffusion_loss": None,
    "helpers.training.train": None,
    "helpers.training.q_sample": "helpers.schedules.q_sample",
    "helpers.training.torch_schedule": "helpers.schedules.torch_schedule",
    "helpers.training.save_weights": "helpers.pretrained.save_weights",
    "helpers.training.load_weights": "helpers.pretrained.load_weights",
    "helpers.training.read_metadata": "helpers.pretrained.read_metadata",
    "helpers.widgets.dissolve_widget": None,
    "helpers.widgets.fixed_noise": None,
    "helpers.sd.classifier_free_guidance": "helpers.guidance.cfg_eps",
    **{
        f"helpers.sd.{name}": None
        for name in (
            "REMOVED_MODEL_ID",
            "SD15_MODEL_ID",
            "SD15_SCHEDULER_CONFIG",
            "SD15_TEXT_ENCODER_CONFIG",
            "SD15_UNET_CONFIG",
            "SD15_VAE_CONFIG",
            "TINY_UNET_CONFIG",
            "check_tokenizer",
            "count_parameters",
            "generate_by_hand",
            "latent_shape",
            "load_from",
            "load_pipeline",
            "median_seconds",
            "quiet",
            "shipped_vocab_size",
            "tiny_pipeline_dir",
            "tokenizer_dir",
            "toy_eps",
            "toy_sample",
            "unet_flops",
            "vae_factor",
            "seeded_generator",
            "decode_latents",
            "encode_prompt",
            "PROMPT_CORPUS",
            "tokenizer_files",
            "load_tokenizer",
            "PipelineReport",
            "try_real",
        )
    },
    # The teacher's and contributor's documented paths, now in helpers.teach.
    "helpers.classroom.main": "helpers.teach.classroom.main",
    "helpers.classroom.grade": "helpers.teach.classroom.grade",
    "helpers.classroom.student_from_name": "helpers.teach.intake.student_from_name",
    "helpers.grading.FillInTheBlanks": "helpers.teach.preprocessors.FillInTheBlanks",
    "helpers.grading.split_marked_line": "helpers.teach.preprocessors.split_marked_line",
    "helpers.notebooks.execute": "helpers.teach.notebooks.execute",
    "helpers.notebooks.ROOT": "helpers.paths.ROOT",
    "helpers.doctor.doctor": "helpers.teach.doctor.doctor",
    "helpers.doctor.main": "helpers.teach.doctor.main",
    "helpers.colab.point_at": "helpers.teach.colab.point_at",
    "helpers.colab.badge": "helpers.teach.colab.badge",
}


def resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("old, home", OLD_PATHS.items(), ids=list(OLD_PATHS))
def test_old_path_still_imports(old, home):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = resolve(old)
    assert value is not None
    if home is None:
        return
    assert value is resolve(home), f"{old} is a copy, not the object in its home {home}"
    moved_name = any(
        issubclass(w.category, DeprecationWarning) and home.rpartition(".")[2] in str(w.message) for w in caught
    )
    shim_module = old.rpartition(".")[0] in (
        "helpers.classroom",
        "helpers.grading",
        "helpers.notebooks",
        "helpers.doctor",
        "helpers.colab",
    )
    assert moved_name or shim_module, f"{old} moved to {home} but importing it gives no DeprecationWarning"


def test_an_old_exercise_line_runs_and_says_where_the_name_went():
    with pytest.warns(DeprecationWarning, match=r"helpers.training.q_sample moved to helpers.schedules.q_sample"):
        exec("from helpers.training import q_sample", {})


def test_the_old_classroom_command_still_starts():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "helpers.classroom", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "--no-sandbox" in out.stdout
