"""helpers.pretrained: the packaged digits U-Net loads from the installed package, carries its recipe, draws digits."""

from __future__ import annotations

import torch

from helpers.guidance import guided_samples
from helpers.metrics import class_accuracy
from helpers.models import DigitsUNet, config_to_dict
from helpers.pretrained import load_pretrained, pretrained_metadata, pretrained_path, recipe
from helpers.schedules import Schedule

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
