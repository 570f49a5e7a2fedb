"""helpers.images: the bundled photos, the [-1, 1] -> [0, 1] map diffusers uses, and PNG bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.images import PHOTOS, center_square, load_photo, to_png, to_uint8, to_unit


@pytest.mark.parametrize("name", PHOTOS)
def test_photos_load_square_in_minus_one_one_and_cached_copies_are_fresh(name):
    x0 = load_photo(name, 64)
    assert x0.shape == (64, 64, 3) and x0.dtype == np.float64 and -1 <= x0.min() < x0.max() <= 1
    x0 += 5  # a copy: the cache keeps the original
    assert load_photo(name, 64).max() <= 1


def test_bad_photo_name_and_size_are_refused():
    with pytest.raises(ValueError, match="unknown photo 'moon'"):
        load_photo("moon")
    with pytest.raises(ValueError, match="positive number of pixels"):
        load_photo("temple", 0)


def test_center_square_crops_the_middle():
    image = Image.new("RGB", (30, 10))
    assert center_square(image).size == (10, 10)


def test_to_unit_is_diffusers_denormalize_for_numpy_and_torch():
    from diffusers.image_processor import VaeImageProcessor

    x = torch.linspace(-1.5, 1.5, 13).reshape(1, 1, 1, 13)
    assert torch.equal(to_unit(x), VaeImageProcessor.denormalize(x))  # bit for bit, so decoded images match
    np.testing.assert_array_equal(to_unit(x.numpy()), VaeImageProcessor.denormalize(x).numpy())


def test_to_uint8_and_png_round_trip():
    x = np.linspace(-1, 1, 4 * 4 * 3).reshape(4, 4, 3)
    pixels = to_uint8(x)
    assert pixels.dtype == np.uint8 and pixels.min() == 0 and pixels.max() == 255
    decoded = np.asarray(Image.open(io.BytesIO(to_png(x, scale=2))))
    assert decoded.shape == (8, 8, 3) and np.array_equal(decoded[::2, ::2], pixels)
