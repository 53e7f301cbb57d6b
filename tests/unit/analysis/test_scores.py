"""Scores: documented monotone saturating mapping, 0-100, from face or skin."""

from __future__ import annotations

import pytest

from analysis.keys import CONCERNS
from analysis.scores import SCORE_TERMS, compute_scores, saturating
from analysis.types import Measurement


def _ms(region: str, **overrides: float) -> list[Measurement]:
    base = {
        "pigmentation.spots.area_pct": ("%", 0.0),
        "pigmentation.spots.count": ("{count}", 0.0),
        "pigmentation.melasma.score": ("{score}", 0.0),
        "redness.area_pct": ("%", 0.0),
        "redness.lesions.count": ("{count}", 0.0),
        "pores.density_per_cm2": ("/cm2", 0.0),
        "pores.mean_diameter_mm": ("mm", 0.0),
        "pores.enlarged.count": ("{count}", 0.0),
        "wrinkles.area_pct": ("%", 0.0),
        "wrinkles.count": ("{count}", 0.0),
        "wrinkles.fine_lines.count": ("{count}", 0.0),
        "wrinkles.length_mm": ("mm", 0.0),
        "texture.roughness": ("{index}", 0.0),
        "texture.uniformity": ("{index}", 1.0),
        "oil.shine_area_pct": ("%", 0.0),
    }
    out = []
    for key, (unit, v) in base.items():
        out.append(Measurement(key, region, overrides.get(key.replace(".", "_"), v), unit))
    return out


def test_clean_skin_scores_zero_for_every_concern():
    scores = compute_scores(_ms("face"))
    assert set(scores) == set(CONCERNS)
    assert all(v == 0.0 for v in scores.values())


def test_saturating_map():
    assert saturating(0.0, 2.0) == 0.0
    assert saturating(2.0, 2.0) == pytest.approx(50.0)
    assert saturating(-1.0, 2.0) == 0.0
    assert saturating(1e9, 2.0) == pytest.approx(100.0, abs=1e-5)
    with pytest.raises(ValueError, match="x_half"):
        type(SCORE_TERMS["oil"][0])("k", 0.0)


def test_scores_rise_monotonically_and_stay_in_range():
    prev = -1.0
    for shine in (0.0, 1.0, 5.0, 20.0, 80.0):
        s = compute_scores(_ms("face", oil_shine_area_pct=shine))["oil"]
        assert 0.0 <= s <= 100.0 and s > prev
        prev = s
    assert compute_scores(_ms("face", oil_shine_area_pct=5.0))["oil"] == pytest.approx(50.0)


def test_lower_uniformity_is_worse():
    good = compute_scores(_ms("face", texture_uniformity=0.95))["texture"]
    bad = compute_scores(_ms("face", texture_uniformity=0.5))["texture"]
    assert bad > good


def test_face_region_preferred_over_zones_and_skin_used_without_face():
    ms = _ms("face") + _ms("cheek_left", redness_area_pct=50.0)
    assert compute_scores(ms)["redness"] == 0.0
    skin = compute_scores(_ms("skin", redness_area_pct=10.0))
    assert skin["redness"] == pytest.approx(25.0)  # mean of 50 (area) and 0 (lesions)


def test_pixel_units_are_left_out():
    ms = [
        Measurement("pores.density_per_cm2", "skin", 100.0, "/{kpx}"),
        Measurement("pores.mean_diameter_mm", "skin", 5.0, "{px}"),
        Measurement("pores.enlarged.count", "skin", 100.0, "{count}"),
    ]
    assert compute_scores(ms) == {"pores": pytest.approx(50.0)}


def test_no_measurements_no_scores():
    assert compute_scores([]) == {}
