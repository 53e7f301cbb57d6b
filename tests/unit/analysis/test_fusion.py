"""Study-level fusion of the views: each zone from the view that sees it best."""

from __future__ import annotations

import pytest

from analysis.fusion import fuse, fused
from analysis.types import (
    AnalysisResult,
    HeadPose,
    ImageDescription,
    ImageResult,
    Measurement,
    QualityResult,
    Spacing,
    SpacingSource,
    View,
)


def _photo(
    source: str,
    view: View,
    yaw: float,
    angles: dict[str, float],
    values: dict[tuple[str, str], float],
    usable: bool = True,
) -> ImageResult:
    return ImageResult(
        description=ImageDescription(source=source, view=view),
        image_shape=(100, 100),
        quality=QualityResult(usable, (), 10.0, 0.0, True),
        spacing=Spacing(0.1, SpacingSource.ESTIMATED, "iris", 4.0),
        measurements=tuple(
            Measurement(k, r, v, "{count}" if k.endswith("count") else "%")
            for (k, r), v in values.items()
        ),
        pose=HeadPose(yaw, 0.0, 0.0),
        zone_view_angles=angles,
    )


@pytest.fixture()
def study() -> list[ImageResult]:
    frontal = _photo(
        "front",
        View.FRONTAL,
        1.0,
        {"nose": 20.0, "cheek_left": 45.0, "cheek_right": 46.0},
        {
            ("redness.area_pct", "nose"): 10.0,
            ("redness.area_pct", "cheek_left"): 4.0,
            ("redness.area_pct", "cheek_right"): 5.0,
            ("pigmentation.spots.count", "cheek_left"): 12.0,
            ("redness.area_pct", "face"): 6.0,
            ("quality.sharpness", "face"): 9.0,
        },
    )
    left = _photo(  # the patient's left side towards the camera: cheek_right hidden
        "left",
        View.LEFT,
        44.0,
        {"nose": 48.0, "cheek_left": 6.0},
        {
            ("redness.area_pct", "nose"): 11.0,
            ("redness.area_pct", "cheek_left"): 4.4,
            ("pigmentation.spots.count", "cheek_left"): 20.0,
            ("redness.area_pct", "face"): 5.0,
        },
    )
    right = _photo(
        "right",
        View.RIGHT,
        -46.0,
        {"nose": 47.0, "cheek_right": 5.0},
        {("redness.area_pct", "nose"): 30.0, ("redness.area_pct", "cheek_right"): 5.2},
        usable=False,  # a blurred photo: never a source, never in a spread
    )
    return [frontal, left, right]


def test_each_zone_comes_from_the_view_that_sees_it_best(study: list[ImageResult]) -> None:
    s = fuse(study)
    src = {z.region: z.source for z in s.zones}
    assert src == {"nose": "front", "cheek_left": "left", "cheek_right": "front", "face": "front"}
    v = s.value("redness.area_pct", "cheek_left")
    assert v is not None and v.value == 4.4 and v.source == "left" and v.n_views == 2
    assert v.spread_pct == pytest.approx(100 * 0.4 / 4.2)
    assert not v.disagreement
    # the unusable right view is neither a source nor part of a spread
    r = s.value("redness.area_pct", "cheek_right")
    assert r is not None and r.source == "front" and r.n_views == 1 and r.spread_pct is None
    assert s.value("quality.sharpness", "face") is None


def test_a_large_disagreement_is_flagged(study: list[ImageResult]) -> None:
    s = fuse(study)
    spots = s.value("pigmentation.spots.count", "cheek_left")
    assert spots is not None and spots.value == 20.0
    assert spots.spread_pct == pytest.approx(50.0) and spots.disagreement
    assert (
        not fuse(study, disagreement_pct=60.0)
        .value(  # type: ignore[union-attr]
            "pigmentation.spots.count", "cheek_left"
        )
        .disagreement
    )
    with pytest.raises(ValueError, match="disagreement_pct"):
        fuse(study, disagreement_pct=0.0)


def test_small_counts_need_more_than_two_apart(study: list[ImageResult]) -> None:
    a = _photo("a", View.FRONTAL, 0.0, {"chin": 10.0}, {("pigmentation.spots.count", "chin"): 1})
    b = _photo("b", View.LEFT, 40.0, {"chin": 30.0}, {("pigmentation.spots.count", "chin"): 2})
    v = fuse([a, b]).value("pigmentation.spots.count", "chin")
    assert v is not None and v.spread_pct == pytest.approx(200 / 3) and not v.disagreement


def test_the_study_reaches_the_json(study: list[ImageResult]) -> None:
    plain = AnalysisResult(images=tuple(study))
    assert "study" not in plain.to_json()
    j = fused(plain).to_json()
    assert j["study"]["zones"]["cheek_left"] == {
        "source": "left",
        "view": "left",
        "view_angle_deg": 6.0,
    }
    row = next(
        m
        for m in j["study"]["measurements"]
        if m["key"] == "pigmentation.spots.count" and m["region"] == "cheek_left"
    )
    assert row["disagreement"] is True and row["n_views"] == 2
    assert list(j) == ["schema", "algorithm", "images", "study", "outputs"]
