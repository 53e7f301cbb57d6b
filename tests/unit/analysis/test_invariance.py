"""Invariance of every face-level key to capture nuisances (issue 3).

The same photo (scikit-image ``astronaut``) brightened 10 %, white-balance shifted,
re-compressed as JPEG q80, rotated 3 degrees and scaled 0.8x: each key's relative change
from the original must stay within its stated tolerance. The test prints, per key, the
coefficient of variation (CV = std / |mean| over the six versions) and the largest relative
change, so the measured figures can be copied to ``docs/methods/pipeline.md``.

Relative change = |variant - original| / |original|.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from analysis.keys import KEYS
from analysis.pipeline import Analyzer
from analysis.types import ImageDescription, ImageResult

pytestmark = pytest.mark.slow


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

#: Tolerance on the relative change per asserted key (measured worst case in brackets,
#: astronaut, 2026-11). Colour indices move with a 10 % brightening because CIELAB L* does:
#: the pipeline balances the cast but deliberately keeps exposure (docs/methods/pipeline.md).
TOLERANCE: dict[str, float] = {
    "pigmentation.ita_deg": 0.10,  # (0.085, brighter10)
    "pigmentation.melanin_index": 0.05,  # (0.030, white balance)
    "pigmentation.melasma.score": 0.20,  # (0.156, scale 0.8)
    "redness.erythema_index": 0.15,  # (0.135, white balance)
    "redness.area_pct": 0.20,  # (0.144, brighter10)
    "texture.uniformity": 0.10,  # (0.047, scale 0.8)
    "oil.shine_area_pct": 0.25,  # (0.206, JPEG q80)
}
#: Counts, lengths and small-feature areas are reported (CV printed) but not asserted here:
#: the astronaut's face is 93 px wide (0.7 px/mm), far below the resolution at which pores,
#: fine lines and spots exist in the image (the quality gate warns ``low_resolution``), so
#: their values of 0-5 features are noise. They need a high-resolution face photo.
REPORTED_ONLY = {k.key for k in KEYS} - set(TOLERANCE)


@pytest.fixture(scope="module")
def results() -> dict[str, ImageResult]:
    a = Analyzer("cpu")
    img = data.astronaut()
    out = {"original": a.analyze(img, ImageDescription(source="original"))}
    for name, f in VARIANTS.items():
        out[name] = a.analyze(f(img), ImageDescription(source=name))
    return out


def test_every_variant_is_usable_and_finds_the_face(results: dict[str, ImageResult]) -> None:
    for name, r in results.items():
        assert r.quality.usable and r.face_found, name


def test_face_keys_are_invariant(results: dict[str, ImageResult]) -> None:
    orig = results["original"]
    failures = []
    lines = [f"{'key':34s} {'CV %':>7s} {'max rel':>8s}  worst"]
    for k in KEYS:
        if k.key.startswith("quality."):
            continue
        values = {n: r.value(k.key, "face") for n, r in results.items()}
        assert all(v is not None for v in values.values()), k.key
        vals = np.array([float(v) for v in values.values() if v is not None])
        base = max(abs(float(values["original"] or 0.0)), 1e-9)
        rel = {
            n: abs(float(v or 0.0) - float(values["original"] or 0.0)) / base
            for n, v in values.items()
        }
        worst = max(rel, key=lambda n: rel[n])
        cv = float(vals.std() / max(abs(vals.mean()), 1e-9)) * 100
        tol = TOLERANCE.get(k.key)
        note = "reported only" if tol is None else f"tolerance {tol}"
        lines.append(f"{k.key:34s} {cv:7.1f} {rel[worst]:8.3f}  {worst:14s} {note}")
        if tol is not None and rel[worst] > tol:
            failures.append((k.key, worst, round(rel[worst], 3), tol))
    print("\n" + "\n".join(lines))
    assert orig.quality.usable
    assert failures == []
