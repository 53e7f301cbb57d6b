"""Wrinkles and fine lines on phantoms: separated by scale, counted, lengths recovered."""

from __future__ import annotations

import pytest

from analysis.measures import wrinkles
from analysis.phantoms import PhantomSpec, make_phantom, phantom_skin_image
from tests.unit.analysis.measures_helpers import halves, value

SPEC = PhantomSpec(
    size_px=(500, 500),
    n_fine_lines=3,
    fine_length_mm=10.0,
    n_wrinkles=2,
    wrinkle_length_mm=15.0,
    n_spots=3,
    n_pores=40,
    texture=0.008,
)


@pytest.fixture(scope="module")
def measured():
    ph = make_phantom(SPEC)
    return ph, wrinkles.measure(phantom_skin_image(ph))


def test_fine_lines_and_wrinkles_counted_separately(measured):
    ph, out = measured
    assert value(out.measurements, "wrinkles.count") == len(ph.truth.wrinkles)
    assert value(out.measurements, "wrinkles.fine_lines.count") == len(ph.truth.fine_lines)


def test_lengths_recovered(measured):
    ph, out = measured
    # tolerance: total length within 15 % (chain-code length error <= ~8 %, line ends)
    deep = sum(ln.length_mm for ln in ph.truth.wrinkles)
    fine = sum(ln.length_mm for ln in ph.truth.fine_lines)
    assert value(out.measurements, "wrinkles.length_mm") == pytest.approx(deep, rel=0.15)
    assert value(out.measurements, "wrinkles.fine_lines.length_mm") == pytest.approx(fine, rel=0.15)


def test_maps_cover_the_drawn_lines(measured):
    ph, out = measured
    maps = {m.name: m.data for m in out.maps}
    for ln in ph.truth.lines:
        r, c = round((ln.r0 + ln.r1) / 2), round((ln.c0 + ln.c1) / 2)
        name = "wrinkles" if ln.kind == "wrinkle" else "fine_lines"
        assert maps[name][r - 1 : r + 2, c - 1 : c + 2].any()
    area = value(out.measurements, "wrinkles.area_pct")
    union = (maps["wrinkles"] | maps["fine_lines"]).mean() * 100
    assert area == pytest.approx(union)


def test_spots_pores_and_texture_alone_make_no_lines():
    spec = PhantomSpec(size_px=(300, 300), n_spots=6, n_pores=60, texture=0.01, shine_radius_mm=4)
    out = wrinkles.measure(phantom_skin_image(make_phantom(spec)))
    assert value(out.measurements, "wrinkles.count") == 0
    assert value(out.measurements, "wrinkles.fine_lines.count") == 0


def test_deeper_wider_lines_are_wrinkles_not_fine_lines():
    spec = PhantomSpec(size_px=(400, 400), n_fine_lines=2, fine_width_mm=1.2, fine_depth=0.12)
    out = wrinkles.measure(phantom_skin_image(make_phantom(spec)))
    assert value(out.measurements, "wrinkles.count") == 2
    assert value(out.measurements, "wrinkles.fine_lines.count") == 0


def test_line_counted_in_its_zone():
    spec = PhantomSpec(size_px=(300, 400), n_wrinkles=1, wrinkle_length_mm=8.0, seed=3)
    ph = make_phantom(spec)
    out = wrinkles.measure(phantom_skin_image(ph, regions=halves(ph.image.shape[:2])))
    ln = ph.truth.wrinkles[0]
    left_share = sum(c < 200 for c in (ln.c0, ln.c1)) / 2
    counts = {
        z: value(out.measurements, "wrinkles.count", z) for z in ("cheek_left", "cheek_right")
    }
    if left_share == 1:
        assert counts == {"cheek_left": 1, "cheek_right": 0}
    elif left_share == 0:
        assert counts == {"cheek_left": 0, "cheek_right": 1}
    total = value(out.measurements, "wrinkles.length_mm")
    parts = sum(value(out.measurements, "wrinkles.length_mm", z) for z in counts)
    assert parts == pytest.approx(total, rel=1e-6)
