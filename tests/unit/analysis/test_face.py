"""Face geometry on real faces: detection, landmarks, pose, iris scale, zones, negatives.

The photos are a downscaled subset of the Face Research Lab London Set (``tests/data/faces``,
CC BY 4.0 / CC0, see its README); ``landmarks.json`` holds their template points and zone
probes, written by ``benchmarks/landmarks.py --write-test-subset``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

import analysis.face as face_mod
from analysis.color import linear_rgb_to_lab, srgb_to_linear, to_unit_float
from analysis.face import (
    IRIS_DIAMETER_MM,
    FaceDetector,
    FaceGeometry,
    estimate_spacing,
    face_regions,
    skin_regions,
)
from analysis.types import ZONES
from analysis.zones import rasterize

DATA = Path(__file__).resolve().parents[2] / "data" / "faces"
NEUTRAL = ("001_03", "025_03", "005_03", "037_03", "044_03", "127_03")
SMILING = ("001_08", "025_08")
ALL = (*NEUTRAL, *SMILING, "lisa3")


def _rgb(path: Path) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1])


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector("cpu")


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {n: _rgb(DATA / f"{n}.jpg") for n in ALL}


@pytest.fixture(scope="module")
def templates() -> dict[str, Any]:
    return json.loads((DATA / "landmarks.json").read_text())


@pytest.fixture(scope="module")
def faces(detector: FaceDetector, photos: dict[str, np.ndarray]) -> dict[str, FaceGeometry]:
    with torch.inference_mode():
        found = detector([photos[n] for n in ALL])  # the whole set as one batch
    assert all(f is not None for f in found), [
        n for n, f in zip(ALL, found, strict=True) if f is None
    ]
    return {n: f for n, f in zip(ALL, found, strict=True) if f is not None}


def _regions(image: np.ndarray, face: FaceGeometry, **kw: float) -> tuple[np.ndarray, dict]:
    lab = linear_rgb_to_lab(srgb_to_linear(to_unit_float(image)))
    skin, reg = face_regions(lab, face, **kw)
    return skin.numpy(), {k: v.numpy() for k, v in reg.items()}


def _err(face: FaceGeometry, t: dict[str, list[float]], name: str, point: np.ndarray) -> float:
    ipd = float(np.linalg.norm(np.subtract(t["pupil_left"], t["pupil_right"])))
    return float(np.linalg.norm(point - np.asarray(t[name]))) / ipd


def test_every_face_is_found_frontal_and_upright(faces: dict[str, FaceGeometry]) -> None:
    for name in (*NEUTRAL, *SMILING):
        f = faces[name]
        assert f.detection_score >= 0.8 and f.presence >= 0.95, name
        assert abs(f.pose.yaw_deg) < 10 and abs(f.pose.roll_deg) < 8, (name, f.pose)
        # the patient's right eye is on the image left of a frontal photo
        assert f.iris_right[0, 0] < f.iris_left[0, 0], name
    # lisa3 is a phone selfie with the head tilted: its eye line falls to the image left
    lisa = faces["lisa3"]
    (rx, ry), (lx, ly) = lisa.eyes
    eye_line = math.degrees(math.atan2(ly - ry, lx - rx))
    assert eye_line < -12
    assert lisa.pose.roll_deg == pytest.approx(eye_line, abs=3)


def test_landmarks_against_the_templates(
    faces: dict[str, FaceGeometry], templates: dict[str, Any]
) -> None:
    pupils, corners, mouth = [], [], []
    for name in NEUTRAL:
        f, t = faces[name], templates[name]["points"]
        pupils += [_err(f, t, "pupil_right", f.iris_right[0])]
        pupils += [_err(f, t, "pupil_left", f.iris_left[0])]
        for tn, i in (
            ("eye_outer_right", 33),
            ("eye_inner_right", 133),
            ("eye_inner_left", 362),
            ("eye_outer_left", 263),
        ):
            corners.append(_err(f, t, tn, f.mesh[i, :2]))
        mouth += [
            _err(f, t, "mouth_right", f.mesh[61, :2]),
            _err(f, t, "mouth_left", f.mesh[291, :2]),
        ]
    # target of the issue: pupil error median <= 2 % of the inter-pupillary distance
    assert np.median(pupils) <= 0.02 and max(pupils) <= 0.04, pupils
    # full set (benchmarks/landmarks.py): corners median 3.3 %, 95th percentile 5.9 %; mouth
    # 3.0 % / 6.9 %
    assert np.median(corners) <= 0.06 and max(corners) <= 0.12, corners
    assert np.median(mouth) <= 0.06 and max(mouth) <= 0.12, mouth


def test_zone_probes_at_anatomical_points(
    photos: dict[str, np.ndarray], faces: dict[str, FaceGeometry], templates: dict[str, Any]
) -> None:
    right, total, wrong = 0, 0, []
    for name in NEUTRAL:
        img, f = photos[name], faces[name]
        skin, _ = _regions(img, f)
        _, _, polygons = rasterize(f.mesh[:, :2], skin.shape)
        for probe, expected, x, y in templates[name]["probes"]:
            xi, yi = round(x), round(y)
            if expected == "not_skin":
                found = "skin" if skin[yi, xi] else "not_skin"
            else:
                found = next((z for z, m in polygons.items() if m[yi, xi]), "no zone")
            total += 1
            right += found == expected
            if found != expected:
                wrong.append((name, probe, found))
            # the checks the issue names, on every face
            if probe in ("nose tip", "crow's feet right", "crow's feet left", "chin centre"):
                assert found == expected, (name, probe, found)
            if probe in ("upper lip", "lower lip", "pupil right", "pupil left"):
                assert found == "not_skin", (name, probe)
    assert right / total >= 0.95, wrong


def test_zones_are_disjoint_inside_the_skin_and_follow_the_patient_sides(
    photos: dict[str, np.ndarray], faces: dict[str, FaceGeometry]
) -> None:
    img, f = photos["001_03"], faces["001_03"]
    skin, reg = _regions(img, f)
    names = [str(z) for z in ZONES]
    assert set(names) <= set(reg) and "face" in reg
    total = np.zeros(skin.shape, np.int32)
    for n in names:
        assert reg[n].sum() > 100, n
        assert not (reg[n] & ~skin).any(), n
        total += reg[n]
    assert total.max() == 1
    assert (total.astype(bool) == skin).all()  # the face is its zones
    cx = {n: float(np.nonzero(reg[n])[1].mean()) for n in names}
    cy = {n: float(np.nonzero(reg[n])[0].mean()) for n in names}
    nose_x = cx["nose"]
    for side in ("cheek", "periorbital", "nasolabial"):
        assert cx[f"{side}_left"] > nose_x > cx[f"{side}_right"], side
    assert cy["forehead"] < cy["glabella"] < cy["nose"] < cy["perioral"] < cy["chin"]


def test_the_chin_zone_reaches_the_jaw_line(
    photos: dict[str, np.ndarray], faces: dict[str, FaceGeometry], templates: dict[str, Any]
) -> None:
    # the issue: "the chin zone stops above the jaw on a real studio photo"
    gaps = []
    for name in NEUTRAL:
        f, t = faces[name], templates[name]["points"]
        _, _, polygons = rasterize(f.mesh[:, :2], photos[name].shape[:2])
        ys = np.nonzero(polygons["chin"])[0]
        ipd = float(np.linalg.norm(np.subtract(t["pupil_left"], t["pupil_right"])))
        # full set: median 4.9 %, 95th percentile 14 % of the IPD (mesh 152 alone: 10 % / 20 %)
        assert abs(ys.max() - t["menton"][1]) < 0.14 * ipd, name
        gaps.append(abs(ys.max() - t["menton"][1]) / ipd)
    assert np.median(gaps) < 0.08, gaps


def test_smile_keeps_lips_out_and_the_nasolabial_zone_on_the_fold(
    photos: dict[str, np.ndarray], faces: dict[str, FaceGeometry]
) -> None:
    for name in SMILING:
        f = faces[name]
        skin, reg = _regions(photos[name], f)
        m = f.mesh[:, :2]
        # lip vermilion and teeth between the mouth corners are not skin
        for a, b in ((0, 13), (14, 17), (13, 14)):
            x, y = np.round((m[a] + m[b]) / 2).astype(int)
            assert not skin[y, x], (name, a, b)
        # halfway from the ala to the mouth corner: the nasolabial fold
        for ala, corner, zone in ((129, 61, "nasolabial_right"), (358, 291, "nasolabial_left")):
            x, y = np.round((m[ala] + m[corner]) / 2).astype(int)
            _, _, polygons = rasterize(m, skin.shape)
            assert polygons[zone][y, x], (name, zone)


def test_pose_follows_a_rotation_and_a_mirror(
    detector: FaceDetector, photos: dict[str, np.ndarray], faces: dict[str, FaceGeometry]
) -> None:
    img = photos["001_03"]
    h, w = img.shape[:2]
    base = faces["001_03"].pose
    rot = cv2.warpAffine(
        img,
        cv2.getRotationMatrix2D((w / 2, h / 2), 15.0, 1.0),
        (w, h),
        borderMode=cv2.BORDER_REFLECT,
    )
    mirrored = np.ascontiguousarray(img[:, ::-1])
    fr, fm = detector([rot, mirrored])
    assert fr is not None and fm is not None
    # OpenCV's positive angle turns the image counter-clockwise: the roll drops by it
    assert fr.pose.roll_deg - base.roll_deg == pytest.approx(-15.0, abs=2.0)
    assert fr.pose.yaw_deg == pytest.approx(base.yaw_deg, abs=3.0)
    # a mirror swaps the sides: yaw and roll change sign, the irises stay with their eyes
    assert fm.pose.yaw_deg == pytest.approx(-base.yaw_deg, abs=2.0)
    assert fm.pose.roll_deg == pytest.approx(-base.roll_deg, abs=1.5)
    assert fm.iris_right[0, 0] < fm.iris_left[0, 0]


def test_iris_scale_is_estimated_with_its_uncertainty(
    detector: FaceDetector, photos: dict[str, np.ndarray], faces: dict[str, FaceGeometry]
) -> None:
    for name in NEUTRAL:
        est = estimate_spacing(faces[name])
        assert est is not None and est.method == "iris"
        assert 3.5 <= est.uncertainty_pct <= 12.0, name
        # the inter-pupillary distance it implies is an adult one (54-74 mm, Dodgson 2004)
        assert 54.0 <= faces[name].iod_px * est.spacing_mm <= 74.0, name
    # half the pixels: twice the spacing
    img = photos["001_03"]
    small = cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    f_small = detector([small])[0]
    full, half = estimate_spacing(faces["001_03"]), estimate_spacing(f_small)
    assert full is not None and half is not None
    assert half.spacing_mm == pytest.approx(2 * full.spacing_mm, rel=0.1)
    assert IRIS_DIAMETER_MM == pytest.approx(11.71)
    assert estimate_spacing(None) is None


def _crop(
    img: np.ndarray, face: FaceGeometry, centre: np.ndarray, w: float, h: float
) -> np.ndarray:
    x0, y0 = int(centre[0] - w / 2), int(centre[1] - h / 2)
    return np.ascontiguousarray(img[y0 : y0 + int(h), x0 : x0 + int(w)])


def test_no_face_where_there_is_none(
    detector: FaceDetector, photos: dict[str, np.ndarray], faces: dict[str, FaceGeometry]
) -> None:
    negatives = [skdata.chelsea(), skdata.coffee(), skdata.rocket()]
    for name in SMILING:
        img, m = photos[name], faces[name].mesh[:, :2]
        mw = float(np.linalg.norm(m[291] - m[61]))
        fw = float(np.linalg.norm(m[454] - m[234]))
        # teeth and lips of a smile (a proxy for an intraoral photo), and a cheek close-up
        negatives.append(_crop(img, faces[name], (m[61] + m[291]) / 2, 1.5 * mw, mw))
        negatives.append(_crop(img, faces[name], m[50], 0.3 * fw, 0.3 * fw))
    found = detector(negatives)
    assert [i for i, f in enumerate(found) if f is not None] == []


def test_a_zone_seen_too_obliquely_is_left_out(
    photos: dict[str, np.ndarray], faces: dict[str, FaceGeometry]
) -> None:
    f = faces["001_03"]
    angles = f.view_angles()
    assert set(angles) == {str(z) for z in ZONES}
    assert all(a <= 60 for a in angles.values()), angles  # a frontal photo sees every zone
    cheeks = min(angles["cheek_left"], angles["cheek_right"])
    _, reg = _regions(photos["001_03"], f, max_view_angle_deg=cheeks - 1.0)
    assert "cheek_left" not in reg or "cheek_right" not in reg
    assert "nose" in reg and "glabella" in reg


def test_close_up_is_region_skin() -> None:
    rng = np.random.default_rng(3)
    tone = np.array([200, 150, 125], np.float32)
    img = np.clip(tone + rng.normal(0, 4, (96, 128, 3)), 0, 255).astype(np.uint8)
    img[:, :12] = 10  # dark border (dermoscopy vignette)
    lab = linear_rgb_to_lab(srgb_to_linear(to_unit_float(img)))
    skin, reg = skin_regions(lab)
    assert list(reg) == ["skin"]
    s = skin.numpy()
    assert s[:, 20:].mean() > 0.97 and not s[:, :10].any()


@pytest.mark.parametrize("radius", [1, 3, 6])
def test_mask_cleaning_on_the_cpu_equals_the_pooling_reference(radius: int) -> None:
    # OpenCV's opening/closing (the CPU path) against max pooling (any device), with skin-like
    # blobs and speckle touching the image border, where the two treat the outside alike
    rng = np.random.default_rng(radius)
    noise = cv2.GaussianBlur(rng.standard_normal((240, 320)).astype(np.float32), (0, 0), 4)
    mask = (noise > 0) ^ (rng.random((240, 320)) < 0.03)
    m = torch.from_numpy(mask)
    got = face_mod._clean(m, radius)
    ref = face_mod._clean_pool(m, radius)
    assert got.dtype == torch.bool and got.shape == m.shape
    assert torch.equal(got, ref)
    assert not torch.equal(got, m)  # it did clean something
