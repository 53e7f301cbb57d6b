"""Every measure honours the SkinImage/ConcernOutput contract and reports its keys."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.keys import CONCERNS, KEYS
from analysis.measures import MEASURES
from analysis.phantoms import PhantomSpec, make_phantom, phantom_skin_image
from analysis.types import MapKind
from tests.unit.analysis.measures_helpers import halves

SPEC = PhantomSpec(
    size_px=(300, 360),
    n_spots=3,
    n_pores=30,
    n_fine_lines=1,
    n_wrinkles=1,
    wrinkle_length_mm=8.0,
    fine_length_mm=6.0,
    red_patch_radius_mm=3.0,
    shine_radius_mm=3.0,
    texture=0.01,
)


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(SPEC)


def test_measures_follow_concern_order():
    assert tuple(fn.__module__.rsplit(".", 1)[1] for fn in MEASURES) == CONCERNS


@pytest.mark.parametrize("spacing_known", [True, False])
def test_every_key_in_every_region_with_its_unit(phantom, spacing_known):
    regions = halves(phantom.image.shape[:2])
    img = phantom_skin_image(phantom, regions=regions, spacing_known=spacing_known)
    for concern, fn in zip(CONCERNS, MEASURES, strict=True):
        out = fn(img)
        got = {(m.key, m.region): m.unit for m in out.measurements}
        for k in KEYS:
            if k.concern != concern:
                continue
            for region in ("skin", "cheek_left", "cheek_right"):
                unit = k.unit_px if (not spacing_known and k.unit_px) else k.unit
                assert got[(k.key, region)] == unit, (k.key, region)
        for fmap in out.maps:
            assert fmap.family == concern
            assert fmap.data.shape == phantom.image.shape[:2]
            if fmap.kind is MapKind.CONTINUOUS:
                assert 0.0 <= float(fmap.data.min()) <= float(fmap.data.max()) <= 1.0


def test_counts_and_areas_add_up_over_disjoint_regions(phantom):
    img = phantom_skin_image(phantom, regions=halves(phantom.image.shape[:2]))
    ms = [m for fn in MEASURES for m in fn(img).measurements]
    by = {(m.key, m.region): m.value for m in ms}
    for key in ("pores.count", "pigmentation.spots.count", "redness.lesions.count"):
        assert by[(key, "cheek_left")] + by[(key, "cheek_right")] == by[(key, "skin")]
    for key in ("oil.shine_area_pct", "redness.area_pct", "pigmentation.spots.area_pct"):
        mean = (by[(key, "cheek_left")] + by[(key, "cheek_right")]) / 2
        assert mean == pytest.approx(by[(key, "skin")], rel=1e-6, abs=1e-9)


def test_maps_are_binary_masks_where_features_are(phantom):
    img = phantom_skin_image(phantom)
    maps = {m.name: m for fn in MEASURES for m in fn(img).maps}
    assert set(maps) == {
        "melanin",
        "spots",
        "erythema",
        "red_areas",
        "red_lesions",
        "pores",
        "wrinkles",
        "fine_lines",
        "shine",
    }
    assert maps["shine"].data[phantom.truth.masks["shine"]].mean() > 0.8
    assert maps["spots"].data[phantom.truth.masks["spots"]].mean() > 0.8
    assert np.count_nonzero(maps["pores"].data) > 0


def test_unresolved_families_are_left_out_not_zeroed():
    from dataclasses import replace

    from analysis.measures import unresolved

    assert unresolved(0.1) == {}
    assert set(unresolved(0.3)) == {"pores"}
    assert set(unresolved(0.6)) == {"pores", "wrinkles.fine_lines", "texture"}
    assert set(unresolved(2.0)) == {"pores", "wrinkles.fine_lines", "wrinkles", "texture"}
    ph = make_phantom(PhantomSpec(size_px=(120, 120), spacing_mm=0.6, n_spots=2))
    img = phantom_skin_image(ph)
    keys = {m.key for fn in MEASURES for m in fn(img).measurements}
    assert not any(k.startswith(("pores.", "wrinkles.fine_lines.", "texture.")) for k in keys)
    assert "wrinkles.count" in keys and "pigmentation.spots.count" in keys
    coarse = replace(img, scale_mm=2.0, spacing_mm=2.0)
    keys = {m.key for fn in MEASURES for m in fn(coarse).measurements}
    assert not any(k.startswith("wrinkles.") for k in keys)
    assert "unresolved" in __import__("analysis.measures").measures.__all__
