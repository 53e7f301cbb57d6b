"""Pores and fine lines from the source pixels when the working frame is too coarse (issue 13
item 3)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.phantoms import Phantom, PhantomSpec, make_phantom
from analysis.pipeline import Analyzer, CameraDetail, CameraDetaild, DetailPland, Frame
from analysis.quality import QualityThresholds
from analysis.types import ImageDescription, ImageResult, View

SPACING = 0.07
#: a plain phantom has little Laplacian energy: the blur gate is not what is tested here
LENIENT = QualityThresholds(min_sharpness=0.1, warn_sharpness=0.2)
DESC = ImageDescription(view=View.CLOSE_UP, spacing_mm=SPACING)


@pytest.fixture(scope="module")
def fine() -> Phantom:
    """84 x 84 mm of skin at 0.07 mm/px with soft, low-contrast pores of 0.15-0.3 mm."""
    spec = PhantomSpec(
        size_px=(1200, 1200),
        spacing_mm=SPACING,
        n_pores=150,
        pore_diameter_mm=(0.15, 0.3),
        pore_depth=0.08,
        texture=0.004,
        seed=3,
    )
    return make_phantom(spec)


def _pores(r: ImageResult) -> dict[str, float]:
    return {m.key: m.value for m in r.measurements if m.key.startswith("pores")}


def _set_detail(a: Analyzer, t: CameraDetail) -> None:
    """Use *t* in both steps (the plan step starts the tiles when the engine has threads)."""
    for step in a.transform.transforms:
        if isinstance(step, DetailPland | CameraDetaild):
            step.t = t


def _analyzer(**kw: object) -> Analyzer:
    # working long side 384 px: 0.22 mm per working pixel, too coarse for pores
    return Analyzer("cpu", working_long_side=384, thresholds=LENIENT, **kw)  # type: ignore[arg-type]


def test_fine_photo_pores_are_counted_where_the_working_frame_could_not(fine: Phantom) -> None:
    old = _analyzer(detail_mm=None).analyze(fine.image, DESC)
    assert old.quality.usable, old.quality.issues
    assert "pores" in {n.key for n in old.not_assessed} and not _pores(old)

    new = _analyzer().analyze(fine.image, DESC)
    assert "pores" not in {n.key for n in new.not_assessed}
    got = _pores(new)
    truth = fine.truth.pores
    n = len(truth)
    assert got["pores.count"] == pytest.approx(n, rel=0.1)
    area_cm2 = (1200 * SPACING) ** 2 / 100.0
    assert got["pores.density_per_cm2"] == pytest.approx(n / area_cm2, rel=0.1)
    mean_d = float(np.mean([p.diameter_mm for p in truth]))
    assert got["pores.mean_diameter_mm"] == pytest.approx(mean_d, rel=0.15)
    # the map comes back at the source size and marks pores where they were drawn
    pmap = next(m for m in new.maps if m.name == "pores").data
    assert pmap.shape == fine.image.shape[:2]
    hits = [pmap[round(p.row), round(p.col)] for p in truth]
    assert np.mean(hits) >= 0.8


def test_tiles_do_not_count_a_pore_twice(fine: Phantom) -> None:
    a = _analyzer()
    big = _pores(a.analyze(fine.image, DESC))["pores.count"]
    _set_detail(a, CameraDetail(tile_px=160))  # ~50 tiles with seams through many pores
    small = _pores(a.analyze(fine.image, DESC))["pores.count"]
    assert abs(small - big) <= 2


def test_photo_within_the_working_size_is_unchanged() -> None:
    spec = PhantomSpec(size_px=(400, 400), n_pores=60, pore_diameter_mm=(0.2, 0.5), seed=1)
    ph = make_phantom(spec)
    desc = ImageDescription(view=View.CLOSE_UP, spacing_mm=0.1)
    on = Analyzer("cpu", thresholds=LENIENT).analyze(ph.image, desc)
    off = Analyzer("cpu", thresholds=LENIENT, detail_mm=None).analyze(ph.image, desc)
    assert _pores(on) == _pores(off) and _pores(on)["pores.count"] > 0


def test_detail_scale_is_the_source_up_to_the_floor() -> None:
    t = CameraDetail(0.1)
    fr = Frame(0, 0, 3000, 3000, 0.25, (3000, 3000))
    assert t.pore_scale(fr, 0.28) == pytest.approx(0.07)  # source 0.07 mm/px
    assert t.pore_scale(fr, 0.12) == pytest.approx(0.07)  # source 0.03: floor 0.07
    assert t.line_scale(fr, 0.28) == pytest.approx(0.1)  # fine lines: 0.1 mm/px
    assert t.line_scale(fr, 0.6) == pytest.approx(0.15)  # source 0.15: its own pixels
    assert t.pore_scale(fr, 0.09) is None  # working frame already fine enough
    assert t.line_scale(fr, 0.09) is None
    assert t.plan(Frame(0, 0, 9, 9, 1.0, (9, 9)), 0.3).scales() == {}  # source not finer
    with pytest.raises(ValueError):
        CameraDetail(0.0)


# ------------------------------------------------------------------ fine lines

LINE_MM = 12.0


@pytest.fixture(scope="module")
def lined() -> Phantom:
    """84 x 84 mm at 0.07 mm/px with four fine lines 12 mm long, 0.25 mm wide (FWHM)."""
    spec = PhantomSpec(
        size_px=(1200, 1200),
        spacing_mm=SPACING,
        n_fine_lines=4,
        fine_length_mm=LINE_MM,
        fine_width_mm=0.25,
        fine_depth=0.06,
        texture=0.004,
        seed=5,
    )
    return make_phantom(spec)


def _lines(r: ImageResult) -> dict[str, float]:
    return {m.key: m.value for m in r.measurements if m.key.startswith("wrinkles")}


def test_fine_lines_are_found_whole_at_source_resolution(lined: Phantom) -> None:
    # the working frame (0.22 mm/px) misses them or finds pieces
    old = _lines(_analyzer(detail_mm=None).analyze(lined.image, DESC))
    assert old["wrinkles.fine_lines.count"] < 4
    assert old["wrinkles.fine_lines.length_mm"] < 0.5 * 4 * LINE_MM
    r = _analyzer().analyze(lined.image, DESC)
    new = _lines(r)
    assert new["wrinkles.fine_lines.count"] == 4
    # the detector shortens a line by about one sigma at each end: within 10 %
    assert new["wrinkles.fine_lines.length_mm"] == pytest.approx(4 * LINE_MM, rel=0.1)
    assert new["wrinkles.count"] == 0  # and none is taken for a wrinkle
    # the map is at the source size and lies on the drawn lines
    fmap = next(m for m in r.maps if m.name == "fine_lines").data
    assert fmap.shape == lined.image.shape[:2]
    for ln in lined.truth.fine_lines:
        rr = np.linspace(ln.r0, ln.r1, 50)[5:-5].round().astype(int)
        cc = np.linspace(ln.c0, ln.c1, 50)[5:-5].round().astype(int)
        near = [fmap[r0 - 4 : r0 + 5, c0 - 4 : c0 + 5].any() for r0, c0 in zip(rr, cc, strict=True)]
        assert np.mean(near) >= 0.9


def test_a_line_across_tile_seams_is_one_line_with_its_full_length(lined: Phantom) -> None:
    a = _analyzer()
    big = _lines(a.analyze(lined.image, DESC))
    # 64 px tiles at 0.1 mm/px: 6.4 mm, so every 12 mm line crosses one or more seams
    _set_detail(a, CameraDetail(line_tile_px=64))
    small = _lines(a.analyze(lined.image, DESC))
    assert small["wrinkles.fine_lines.count"] == big["wrinkles.fine_lines.count"] == 4
    assert small["wrinkles.fine_lines.length_mm"] == pytest.approx(
        big["wrinkles.fine_lines.length_mm"], abs=1e-6
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_detail_lightness_is_the_working_frames_l_star(dtype: type) -> None:
    import torch

    from analysis.pipeline import ToLab, ToLinearRGB, lightness

    rng = np.random.default_rng(0)
    top = 255 if dtype is np.uint8 else 65535
    img = rng.integers(0, top + 1, (40, 50, 3)).astype(dtype)
    img[:5] = 0  # CIE's linear segment near black
    gains = np.array([1.3, 1.0, 0.7], np.float32)  # one gain > 1: clamped like ToLab
    lin = ToLinearRGB(torch.device("cpu"))(img) * torch.from_numpy(gains).view(3, 1, 1)
    ref = ToLab()(lin)[0].numpy()
    assert np.abs(lightness(img, gains) - ref).max() < 1e-3


def test_shared_threads_give_the_same_result(lined: Phantom) -> None:
    # tiles started beside the working-frame measures on the engine's pool vs all in turn
    one = _analyzer(cpu_workers=1).analyze(lined.image, DESC)
    two = _analyzer(cpu_workers=2).analyze(lined.image, DESC)
    assert [(m.key, m.region, m.value) for m in one.measurements] == [
        (m.key, m.region, m.value) for m in two.measurements
    ]
    assert _lines(two)["wrinkles.fine_lines.count"] == 4
