"""The quality gate gives the right reasons (blur, exposure, no face) and passes a good photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from analysis.quality import (
    ExposureStats,
    QualityThresholds,
    assess_quality,
    exposure_stats,
    lighting_ratio,
    noise_level,
    noisy_families,
    sharpness_index,
)

FACE_BOX = (177, 67, 93, 93)  # the astronaut's face (Haar cascade, checked in test_face)


def _gate(**kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "face_view": True,
        "face_found": True,
        "face_width_px": 900.0,
        "sharpness": 50.0,
        "exposure": ExposureStats(0.5, 0.5, 0.5),
        "cast_ratio": 1.05,
        "glare_pct": 1.0,
    }
    args.update(kw)
    return assess_quality(**args)  # type: ignore[arg-type]


def test_good_photo_passes_without_issues() -> None:
    q = _gate()
    assert q.usable and q.issues == ()


def test_blur_lowers_sharpness_monotonically_and_blocks() -> None:
    img = data.astronaut()
    values = [
        sharpness_index(img if s == 0 else cv2.GaussianBlur(img, (0, 0), s), FACE_BOX)
        for s in (0, 1.0, 2.5, 4.0)
    ]
    assert values == sorted(values, reverse=True)
    t = QualityThresholds()
    assert values[0] > t.warn_sharpness
    assert values[2] < t.min_sharpness
    q = _gate(sharpness=values[2])
    assert not q.usable and [i.code for i in q.issues] == ["blur"]


def test_sharpness_is_normalised_for_resolution() -> None:
    rng = np.random.default_rng(2)
    pattern = cv2.GaussianBlur(rng.integers(0, 256, (256, 256, 3)).astype(np.uint8), (0, 0), 1.0)
    # the same scene with 3x the pixels: resampled to the same face width, the same index
    big = np.kron(pattern, np.ones((3, 3, 1), np.uint8))
    s1 = sharpness_index(pattern, (0, 0, 256, 256))
    s3 = sharpness_index(big, (0, 0, 768, 768))
    assert s3 == pytest.approx(s1, rel=0.02)
    assert sharpness_index(big, (0, 0, 768, 768)) > 5 * sharpness_index(
        cv2.GaussianBlur(big, (0, 0), 6.0), (0, 0, 768, 768)
    )


def test_overexposed_photo_is_blocked() -> None:
    img = np.clip(data.astronaut().astype(np.int32) * 2 + 60, 0, 255).astype(np.uint8)
    e = exposure_stats(img)
    assert e.high_pct > 20
    q = _gate(exposure=e)
    assert not q.usable
    assert "overexposed" in [i.code for i in q.issues if i.blocking]


def test_underexposed_and_warning_levels() -> None:
    dark = (data.astronaut() // 12).astype(np.uint8)
    q = _gate(exposure=exposure_stats(dark))
    assert "underexposed" in [i.code for i in q.issues if i.blocking]
    q2 = _gate(exposure=ExposureStats(8.0, 0.0, 0.5))
    assert q2.usable and [i.code for i in q2.warnings] == ["overexposed"]


def test_exposure_stats_counts_clipped_pixels() -> None:
    img = np.full((10, 10, 3), 128, np.uint8)
    img[:2] = 255  # 20 % white
    img[9, :5] = 0  # 5 % black
    e = exposure_stats(img)
    assert e.high_pct == pytest.approx(20.0)
    assert e.low_pct == pytest.approx(5.0)
    assert e.clipped_pct == pytest.approx(25.0)


def test_face_less_face_view_is_blocked_but_close_up_is_not() -> None:
    q = _gate(face_found=False, face_width_px=None)
    assert not q.usable and [i.code for i in q.issues] == ["no_face"]
    q2 = _gate(face_view=False, face_found=False, face_width_px=None)
    assert q2.usable


def test_small_face_cast_and_glare() -> None:
    assert [i.code for i in _gate(face_width_px=40.0).issues] == ["low_resolution"]
    assert not _gate(face_width_px=40.0).usable
    assert _gate(face_width_px=200.0).usable
    w = _gate(cast_ratio=1.8)
    assert w.usable and w.warnings[0].code == "colour_cast"
    assert not _gate(cast_ratio=3.5).usable
    assert [i.code for i in _gate(glare_pct=12.0).warnings] == ["glare"]
    assert not _gate(glare_pct=40.0).usable


def test_noise_level_follows_added_noise_and_ignores_edges() -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:256]
    base = 0.5 + 0.2 * (xx / 256.0)  # a smooth ramp, like shading
    base[:, 128:] += 0.2  # and a hard edge, which must not read as noise
    levels = []
    for sigma in (0.0, 0.01, 0.03):
        img = np.clip(base + rng.normal(0.0, sigma, base.shape), 0, 1)
        rgb = (np.repeat(img[..., None], 3, axis=2) * 255).round().astype(np.uint8)
        levels.append(noise_level(rgb))
    assert levels[0] < 0.3  # 8-bit quantisation only
    assert levels[0] < levels[1] < levels[2]
    # the robust estimate on flat pixels reads a known sigma within ~30 % (it selects the
    # calmer half of the pixels, so it errs low)
    assert levels[2] == pytest.approx(3.0, rel=0.3)


def test_noise_gate_warns_blocks_and_names_the_families() -> None:
    assert noisy_families(0.5) == {}
    fams = noisy_families(2.0)
    assert set(fams) == {"pores", "wrinkles.fine_lines", "texture"}
    assert "noisy" in fams["pores"]
    assert set(noisy_families(5.0)) >= {"wrinkles", "pigmentation.spots", "redness.lesions"}
    kw = dict(
        face_view=False,
        face_found=False,
        face_width_px=None,
        sharpness=50.0,
        exposure=ExposureStats(0.0, 0.0, 0.5),
        cast_ratio=1.0,
        glare_pct=0.0,
    )
    warn = assess_quality(**kw, noise_pct=2.0)
    assert warn.usable and [i.code for i in warn.issues] == ["noise"]
    assert warn.noise_pct == 2.0
    assert not assess_quality(**kw, noise_pct=9.0).usable
    lit = assess_quality(**kw, lighting=2.0)
    assert [i.code for i in lit.issues] == ["uneven_lighting"] and lit.usable


def test_lighting_ratio_sees_a_side_lit_face() -> None:
    img = np.full((100, 90, 3), 120, dtype=np.uint8)
    assert lighting_ratio(img) == pytest.approx(1.0)
    img[:, :30] = 60
    assert lighting_ratio(img) > 1.8
