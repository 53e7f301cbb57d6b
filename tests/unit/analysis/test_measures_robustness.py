"""Measures on phantoms under capture changes, and next to non-skin (eyes, hair).

Tolerances (JPEG q80, 3 degree rotation, 10 % brighter): counts within 1 or 5 %, line
lengths within 15 % (JPEG blurs thin, faint lines: -11 % measured), other areas and indices
within 10 % (or 0.1 absolute); ITA is exempt from brightening (it follows L*).
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from analysis.measures import MEASURES
from analysis.phantoms import Phantom, PhantomSpec, make_phantom, phantom_skin_image

SPEC = PhantomSpec(
    size_px=(400, 400),
    n_spots=4,
    n_pores=50,
    n_fine_lines=2,
    fine_length_mm=8.0,
    n_wrinkles=1,
    wrinkle_length_mm=10.0,
    red_patch_radius_mm=3.0,
    n_lesions=2,
    shine_radius_mm=3.0,
    texture=0.01,
    seed=5,
)


def _values(ph: Phantom, image: np.ndarray) -> dict[str, float]:
    img = phantom_skin_image(replace(ph, image=np.ascontiguousarray(image)))
    return {m.key: m.value for fn in MEASURES for m in fn(img).measurements}


def _jpeg(image: np.ndarray) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]


def _rotate(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 3.0, 1.0)
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _brighter(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image.astype(np.float64) * 1.1), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(SPEC)


@pytest.fixture(scope="module")
def reference(phantom):
    return _values(phantom, phantom.image)


@pytest.mark.parametrize("change", [_jpeg, _rotate, _brighter])
def test_keys_stable_under_capture_changes(phantom, reference, change):
    got = _values(phantom, change(phantom.image))
    for key, ref in reference.items():
        if key == "pigmentation.ita_deg" and change is _brighter:
            assert got[key] > ref  # brighter skin reads lighter: ITA follows L*
            continue
        if key.endswith("count"):
            assert abs(got[key] - ref) <= max(1.0, 0.05 * ref), key
        elif key.endswith("length_mm"):
            assert got[key] == pytest.approx(ref, rel=0.15), key
        else:
            assert got[key] == pytest.approx(ref, rel=0.1, abs=0.1), key


def test_no_features_from_eyes_or_hair_outside_the_skin_mask():
    ph = make_phantom(PhantomSpec(size_px=(300, 300), texture=0.01))
    image = ph.image.copy()
    eye = np.zeros((300, 300), np.uint8)
    cv2.ellipse(eye, (150, 160), (50, 20), 0, 0, 360, 1, -1)
    image[eye > 0] = (40, 30, 25)
    image[:30] = (60, 40, 20)  # hair
    skin_np = eye == 0
    skin_np[:30] = False
    img = phantom_skin_image(replace(ph, image=image))
    skin = torch.from_numpy(skin_np)
    img = replace(img, skin=skin, regions={"skin": skin})
    values = {m.key: m.value for fn in MEASURES for m in fn(img).measurements}
    for key in (
        "pigmentation.spots.count",
        "redness.lesions.count",
        "pores.count",
        "wrinkles.count",
        "wrinkles.fine_lines.count",
    ):
        assert values[key] == 0, key
    for key in ("pigmentation.melasma.score", "redness.area_pct", "oil.shine_area_pct"):
        assert values[key] < 0.05, key
