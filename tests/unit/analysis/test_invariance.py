"""Invariance of every face-level key to capture nuisances, at clinical resolution (issue 3).

The photo is scikit-image's ``astronaut`` upscaled 6x (3072 x 3072, bicubic): the face box
is ~580 px wide and the scale estimated from the eyes ~0.23 mm/px, the resolution of a
head-and-shoulders clinic photo. The same photo brightened 10 %, white-balance shifted
(x[1.06, 1.0, 0.92] in sRGB), re-compressed as JPEG q80, rotated 3 degrees and scaled 0.8x
must give every skin key within its stated tolerance of the original's value, and the same
list of families that are not assessed. The test prints, per key, the coefficient of
variation (CV = std / |mean| over the six versions) and the largest change, the table that
``docs/methods/pipeline.md`` records.

Tolerances (measured worst case with a margin; see the table in the docs):

* continuous keys: ``|variant - original| <= rel * |original|``;
* counts: ``|variant - original| <= max(abs, rel * original)``: a count of 7 lesions may
  move by 2 (one lesion near the threshold appearing and one more at the mask's edge).

The quality keys (``quality.sharpness``, ``quality.exposure_clipped_pct``) describe the
capture, not the skin, and are meant to change with it (a 10 % brighter photo clips more);
they are printed, not asserted. The upscaled photo has no pores or fine lines (they are
finer than its real detail); at ~0.23 mm/px pores are below the resolution policy
(``analysis.measures.pores.MAX_SCALE_MM``) and must be *not assessed* on every version,
while fine lines are assessed and must be 0 on every version.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from analysis.keys import KEYS, NOT_ASSESSED
from analysis.pipeline import Analyzer
from analysis.types import ImageDescription, ImageResult, SpacingSource

pytestmark = pytest.mark.slow

UPSCALE = 6


def _brighten(img: np.ndarray) -> np.ndarray:
    return np.clip(img.astype(np.float32) * 1.1, 0, 255).astype(np.uint8)


def _white_balance(img: np.ndarray) -> np.ndarray:
    return np.clip(img.astype(np.float32) * np.array([1.06, 1.0, 0.92]), 0, 255).astype(np.uint8)


def _jpeg(img: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=80)
    return np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _rotate(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 3.0, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _scale(img: np.ndarray) -> np.ndarray:
    return cv2.resize(img, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)


VARIANTS = {
    "brighter10": _brighten,
    "white_balance": _white_balance,
    "jpeg_q80": _jpeg,
    "rotate3": _rotate,
    "scale0.8": _scale,
}

#: Relative tolerance per continuous key (measured worst case and variant in brackets,
#: 6x astronaut, CPU). ITA depends on L*, hence on exposure: the pipeline removes the
#: colour cast but deliberately keeps exposure (docs/methods/pipeline.md).
RELATIVE: dict[str, float] = {
    "pigmentation.ita_deg": 0.10,  # (0.072, brighter10)
    "pigmentation.melanin_index": 0.05,  # (0.026, jpeg_q80)
    # visible-contrast detector (issue 13): JPEG q80 smooths the colour of near-threshold
    # patches below 2.0 CIEDE2000 (0.43, jpeg_q80); docs/methods/measures.md "Repeatability"
    "pigmentation.spots.area_pct": 0.5,
    "pigmentation.melasma.score": 0.10,  # (0.049, jpeg_q80)
    "redness.erythema_index": 0.08,  # (0.058, brighter10)
    # mesh zones (issue 12): the face now reaches the jaw line and the lateral cheeks, where
    # exposure moves the red area and the wrinkle response more than inside the old template
    # ellipse (template: 0.107 brighter10 / 0.079 / 0.057 jpeg_q80); re-measured:
    "redness.area_pct": 0.20,  # (0.172, brighter10)
    # wrinkles (issue 13: nose/jaw outlines dropped, Weber contrast): exposure no longer
    # moves them, the 0.8x rescale (sub-pixel resampling) does; re-measured
    "wrinkles.length_mm": 0.25,  # (0.204, scale0.8; was 0.158, brighter10)
    "wrinkles.area_pct": 0.16,  # (0.125, rotate3; was 0.126, brighter10)
    "texture.roughness": 0.08,  # (0.039, jpeg_q80)
    "texture.uniformity": 0.03,  # (0.006, scale0.8)
    "oil.shine_area_pct": 0.08,  # (0.046, jpeg_q80)
}
#: Counts: (absolute, relative) -> allowed change max(absolute, relative * original).
COUNTS: dict[str, tuple[float, float]] = {
    # visible-contrast detector (issue 13): 25 near-threshold specks on the upscaled astronaut,
    # JPEG q80 takes 8 of them below 2.0 CIEDE2000; white balance adds 3 of 8 lesions
    "pigmentation.spots.count": (2.0, 0.35),  # (8 of 25, jpeg_q80)
    # ring contrast + re-cut of merged patches (issue 13, spots helper): re-measured 4,
    # brighter10 (a near-threshold lesion pair merging/splitting as exposure moves the mask)
    "redness.lesions.count": (4.0, 0.15),  # (4, brighter10)
    # mesh zones (issue 12, jaw line and lateral cheeks in): 4 of 11, brighter10; issue 13
    # (outlines dropped, Weber contrast): 3, scale0.8
    "wrinkles.count": (5.0, 0.15),
}
#: Keys whose value on this photo is exactly 0 on every version (no such features).
ZERO = {"wrinkles.fine_lines.count", "wrinkles.fine_lines.length_mm"}
#: Families below the resolution policy at ~0.23 mm/px: not assessed on every version.
UNRESOLVED = {"pores"}
QUALITY = {"quality.sharpness", "quality.exposure_clipped_pct"}


@pytest.fixture(scope="module")
def results() -> dict[str, ImageResult]:
    a = Analyzer("cpu")
    side = 512 * UPSCALE
    img = cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_CUBIC)
    out = {"original": a.analyze(img, ImageDescription(source="original"))}
    for name, f in VARIANTS.items():
        out[name] = a.analyze(f(img), ImageDescription(source=name))
    return out


def test_every_key_has_a_stated_policy() -> None:
    keys = {k.key for k in KEYS}
    policy = set(RELATIVE) | set(COUNTS) | ZERO | QUALITY
    unresolved = {k for k in keys if any(k.startswith(u + ".") for u in UNRESOLVED)}
    assert policy | unresolved == keys
    assert not (policy & unresolved)


def test_the_face_and_its_scale_are_found_on_every_version(
    results: dict[str, ImageResult],
) -> None:
    # The face of the astronaut is at (177, 67, 93, 93) on the 512 px photo; upscaled 6x a
    # weak false detection on the suit (larger, 6 merged windows against 46) was once taken.
    orig = results["original"]
    assert orig.face_box is not None
    x, y, w, h = orig.face_box
    assert abs(x + w / 2 - 223.5 * UPSCALE) < 10 * UPSCALE
    assert abs(y + h / 2 - 113.5 * UPSCALE) < 10 * UPSCALE
    assert 80 * UPSCALE < w < 110 * UPSCALE
    s0 = orig.spacing.value
    assert s0 is not None and 0.2 < s0 < 0.26
    for name, r in results.items():
        assert r.quality.usable and r.face_found, name
        # the eyes are found on every version, the 3-degree rotation included
        assert r.spacing.source is SpacingSource.ESTIMATED, name
        expected = s0 / 0.8 if name == "scale0.8" else s0
        assert r.spacing.value == pytest.approx(expected, rel=0.05), name


def test_the_same_families_are_not_assessed_on_every_version(
    results: dict[str, ImageResult],
) -> None:
    for name, r in results.items():
        assert {n.key for n in r.not_assessed} == set(NOT_ASSESSED) | UNRESOLVED, name


def _table(results: dict[str, ImageResult]) -> tuple[list[str], list[tuple[str, str, float]]]:
    lines = [f"{'key':32s} {'CV %':>6s} {'max change':>10s}  worst          tolerance"]
    failures: list[tuple[str, str, float]] = []
    for k in KEYS:
        if any(k.key.startswith(u + ".") for u in UNRESOLVED):
            continue
        values = {n: r.value(k.key, "face") for n, r in results.items()}
        missing = [n for n, v in values.items() if v is None]
        if missing:
            failures.append((k.key, ",".join(missing), float("nan")))
            continue
        vals = {n: float(v) for n, v in values.items() if v is not None}
        o = vals["original"]
        arr = np.array(list(vals.values()))
        cv = float(arr.std() / max(abs(float(arr.mean())), 1e-9)) * 100
        diff = {n: abs(v - o) for n, v in vals.items()}
        worst = max(diff, key=lambda n: diff[n])
        if k.key in COUNTS:
            ab, rel = COUNTS[k.key]
            allowed = max(ab, rel * abs(o))
            change, tol = f"{diff[worst]:10.0f}", f"|d| <= max({ab:g}, {rel:g} x)"
        elif k.key in RELATIVE:
            allowed = RELATIVE[k.key] * abs(o)
            change = f"{diff[worst] / max(abs(o), 1e-9):10.3f}"
            tol = f"rel {RELATIVE[k.key]:g}"
        elif k.key in ZERO:
            allowed = 0.0
            change, tol = f"{diff[worst]:10.3f}", "all 0"
            if o != 0.0:
                failures.append((k.key, "original", o))
        else:  # quality: printed only
            allowed = float("inf")
            change = f"{diff[worst] / max(abs(o), 1e-9):10.3f}"
            tol = "reported only (capture)"
        lines.append(f"{k.key:32s} {cv:6.1f} {change}  {worst:14s} {tol}")
        if diff[worst] > allowed:
            failures.append((k.key, worst, vals[worst]))
    return lines, failures


def test_face_keys_are_invariant(results: dict[str, ImageResult]) -> None:
    lines, failures = _table(results)
    print("\n" + "\n".join(lines))
    assert failures == []
