"""helpers.pretrained: the packaged digits U-Net loads from the installed package, carries its recipe, draws digits."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from helpers.flow import flow_sample
from helpers.guidance import guided_samples
from helpers.metrics import class_accuracy
from helpers.models import DigitsUNet, config_to_dict
from helpers.pretrained import PACKAGED, load_pretrained, pretrained_metadata, pretrained_path, recipe
from helpers.schedules import Schedule
from helpers.training import ONE_MINUTE

torch.set_num_threads(1)


def test_pretrained_unet_loads_from_the_package_and_draws_recognisable_digits():
    assert pretrained_path().is_file()
    meta = pretrained_metadata()
    model = load_pretrained()
    assert isinstance(model, DigitsUNet) and model.conditional and not model.training
    assert meta["config"] == config_to_dict(model.config) and meta["T"] == model.T == 1000 and meta["target"] == "eps"
    y = torch.arange(50) % 10
    x = guided_samples(model, Schedule.create(meta["schedule"], meta["T"]), y, 3.0, num_steps=20)
    assert x.shape == (50, 1, 8, 8)
    assert class_accuracy(x, y) >= 0.8  # chance is 0.1


def test_the_file_records_the_recipe_that_made_it():
    meta = pretrained_metadata()
    expected = recipe(meta["steps"])
    assert {k: meta[k] for k in expected} == expected


@pytest.mark.parametrize("name", [n for n in PACKAGED if n != "eps"])
def test_every_packaged_model_records_the_recipe_that_made_it(name):
    meta = pretrained_metadata(name)
    model = load_pretrained(name)
    assert isinstance(model, DigitsUNet) and model.conditional and not model.training
    assert meta["config"] == config_to_dict(model.config)
    if name == "flow":  # the packaged recipe with the flow's loss: only the target differs from "eps"
        assert {k: meta[k] for k in recipe(0)} == recipe(meta["steps"], "velocity")
        assert meta["steps"] == pretrained_metadata()["steps"]
    elif name.endswith("-path"):  # Module 07's one change at a time: the packaged recipe with another path or target
        target = {"eps-on-flow-path": "eps", "v-on-diffusion-path": "v"}[name]
        assert meta == {"config": meta["config"], **recipe(meta["steps"], target, path=meta["path"])}
        assert meta["steps"] == pretrained_metadata()["steps"] and meta["path"].split()[0] in ("straight", "cosine")
    else:  # Module 03's one-minute recipe, all of its steps
        run = dataclasses.replace(ONE_MINUTE, max_seconds=None)
        changes = {"lr": run.lr, "ema_decay": run.ema_decay, "p_uncond": run.p_uncond, "batch_size": run.batch_size}
        expected = recipe(run.steps, name.rpartition("-")[2], recipe="helpers.training.ONE_MINUTE", **changes)
        assert meta == {"config": meta["config"], **expected}


def test_the_flow_model_draws_recognisable_digits_with_euler_steps():
    model, y = load_pretrained("flow"), torch.arange(50) % 10
    x_T = torch.randn(50, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = flow_sample(lambda x_t, t: model(x_t, t, y), x_T.shape, num_steps=20, x_T=x_T)
    assert class_accuracy(x, y) >= 0.8  # chance is 0.1


def test_an_unknown_model_name_lists_the_packaged_ones():
    with pytest.raises(ValueError, match="one-minute-x0"):
        load_pretrained("velocity")
