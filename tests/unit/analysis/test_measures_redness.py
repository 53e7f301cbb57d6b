"""Redness on phantoms: red area, lesions, and a redder patch raising EI in its zone only."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from analysis.measures import redness
from analysis.phantoms import PhantomSpec, make_phantom, phantom_skin_image
from tests.unit.analysis.measures_helpers import halves, value


def test_red_patch_area_and_lesion_count():
    spec = PhantomSpec(
        size_px=(400, 400), red_patch_radius_mm=6.0, n_lesions=4, n_spots=3, n_pores=30
    )
    ph = make_phantom(spec)
    out = redness.measure(phantom_skin_image(ph))
    # tolerance: red area within 20 % of the truth (patch + lesion half-maximum disks)
    assert value(out.measurements, "redness.area_pct") == pytest.approx(
        ph.truth.area_pct("red"), rel=0.2
    )
    assert value(out.measurements, "redness.lesions.count") == len(ph.truth.lesions)
    maps = {m.name: m for m in out.maps}
    lesions = maps["red_lesions"].data
    for d in ph.truth.lesions:
        assert lesions[round(d.row), round(d.col)]


def test_brown_spots_are_not_red():
    ph = make_phantom(PhantomSpec(size_px=(300, 300), n_spots=6, spot_melanin=0.2))
    out = redness.measure(phantom_skin_image(ph))
    assert value(out.measurements, "redness.lesions.count") == 0
    assert value(out.measurements, "redness.area_pct") < 0.2


@pytest.mark.parametrize("seed", [0, 1])
def test_redder_patch_raises_erythema_in_its_zone_only(seed):
    results = []
    for strength in (0.05, 0.10, 0.20):
        spec = PhantomSpec(
            size_px=(240, 400),
            seed=seed,
            red_patch_radius_mm=7.0,
            red_patch_haemoglobin=strength,
            red_patch_side="left",
        )
        ph = make_phantom(spec)
        img = phantom_skin_image(ph, regions=halves(ph.image.shape[:2]))
        results.append(redness.measure(img).measurements)
    left = [value(r, "redness.erythema_index", "cheek_left") for r in results]
    right = [value(r, "redness.erythema_index", "cheek_right") for r in results]
    assert left[0] < left[1] < left[2]
    assert max(right) - min(right) < 0.3  # same seed, no patch: unchanged
    assert left[2] - right[2] > 2.0
    areas = [value(r, "redness.area_pct", "cheek_left") for r in results]
    assert areas[0] < areas[2]
    assert value(results[2], "redness.area_pct", "cheek_right") == 0.0


def test_erythema_index_ignores_exposure_and_shading():
    ph = make_phantom(PhantomSpec(size_px=(160, 160), red_patch_radius_mm=3.0))
    img = phantom_skin_image(ph)
    a = redness.measure(img).measurements
    b = redness.measure(replace(img, rgb_linear=img.rgb_linear * 0.75)).measurements
    assert value(a, "redness.erythema_index") == pytest.approx(
        value(b, "redness.erythema_index"), abs=0.2
    )
    assert value(a, "redness.area_pct") == pytest.approx(value(b, "redness.area_pct"), abs=0.5)


def test_erythema_map_is_continuous_in_unit_range():
    ph = make_phantom(PhantomSpec(size_px=(120, 120)))
    maps = {m.name: m for m in redness.measure(phantom_skin_image(ph)).maps}
    data = maps["erythema"].data
    assert data.dtype == np.float32 and 0.0 <= data.min() <= data.max() <= 1.0
    assert set(maps) == {"erythema", "red_areas", "red_lesions"}
