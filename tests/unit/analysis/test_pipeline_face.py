"""The face geometry inside the pipeline: pose and zones in the result, view check, hidden zones.

Real faces from ``tests/data/faces`` (London set, CC BY 4.0; see its README).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from analysis.face import FaceGeometry
from analysis.pipeline import Analyzer, DetectFaced, ViewCheck
from analysis.types import ZONES, ImageDescription, QualityResult, SpacingSource, View
from analysis.zones import align_to_canonical, canonical_mesh

DATA = Path(__file__).resolve().parents[2] / "data" / "faces"


@pytest.fixture(scope="module")
def face_photo() -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(DATA / "001_03.jpg"))[:, :, ::-1])


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    # no concern measures: these tests are about the geometry
    return Analyzer("cpu", measures=[], score_fn=lambda ms: {})


def test_pose_zones_and_iris_scale_reach_the_result(
    analyzer: Analyzer, face_photo: np.ndarray
) -> None:
    r = analyzer.analyze(face_photo, ImageDescription(source="a", view=View.FRONTAL))
    assert r.face_found and r.quality.usable
    assert r.pose is not None and abs(r.pose.yaw_deg) < 10
    assert set(r.zone_view_angles) == {str(z) for z in ZONES}
    assert {z.region for z in r.zones} == {str(z) for z in ZONES} | {"face"}
    assert r.spacing.source is SpacingSource.ESTIMATED and r.spacing.method == "iris"
    assert r.spacing.uncertainty_pct is not None and r.spacing.uncertainty_pct >= 3.6
    j = r.to_json()
    assert set(j["pose"]) == {"yaw_deg", "pitch_deg", "roll_deg"}
    assert j["spacing_mm"]["method"] == "iris"
    assert j["zone_view_angles_deg"]["nose"] == pytest.approx(r.zone_view_angles["nose"], abs=0.05)
    assert not [i for i in r.quality.issues if i.code == "view_mismatch"]
    # Pixel Spacing from the photo still wins over the iris
    r2 = analyzer.analyze(face_photo, ImageDescription(source="b", spacing_mm=0.25))
    assert r2.spacing.value == 0.25 and r2.spacing.source is SpacingSource.PIXEL_SPACING


def test_a_frontal_photo_labelled_left_gets_a_warning(
    analyzer: Analyzer, face_photo: np.ndarray
) -> None:
    r = analyzer.analyze(face_photo, ImageDescription(source="a", view=View.LEFT))
    issues = [i for i in r.quality.issues if i.code == "view_mismatch"]
    assert len(issues) == 1 and not issues[0].blocking
    assert "'left'" in issues[0].message and "'frontal'" in issues[0].message
    assert r.quality.usable  # a warning, not a refusal


def test_a_zone_seen_too_obliquely_is_not_assessed_with_its_reason(face_photo: np.ndarray) -> None:
    a = Analyzer("cpu", measures=[], score_fn=lambda ms: {}, max_view_angle_deg=20.0)
    r = a.analyze(face_photo, ImageDescription(source="a"))
    hidden = {n.key for n in r.not_assessed if n.key.startswith("zone.")}
    seen = {z.region for z in r.zones}
    assert hidden and hidden.isdisjoint({f"zone.{s}" for s in seen})
    assert hidden | {f"zone.{s}" for s in seen - {"face"}} == {f"zone.{z}" for z in ZONES}
    for n in r.not_assessed:
        if n.key.startswith("zone."):
            assert "limit" in n.reason and "deg" in n.reason


def test_the_views_of_a_study_are_detected_as_one_batch(
    analyzer: Analyzer, face_photo: np.ndarray
) -> None:
    close_up = np.full((200, 300, 3), (200, 150, 125), np.uint8)
    res = analyzer.analyze_many(
        [
            (face_photo, ImageDescription(source="f")),
            (close_up, ImageDescription(source="c", view=View.CLOSE_UP)),
            (np.ascontiguousarray(face_photo[:, ::-1]), ImageDescription(source="m")),
        ]
    )
    f, c, m = res.images
    assert f.face_found and not c.face_found and m.face_found
    assert f.pose is not None and m.pose is not None
    assert m.pose.yaw_deg == pytest.approx(-f.pose.yaw_deg, abs=2.0)
    single = analyzer.analyze(face_photo, ImageDescription(source="f"))
    assert single.pose is not None
    assert single.pose.yaw_deg == pytest.approx(f.pose.yaw_deg, abs=1e-3)


def _turned(yaw_deg: float) -> FaceGeometry:
    a = math.radians(yaw_deg)
    # positive yaw: the nose (canonical forward = -z) turns towards the image left (-x), the
    # patient's left side towards the camera
    rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    mesh = 200.0 * canonical_mesh() @ rot.T + np.array([400.0, 400.0, 0.0])
    iris = np.tile(mesh[468 - 1, :2], (5, 1))
    return FaceGeometry((0, 0, 1, 1), mesh, iris, iris, 1.0, 1.0, align_to_canonical(mesh))


def _ok() -> QualityResult:
    return QualityResult(True, (), 1.0, 0.0, True)


@pytest.mark.parametrize(
    ("yaw", "view", "codes", "usable"),
    [
        (0.0, View.FRONTAL, [], True),
        (45.0, View.LEFT, [], True),
        (-45.0, View.RIGHT, [], True),
        (45.0, View.RIGHT, ["view_mismatch"], True),
        (35.0, View.FRONTAL, ["view_mismatch"], True),
        (0.0, View.LEFT, ["view_mismatch"], True),
        (80.0, View.LEFT, ["pose_out_of_range"], False),
    ],
)
def test_view_check(yaw: float, view: View, codes: list[str], usable: bool) -> None:
    face = _turned(yaw)
    assert face.pose.yaw_deg == pytest.approx(yaw, abs=0.5)
    q = ViewCheck()(_ok(), face, view)
    assert [i.code for i in q.issues] == codes
    assert q.usable is usable


def test_three_quarter_view_hides_the_far_side() -> None:
    angles = _turned(45.0).view_angles()  # the patient's left side towards the camera
    for side in ("cheek", "periorbital", "nasolabial"):
        assert angles[f"{side}_left"] < 30 and angles[f"{side}_right"] > 60, side
    for z in ("nose", "glabella", "forehead", "chin"):
        assert angles[z] < 60, z


def test_detect_faced_honours_its_keys(face_photo: np.ndarray) -> None:
    t = DetectFaced(keys="photo", description_key="desc", face_key="geometry")
    d = t({"photo": face_photo, "desc": ImageDescription(view=View.FRONTAL)})
    assert isinstance(d["geometry"], FaceGeometry) and "face" not in d
    d2 = t({"photo": face_photo, "desc": ImageDescription(view=View.CLOSE_UP)})
    assert d2["geometry"] is None
