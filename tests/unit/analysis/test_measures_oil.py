"""Oil on phantoms: shine area recovered, T/U zones, shading is not shine."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.measures import oil
from analysis.phantoms import PhantomSpec, make_phantom, phantom_skin_image
from tests.unit.analysis.measures_helpers import value


def test_shine_area_recovered():
    spec = PhantomSpec(size_px=(300, 300), shine_radius_mm=4.0, n_spots=3, n_pores=30)
    ph = make_phantom(spec)
    out = oil.measure(phantom_skin_image(ph))
    # tolerance: shine area within 20 %
    assert value(out.measurements, "oil.shine_area_pct") == pytest.approx(
        ph.truth.area_pct("shine"), rel=0.2
    )
    shine = out.maps[0].data
    truth = ph.truth.masks["shine"]
    assert 2 * np.count_nonzero(shine & truth) / (shine.sum() + truth.sum()) > 0.85


def test_weaker_shine_smaller_or_absent():
    areas = []
    for strength in (0.03, 0.15, 0.5):
        spec = PhantomSpec(size_px=(200, 200), shine_radius_mm=4.0, shine_strength=strength)
        out = oil.measure(phantom_skin_image(make_phantom(spec)))
        areas.append(value(out.measurements, "oil.shine_area_pct"))
    assert areas[0] < 0.5 * areas[1]
    assert areas[1] <= areas[2] * 1.05


def test_t_zone_and_u_zone_reported_from_face_zones():
    spec = PhantomSpec(size_px=(200, 300), shine_radius_mm=4.0)
    ph = make_phantom(spec)
    h, w = ph.image.shape[:2]
    cols = np.arange(w)[None, :].repeat(h, 0)
    sh = ph.truth.shine
    forehead = np.abs(cols - sh.col) < 100  # the band holding the shine
    cheek_left = (cols < sh.col - 100) | (cols >= sh.col + 100)
    regions = {"forehead": forehead, "cheek_left": cheek_left}
    out = oil.measure(phantom_skin_image(ph, regions=regions))
    t = value(out.measurements, "oil.shine_area_pct", "t_zone")
    u = value(out.measurements, "oil.shine_area_pct", "u_zone")
    assert t == pytest.approx(value(out.measurements, "oil.shine_area_pct", "forehead"))
    assert t > 5.0 and u == 0.0


def test_no_zones_no_t_zone():
    out = oil.measure(phantom_skin_image(make_phantom(PhantomSpec(size_px=(100, 100)))))
    assert {m.region for m in out.measurements} == {"skin"}
    assert value(out.measurements, "oil.shine_area_pct") == 0.0
