"""Pigmentation on phantoms: spots recovered, dose-response of MI, ITA and melasma score."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from analysis.measures import pigmentation
from analysis.phantoms import PhantomSpec, make_phantom, phantom_skin_image
from analysis.types import MapKind
from tests.unit.analysis.measures_helpers import halves, value

SPEC = PhantomSpec(size_px=(400, 400), n_spots=7, spot_diameter_mm=(1.5, 5.0), n_pores=30)


@pytest.fixture(scope="module")
def spotted():
    ph = make_phantom(SPEC)
    return ph, pigmentation.measure(phantom_skin_image(ph))


def test_spot_count_and_area_recovered(spotted):
    ph, out = spotted
    # tolerance: exact count; area within 15 % (anti-aliased edges, FWHM cut)
    assert value(out.measurements, "pigmentation.spots.count") == len(ph.truth.spots)
    assert value(out.measurements, "pigmentation.spots.area_pct") == pytest.approx(
        ph.truth.area_pct("spots"), rel=0.15
    )


def test_spot_map_overlaps_truth(spotted):
    ph, out = spotted
    maps = {m.name: m for m in out.maps}
    spots = maps["spots"].data
    truth = ph.truth.masks["spots"]
    dice = 2 * np.count_nonzero(spots & truth) / (spots.sum() + truth.sum())
    assert dice > 0.85
    assert maps["melanin"].kind is MapKind.CONTINUOUS
    assert maps["melanin"].data.shape == truth.shape
    assert 0.0 <= maps["melanin"].data.min() and maps["melanin"].data.max() <= 1.0


def test_pores_are_not_spots():
    ph = make_phantom(PhantomSpec(size_px=(300, 300), n_pores=60))
    out = pigmentation.measure(phantom_skin_image(ph))
    assert value(out.measurements, "pigmentation.spots.count") == 0


def test_stronger_pigment_raises_melanin_index_and_lowers_ita():
    mis, itas = [], []
    for mel in (0.10, 0.20, 0.35):
        ph = make_phantom(PhantomSpec(size_px=(160, 160), melanin=mel))
        out = pigmentation.measure(phantom_skin_image(ph))
        mis.append(value(out.measurements, "pigmentation.melanin_index"))
        itas.append(value(out.measurements, "pigmentation.ita_deg"))
    assert mis[0] < mis[1] < mis[2]
    assert itas[0] > itas[1] > itas[2]
    # the index is scaled to red-channel OD x 100: 0.1 OD more melanin ~ +10 units
    assert mis[1] - mis[0] == pytest.approx(10.0, rel=0.3)


def test_melanin_index_does_not_follow_exposure():
    ph = make_phantom(PhantomSpec(size_px=(160, 160)))
    img = phantom_skin_image(ph)
    dark = replace(img, rgb_linear=img.rgb_linear * 0.7)
    a = value(pigmentation.measure(img).measurements, "pigmentation.melanin_index")
    b = value(pigmentation.measure(dark).measurements, "pigmentation.melanin_index")
    assert a == pytest.approx(b, abs=0.2)


def test_stronger_spots_raise_spot_and_melasma_scores():
    # 0.004 OD is below the visibility threshold (< 1 CIEDE2000): no spot; a visible spot's
    # area is its half-maximum area, whatever its contrast
    areas, melasma = [], []
    for strength in (0.004, 0.10, 0.20):
        spec = PhantomSpec(
            size_px=(300, 300), n_spots=5, spot_diameter_mm=(3.0, 6.0), spot_melanin=strength
        )
        out = pigmentation.measure(phantom_skin_image(make_phantom(spec)))
        areas.append(value(out.measurements, "pigmentation.spots.area_pct"))
        melasma.append(value(out.measurements, "pigmentation.melasma.score"))
    assert areas[0] == 0.0
    assert 0.0 < areas[1] <= areas[2] * 1.05
    assert areas[2] <= areas[1] * 1.15
    assert melasma[0] < melasma[1] < melasma[2]


def test_melasma_score_is_zone_local():
    # a large hyperpigmented patch in the left half only
    spec = PhantomSpec(size_px=(300, 400), n_spots=1, spot_diameter_mm=(14.0, 14.0))
    ph = make_phantom(spec)
    spot = ph.truth.spots[0]
    regions = halves(ph.image.shape[:2])
    side = "cheek_left" if spot.col < 200 else "cheek_right"
    other = "cheek_right" if side == "cheek_left" else "cheek_left"
    out = pigmentation.measure(phantom_skin_image(ph, regions=regions))
    assert value(out.measurements, "pigmentation.melasma.score", side) > 1.0
    assert value(out.measurements, "pigmentation.melasma.score", other) < 0.3
