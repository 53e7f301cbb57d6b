"""Dose-response on a real face: features drawn into real skin are found where they were drawn.

The photo is the demo's face (``dicom_node/samples/london_136_03.jpg``, Face Research Lab
London Set, CC BY 4.0; 1350 x 1350, ~0.35 mm/px from the eyes). Soft-edged brown macules,
red macules and neutral lines are drawn into it in optical density
(:func:`analysis.phantoms.draw_on_photo`); the whole pipeline then runs on each copy. More
spots must give a higher count and area in the zone where they were drawn, and nothing new
elsewhere; the same for red lesions and wrinkles. ``benchmarks/phantoms.py`` measures the
sensitivity per contrast and size over many faces (docs/methods/measures.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from analysis.phantoms import DrawnLine, SoftSpot, draw_on_photo, free_positions
from analysis.pipeline import Analyzer
from analysis.types import ImageDescription, ImageResult, View
from dicom_node.demo import sample_photo_path

pytestmark = pytest.mark.slow

DESC = ImageDescription(source="london_136_03", view=View.FRONTAL)


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer("cpu")


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return np.array(Image.open(sample_photo_path()).convert("RGB"))


@pytest.fixture(scope="module")
def clean(analyzer: Analyzer, face: np.ndarray) -> ImageResult:
    res = analyzer.analyze(face, DESC)
    assert res.quality.usable and res.spacing.value is not None
    return res


def _value(res: ImageResult, key: str, region: str) -> float:
    return next(m.value for m in res.measurements if m.key == key and m.region == region)


def _zone(res: ImageResult, name: str) -> np.ndarray:
    return next(np.asarray(z.mask, bool) for z in res.zones if z.region == name)


def _map(res: ImageResult, name: str) -> np.ndarray:
    return next(np.asarray(m.data, bool) for m in res.maps if m.name == name)


def _spots(res: ImageResult, zone: str, n: int, dia_mm: float, amp: float, kind: str):
    px = 1.0 / float(res.spacing.value)
    avoid = _map(res, "spots") | _map(res, "red_lesions")
    centres = free_positions(_zone(res, zone), n, 0.9 * dia_mm * px, avoid=avoid, seed=3)
    assert len(centres) == n, f"could not place {n} spots in {zone}"
    return tuple(SoftSpot(r, c, dia_mm, amp, kind) for r, c in centres)


@pytest.mark.parametrize(
    ("kind", "zone", "key", "amp", "dia"),
    [
        ("brown", "cheek_left", "pigmentation.spots", 0.10, 4.0),
        ("red", "cheek_right", "redness.lesions", 0.12, 4.0),
    ],
)
def test_more_drawn_macules_more_found_in_their_zone_only(
    analyzer, face, clean, kind, zone, key, amp, dia
):
    spacing = float(clean.spacing.value)
    all_spots = _spots(clean, zone, 6, dia, amp, kind)
    map_name = "spots" if kind == "brown" else "red_lesions"
    counts, areas, others = [], [], []
    for n in (0, 3, 6):
        img = draw_on_photo(face, spacing, spots=all_spots[:n])
        res = analyzer.analyze(img, DESC) if n else clean
        found = _map(res, map_name)
        hits = sum(
            bool(found[int(s.row) - 2 : int(s.row) + 3, int(s.col) - 2 : int(s.col) + 3].any())
            for s in all_spots[:n]
        )
        # each drawn macule of ~ 4 mm and clearly visible contrast is found where it was drawn
        assert hits >= n - 1, f"{hits} of {n} drawn {kind} macules found"
        counts.append(_value(res, f"{key}.count", zone))
        if kind == "brown":
            areas.append(_value(res, "pigmentation.spots.area_pct", zone))
        others.append(
            [_value(res, f"{key}.count", z) for z in ("forehead", "chin", "nose")]
            + [_value(res, f"{key}.count", "cheek_right" if zone == "cheek_left" else "cheek_left")]
        )
    # and counted in its zone: the count grows with the dose (near-threshold detections of
    # the photo's own skin may flip by one or two as the local background changes)
    assert counts[1] >= counts[0] + 2
    assert counts[2] >= counts[0] + 4
    if areas:
        assert areas[0] < areas[1] < areas[2]
    # nothing new elsewhere (the face mesh moves by a pixel when the cheek changes, and two
    # neighbouring faint forehead patches at the half-maximum cut may join or part: 2)
    for row in others[1:]:
        assert all(abs(a - b) <= 2 for a, b in zip(row, others[0], strict=True)), (others, counts)


def test_invisible_macules_are_not_counted(analyzer, face, clean):
    # 0.005 OD of melanin is < 1 CIEDE2000 from the skin: not a spot a person would see
    spacing = float(clean.spacing.value)
    faint = _spots(clean, "cheek_left", 4, 4.0, 0.005, "brown")
    res = analyzer.analyze(draw_on_photo(face, spacing, spots=faint), DESC)
    base = _value(clean, "pigmentation.spots.count", "cheek_left")
    assert _value(res, "pigmentation.spots.count", "cheek_left") <= base + 1


def test_drawn_wrinkles_lengthen_wrinkles_in_their_zone(analyzer, face, clean):
    spacing = float(clean.spacing.value)
    px = 1.0 / spacing
    zone = _zone(clean, "forehead")
    avoid = _map(clean, "wrinkles")
    centres = free_positions(zone, 2, 6.0 * px, avoid=avoid, seed=5)
    assert len(centres) == 2
    lines = tuple(
        DrawnLine(r, c - 6.0 * px, r, c + 6.0 * px, width_mm=1.0, depth=0.08) for r, c in centres
    )
    res = analyzer.analyze(draw_on_photo(face, spacing, lines=lines), DESC)
    before = _value(clean, "wrinkles.length_mm", "forehead")
    after = _value(res, "wrinkles.length_mm", "forehead")
    # two 12 mm lines: at least half their length is found as wrinkle
    assert after >= before + 12.0
    for z in ("cheek_left", "cheek_right", "chin"):
        assert _value(res, "wrinkles.length_mm", z) == pytest.approx(
            _value(clean, "wrinkles.length_mm", z), rel=0.1, abs=5.0
        )  # a short line near threshold may flip (7 of 131 mm seen on a cheek)


def test_noisy_photo_warns_and_drops_the_families_it_drowns_with_their_maps(analyzer, face):
    rng = np.random.default_rng(1)
    noisy = np.clip(face + rng.normal(0.0, 8.0, face.shape), 0, 255).astype(np.uint8)
    res = analyzer.analyze(noisy, DESC)
    assert res.quality.usable
    assert "noise" in [i.code for i in res.quality.issues]
    na = {n.key for n in res.not_assessed}
    assert {"wrinkles.fine_lines", "texture"} <= na
    keys = {m.key for m in res.measurements}
    assert not any(k.startswith(("wrinkles.fine_lines", "texture", "pores")) for k in keys)
    # a family that is not assessed has no map either (so no SEG segment, overlay or PDF map)
    assert "fine_lines" not in {m.name for m in res.maps}
    assert "pores" not in {m.name for m in res.maps}


def test_clean_studio_photo_is_not_called_noisy(clean):
    assert clean.quality.noise_pct < 1.0
    assert "noise" not in [i.code for i in clean.quality.issues]
