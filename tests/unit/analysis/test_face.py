"""Face, eyes, zones and skin mask on a real face photo (scikit-image ``astronaut``)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from analysis.color import linear_rgb_to_lab, srgb_to_linear, to_unit_float
from analysis.face import (
    MEAN_IPD_MM,
    FaceGeometry,
    detect_face,
    estimate_spacing_mm,
    face_regions,
    skin_regions,
)
from analysis.types import ZONES

# Hand-marked on the 512 x 512 astronaut: pupil centres (x, y), mouth centre, chin tip.
LEFT_PUPIL_IMG = (202, 101)  # image-left = the patient's right eye
RIGHT_PUPIL_IMG = (247, 103)
MOUTH = (225, 143)
CHIN_Y = 177


@pytest.fixture(scope="module")
def astro() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def face(astro: np.ndarray) -> FaceGeometry:
    f = detect_face(astro)
    assert f is not None
    return f


@pytest.fixture(scope="module")
def regions(astro: np.ndarray, face: FaceGeometry) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    lab = linear_rgb_to_lab(srgb_to_linear(to_unit_float(astro)))
    return face_regions(lab, face)


def _centroid(m: torch.Tensor) -> tuple[float, float]:
    ys, xs = np.nonzero(m.numpy())
    return float(xs.mean()), float(ys.mean())


def test_face_and_eyes_found_where_marked(face: FaceGeometry) -> None:
    x, y, w, h = face.box
    assert x < LEFT_PUPIL_IMG[0] < RIGHT_PUPIL_IMG[0] < x + w
    assert y < LEFT_PUPIL_IMG[1] < y + h
    assert face.eyes_found
    (lx, ly), (rx, ry) = face.eyes
    assert np.hypot(lx - LEFT_PUPIL_IMG[0], ly - LEFT_PUPIL_IMG[1]) < 5
    assert np.hypot(rx - RIGHT_PUPIL_IMG[0], ry - RIGHT_PUPIL_IMG[1]) < 5


def test_spacing_estimate_from_the_pupils(face: FaceGeometry) -> None:
    iod = np.hypot(RIGHT_PUPIL_IMG[0] - LEFT_PUPIL_IMG[0], RIGHT_PUPIL_IMG[1] - LEFT_PUPIL_IMG[1])
    est = estimate_spacing_mm(face)
    assert est == pytest.approx(MEAN_IPD_MM / iod, rel=0.08)
    no_eyes = FaceGeometry(face.box, face.eyes, eyes_found=False)
    assert estimate_spacing_mm(no_eyes) is None and estimate_spacing_mm(None) is None


def test_all_zones_present_and_disjoint(
    regions: tuple[torch.Tensor, dict[str, torch.Tensor]],
) -> None:
    skin, reg = regions
    names = [str(z) for z in ZONES]
    assert set(names) <= set(reg) and "face" in reg
    total = torch.zeros_like(skin, dtype=torch.int32)
    for n in names:
        assert int(reg[n].sum()) > 20, n
        assert not bool((reg[n] & ~skin).any()), n
        total += reg[n].to(torch.int32)
    assert int(total.max()) == 1


def test_zones_in_anatomical_order(regions: tuple[torch.Tensor, dict[str, torch.Tensor]]) -> None:
    _, reg = regions
    c = {n: _centroid(m) for n, m in reg.items()}
    eye_y = (LEFT_PUPIL_IMG[1] + RIGHT_PUPIL_IMG[1]) / 2
    assert c["forehead"][1] < eye_y and c["glabella"][1] < eye_y
    assert c["chin"][1] == max(v[1] for k, v in c.items() if k != "face")
    assert c["chin"][1] > MOUTH[1] and c["chin"][1] < CHIN_Y + 10
    assert c["perioral"][1] == pytest.approx(MOUTH[1], abs=10)
    nose_x = c["nose"][0]
    # patient's left is image right on a frontal photo
    assert c["cheek_left"][0] > nose_x > c["cheek_right"][0]
    assert c["periorbital_left"][0] > nose_x > c["periorbital_right"][0]
    assert c["periorbital_left"][1] < c["cheek_left"][1]


def test_skin_mask_excludes_eyes_lips_and_background(
    regions: tuple[torch.Tensor, dict[str, torch.Tensor]],
) -> None:
    skin, _ = regions
    s = skin.numpy()
    for x, y in (LEFT_PUPIL_IMG, RIGHT_PUPIL_IMG, MOUTH):
        assert not s[y - 2 : y + 3, x - 2 : x + 3].any(), (x, y)
    assert not s[:40].any() and not s[300:].any()  # background above, space suit below
    assert s[125:135, 190:200].mean() > 0.9  # cheek skin (image left)
    assert s[125:135, 250:260].mean() > 0.9


def test_close_up_is_region_skin() -> None:
    rng = np.random.default_rng(3)
    tone = np.array([200, 150, 125], np.float32)
    img = np.clip(tone + rng.normal(0, 4, (96, 128, 3)), 0, 255).astype(np.uint8)
    img[:, :12] = 10  # dark border (dermoscopy vignette)
    assert detect_face(img) is None
    lab = linear_rgb_to_lab(srgb_to_linear(to_unit_float(img)))
    skin, reg = skin_regions(lab)
    assert list(reg) == ["skin"]
    s = skin.numpy()
    assert s[:, 20:].mean() > 0.97 and not s[:, :10].any()


@pytest.mark.parametrize("angle", [-10.0, -5.0, 3.0, 10.0])
def test_eyes_are_found_on_a_rotated_face_and_the_roll_follows(angle: float) -> None:
    img = data.astronaut()
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rot = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    upright = detect_face(img)
    face = detect_face(rot)
    assert upright is not None and face is not None
    assert face.eyes_found
    # OpenCV's positive angle turns the image counter-clockwise: the roll drops by it
    roll = math.degrees(face.roll_rad - upright.roll_rad)
    assert roll == pytest.approx(-angle, abs=1.5)
    assert face.iod_px == pytest.approx(upright.iod_px, rel=0.05)


def test_the_most_confident_detection_wins_over_a_larger_false_one() -> None:
    # Upscaled 6x, the frontal cascade also fires weakly (6 merged windows) on the space
    # suit with a larger box than the face (46 windows); the face must be chosen.
    big = cv2.resize(data.astronaut(), (3072, 3072), interpolation=cv2.INTER_CUBIC)
    face = detect_face(big)
    assert face is not None and face.eyes_found
    bx, by, bw, bh = face.box
    assert abs(bx + bw / 2 - 6 * 223.5) < 60 and abs(by + bh / 2 - 6 * 113.5) < 60
    assert 480 < bw < 660


def test_small_detached_pieces_of_skin_are_dropped() -> None:
    from analysis.face import ISLAND_FRACTION, _drop_islands

    mask = torch.zeros(100, 100, dtype=torch.bool)
    mask[10:90, 10:70] = True  # the face: 4800 px
    mask[2:8, 80:86] = True  # a gap in the fringe: 36 px < 2 %
    mask[40:60, 80:95] = True  # an ear-sized piece: 300 px > 2 %
    out = _drop_islands(mask, ISLAND_FRACTION)
    assert not bool(out[2:8, 80:86].any())
    assert bool(out[40:60, 80:95].all()) and bool(out[10:90, 10:70].all())
    assert int(out.sum()) == 4800 + 300
