"""Pores on phantoms: count, diameter, enlarged count, density and units."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.measures import pores
from analysis.phantoms import PhantomSpec, make_phantom, phantom_skin_image
from tests.unit.analysis.measures_helpers import value

SPEC = PhantomSpec(size_px=(400, 400), n_pores=80, pore_diameter_mm=(0.2, 0.5), texture=0.008)


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(SPEC)


def test_pore_count_diameter_and_density(phantom):
    out = pores.measure(phantom_skin_image(phantom))
    truth = phantom.truth.pores
    n = len(truth)
    # tolerances: count within 10 %, mean diameter within 15 %
    assert value(out.measurements, "pores.count") == pytest.approx(n, rel=0.1)
    mean_d = float(np.mean([p.diameter_mm for p in truth]))
    assert value(out.measurements, "pores.mean_diameter_mm") == pytest.approx(mean_d, rel=0.15)
    area_cm2 = 400 * 400 * 0.1 * 0.1 / 100.0
    assert value(out.measurements, "pores.density_per_cm2") == pytest.approx(n / area_cm2, rel=0.1)
    big = sum(p.diameter_mm >= pores.ENLARGED_MM for p in truth)
    assert value(out.measurements, "pores.enlarged.count") == pytest.approx(big, rel=0.25)


def test_pores_found_where_drawn(phantom):
    blobs = pores.detect_pores(phantom_skin_image(phantom))
    truth = np.array([(p.row, p.col) for p in phantom.truth.pores])
    d = np.hypot(blobs.rows[:, None] - truth[None, :, 0], blobs.cols[:, None] - truth[None, :, 1])
    assert (d.min(axis=0) <= 2.0).mean() >= 0.9  # recall
    assert (d.min(axis=1) <= 2.0).mean() >= 0.9  # precision


def test_bigger_pores_measure_bigger():
    means = []
    for lo, hi in ((0.2, 0.25), (0.35, 0.4)):
        spec = PhantomSpec(size_px=(240, 240), n_pores=30, pore_diameter_mm=(lo, hi))
        out = pores.measure(phantom_skin_image(make_phantom(spec)))
        means.append(value(out.measurements, "pores.mean_diameter_mm"))
    assert means[1] > means[0] * 1.3


def test_units_in_pixels_without_spacing(phantom):
    out = pores.measure(phantom_skin_image(phantom, spacing_known=False))
    units = {m.key: m.unit for m in out.measurements}
    assert units["pores.density_per_cm2"] == "/{kpx}"
    assert units["pores.mean_diameter_mm"] == "{px}"
    n = value(out.measurements, "pores.count")
    assert value(out.measurements, "pores.density_per_cm2") == pytest.approx(n / 160.0)
    # diameters in px are the mm ones / spacing
    mm = value(pores.measure(phantom_skin_image(phantom)).measurements, "pores.mean_diameter_mm")
    assert value(out.measurements, "pores.mean_diameter_mm") == pytest.approx(mm / 0.1)


def test_plain_skin_has_no_pores():
    ph = make_phantom(PhantomSpec(size_px=(240, 240), texture=0.005))
    out = pores.measure(phantom_skin_image(ph))
    assert value(out.measurements, "pores.count") <= 2
    assert value(out.measurements, "pores.mean_diameter_mm") >= 0.0
