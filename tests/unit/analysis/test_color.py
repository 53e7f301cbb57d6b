"""Colour conversions checked against scikit-image (an independent implementation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import color as skcolor
from skimage import data

from analysis.color import (
    grey_world_gains,
    iterative_grey_gains,
    linear_rgb_to_lab,
    linear_to_srgb,
    srgb_to_linear,
    to_unit_float,
)
from analysis.errors import InputRejected


def _lab(img: np.ndarray) -> np.ndarray:
    t = linear_rgb_to_lab(srgb_to_linear(to_unit_float(img)))
    return t.permute(1, 2, 0).numpy()


def test_lab_matches_skimage_on_a_photo() -> None:
    img = data.astronaut()[::4, ::4]
    ours = _lab(img)
    ref = skcolor.rgb2lab(img, illuminant="D65", observer="2")
    assert np.abs(ours - ref).max() < 0.05


def test_lab_matches_skimage_on_extremes_and_uint16() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 65536, size=(16, 16, 3), dtype=np.uint16)
    img[0, 0] = 0
    img[0, 1] = 65535
    ours = _lab(img)
    ref = skcolor.rgb2lab(img.astype(np.float64) / 65535.0)
    assert np.abs(ours - ref).max() < 0.05
    assert ours[0, 1, 0] == pytest.approx(100.0, abs=0.01)


def test_srgb_round_trip_and_known_value() -> None:
    x = torch.linspace(0, 1, 101)
    assert torch.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5)
    # sRGB 0.5 -> linear 0.214 (IEC 61966-2-1)
    assert float(srgb_to_linear(torch.tensor(0.5))) == pytest.approx(0.21404, abs=1e-4)


def test_to_unit_float_rejects_bad_shapes() -> None:
    with pytest.raises(InputRejected, match="shape"):
        to_unit_float(np.zeros((4, 4), np.uint8))
    with pytest.raises(InputRejected, match="dtype"):
        to_unit_float(np.zeros((4, 4, 3), np.int32))


@pytest.mark.parametrize("grey_fraction", [None, 0.3])
def test_grey_world_undoes_a_channel_gain(grey_fraction: float | None) -> None:
    rng = np.random.default_rng(1)
    base = torch.from_numpy(rng.uniform(0.05, 0.6, size=(3, 64, 64)).astype(np.float32))
    base[:, :40] = base[:, :40].mean(0, keepdim=True)  # a neutral 60 %
    cast = torch.tensor([1.15, 1.0, 0.85]).view(3, 1, 1)
    g0 = grey_world_gains(base, grey_fraction=grey_fraction)
    g1 = grey_world_gains(base * cast, grey_fraction=grey_fraction)
    # the cast changes the gains by its inverse (up to the luminance normalisation)
    ratio = (g1 / g0) * cast.view(3)
    assert torch.allclose(ratio / ratio[1], torch.ones(3), atol=0.02)


def test_grey_pixels_ignore_a_coloured_object() -> None:
    img = torch.full((3, 64, 64), 0.4)
    img[:, :, :24] = torch.tensor([0.7, 0.1, 0.1]).view(3, 1, 1)  # a red flag, 37 %
    plain = grey_world_gains(img, grey_fraction=None)
    grey = grey_world_gains(img, grey_fraction=0.3)
    assert float(plain.max() / plain.min()) > 1.5  # grey-world is pulled by the flag
    assert torch.allclose(grey, torch.ones(3), atol=1e-4)  # grey pixels are not


def test_grey_world_ignores_a_small_reference() -> None:
    img = torch.full((3, 8, 8), 0.3)
    img[0] = 0.6
    assert torch.equal(grey_world_gains(img), torch.ones(3))  # only 64 pixels
    with pytest.raises(ValueError, match="grey_fraction"):
        grey_world_gains(torch.rand(3, 20, 20), grey_fraction=0.0)


def _tinted_scene() -> torch.Tensor:
    # greys of random brightness, each with its own random tint of up to +-15 % per channel
    rng = np.random.default_rng(7)
    lum = rng.uniform(0.05, 0.7, size=(1, 96, 96))
    tint = rng.uniform(0.85, 1.15, size=(3, 96, 96))
    return torch.from_numpy((lum * tint).astype(np.float32))


def test_iterative_grey_gains_are_equivariant_to_a_cast() -> None:
    base = _tinted_scene()
    cast = torch.tensor([1.12, 1.0, 0.85]).view(3, 1, 1)
    errors = {}
    for name, fn in (("single", grey_world_gains), ("iterative", iterative_grey_gains)):
        g0, g1 = fn(base), fn(base * cast)
        # balanced colour of the cast image relative to the balanced original, per channel
        ratio = (g1 / g0) * cast.view(3)
        errors[name] = float((ratio / ratio[1] - 1.0).abs().max())
    # re-selecting the grey pixels on the balanced image undoes the cast; picking them
    # once, on the cast image, picks pixels whose own tint cancels part of the cast
    assert errors["iterative"] < 0.012
    assert errors["single"] > 3 * errors["iterative"]


def test_iterative_grey_gains_skip_near_clipped_and_keep_exposure() -> None:
    img = _tinted_scene()
    img[:, :20] = torch.tensor([0.95, 0.7, 0.5]).view(3, 1, 1)  # bright, warm, near clipping
    gains = iterative_grey_gains(img)
    ref = iterative_grey_gains(img[:, 20:])
    assert torch.allclose(gains, ref, atol=1e-3)  # the near-clipped rows are not used
    # the mean luminance of the grey pixels is kept: gains average ~1 in luminance
    lum = torch.tensor([0.2126729, 0.7151522, 0.0721750])
    assert abs(float((lum * gains).sum()) - 1.0) < 0.05
    with pytest.raises(ValueError, match="clip_level"):
        iterative_grey_gains(img, clip_level=0.0)
