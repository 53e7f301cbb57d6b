"""Study-level values (analysis.fusion) in the ORU, the SR and the clinician PDF.

A 3-view study (frontal, left, right three-quarter): cheek_left comes from the left view (its
spot count disagrees with the frontal one), cheek_right from the right view, the other zones
and the whole face from the frontal. Per-photo values stay where they were.
"""

from __future__ import annotations

import hl7
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hl7apy.validation import Validator

from integrations.hl7 import build_oru
from integrations.hl7.oru import codec_for_charset
from tests.unit.integrations import hl7_fakes as H
from tests.unit.integrations.fakes import source_uid, three_view_result


def _oru_rows() -> tuple[str, list[hl7.Segment]]:
    msg = build_oru(
        three_view_result(),
        H.study(),
        H.endpoint(),
        control_id="CTRL0003",
        sr_uid="1.2.826.0.1.3680043.8.498.200",
        seg_uids=[],
        pdf=None,
        observed_at=H.OBSERVED_AT,
    )
    reparsed = parse_message(msg.text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert Validator.validate(reparsed) is True
    p = hl7.parse(msg.encode().decode(codec_for_charset(msg.charset)))
    return msg.text, [s for s in p if str(s[0]) == "OBX"]


def test_oru_carries_the_study_values_with_their_view_and_the_disagreement_flag() -> None:
    _, rows = _oru_rows()
    study = {(str(s(3)(1)(1)), str(s(4))): s for s in rows if str(s(4)).startswith("S.")}
    # each zone says which photo its values come from
    assert str(study["study.source", "S.cheek_left"](5)) == "left (photo 2, view angle 5 deg)"
    assert str(study["study.source", "S.cheek_right"](5)) == "right (photo 3, view angle 6 deg)"
    assert str(study["study.source", "S.nose"](5)) == "frontal (photo 1, view angle 20 deg)"
    assert str(study["study.source", "S.face"](5)) == "frontal (photo 1)"
    # the values are the chosen view's, not the frontal photo's
    assert str(study["pigmentation.spots.count", "S.cheek_left"](5)) == "21"
    assert str(study["pores.count", "S.cheek_right"](5)) == "66"
    assert str(study["wrinkles.length_mm", "S.cheek_right"](6)(1)(1)) == "mm"
    assert str(study["pores.density_per_cm2", "S.face"](5)) == "112"
    # the disagreeing value gets a Y flag row; agreeing values get none
    flag = study["pigmentation.spots.count.views_disagree", "S.cheek_left"]
    assert str(flag(2)) == "CE" and str(flag(5)(1)(1)) == "Y"
    flags = [k for k in study if k[0].endswith(".views_disagree")]
    assert flags == [("pigmentation.spots.count.views_disagree", "S.cheek_left")]


def test_oru_keeps_the_per_photo_rows() -> None:
    _, rows = _oru_rows()
    usable = [s for s in rows if str(s(3)(1)(1)) == "quality.usable"]
    assert [str(s(4)) for s in usable] == ["1", "2", "3"]
    scores = {str(s(4)) for s in rows if str(s(3)(1)(1)) == "pigmentation.score"}
    assert scores == {"1", "2", "3"}
    assert source_uid(1) not in {str(s(5)) for s in rows}  # UIDs of photos are not rows
