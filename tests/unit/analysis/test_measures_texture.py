"""Texture on phantoms: roughness rises with texture; uniformity falls with patchiness."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from analysis.measures import texture
from analysis.phantoms import PhantomSpec, make_phantom, phantom_skin_image
from tests.unit.analysis.measures_helpers import value


def _rough(tex: float) -> float:
    ph = make_phantom(PhantomSpec(size_px=(200, 200), texture=tex))
    return value(texture.measure(phantom_skin_image(ph)).measurements, "texture.roughness")


def test_roughness_increases_with_added_texture():
    r = [_rough(t) for t in (0.0, 0.01, 0.02, 0.04)]
    assert r[0] < r[1] < r[2] < r[3]
    # band-limited texture of std s OD is 100 ln(10) s in log-luminance units: the
    # roughness follows it almost linearly once it dominates the sensor noise
    assert r[3] / r[2] == pytest.approx(2.0, rel=0.1)


def test_roughness_ignores_exposure():
    ph = make_phantom(PhantomSpec(size_px=(200, 200), texture=0.02))
    img = phantom_skin_image(ph)
    a = value(texture.measure(img).measurements, "texture.roughness")
    b = value(
        texture.measure(replace(img, rgb_linear=img.rgb_linear * 0.8)).measurements,
        "texture.roughness",
    )
    assert a == pytest.approx(b, rel=0.02)


def test_uniformity_lower_when_texture_is_patchy():
    even = make_phantom(PhantomSpec(size_px=(200, 300), texture=0.02))
    smooth = make_phantom(PhantomSpec(size_px=(200, 300), texture=0.0))
    patchy_img = even.image.copy()
    patchy_img[:, 150:] = smooth.image[:, 150:]
    patchy = replace(even, image=np.ascontiguousarray(patchy_img))
    u_even = value(texture.measure(phantom_skin_image(even)).measurements, "texture.uniformity")
    u_patchy = value(texture.measure(phantom_skin_image(patchy)).measurements, "texture.uniformity")
    assert 0.0 < u_patchy < u_even <= 1.0
    assert u_even > 0.85
