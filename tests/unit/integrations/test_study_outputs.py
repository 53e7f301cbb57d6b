"""Study-level values (analysis.fusion) in the ORU, the SR and the clinician PDF.

A 3-view study (frontal, left, right three-quarter): cheek_left comes from the left view (its
spot count disagrees with the frontal one), cheek_right from the right view, the other zones
and the whole face from the frontal. Per-photo values stay where they were.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import highdicom as hd
import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hl7apy.validation import Validator

from integrations.hl7 import build_oru
from integrations.hl7.oru import codec_for_charset
from integrations.outputs import write_outputs
from tests.peers import require_binary
from tests.unit.integrations import hl7_fakes as H
from tests.unit.integrations.fakes import source_dataset, source_uid, three_view_result

VIEWS = ("frontal", "left", "right")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sources = [source_dataset(i, view=v) for i, v in enumerate(VIEWS)]
    return write_outputs(three_view_result(), sources, tmp_path_factory.mktemp("study"))


def _study_groups(sr_path: Path) -> dict[str, Any]:
    report = hd.sr.srread(sr_path).content
    groups = report.get_image_measurement_groups(
        finding_type=hd.sr.CodedConcept("FIND-STUDY", "99DRMN", "x")
    )
    return {str(g.tracking_identifier): g for g in groups}


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


def test_sr_has_a_study_level_group_per_zone_from_the_best_view(written: dict[str, Any]) -> None:
    groups = _study_groups(written["sr"])
    assert set(groups) == {
        f"study/{z}"
        for z in (
            "forehead",
            "periorbital_left",
            "periorbital_right",
            "nose",
            "cheek_left",
            "cheek_right",
            "chin",
            "face",
        )
    }
    cheek = groups["study/cheek_left"]
    values = {m.name.value: m for m in cheek.get_measurements()}
    spots = values["PIG-SPOT-N"]
    assert float(spots.value) == 21.0  # the left view's value, not the frontal 8
    assert float(values["POR-N"].value) == 63.0
    # the value is inferred from the left photo (source image reference)
    (ref,) = spots.referenced_images
    assert ref.referenced_sop_instance_uid == source_uid(1)
    assert float(values["VIEW-ANGLE"].value) == pytest.approx(5.0)
    # the spread between the views is a property of each NUM
    spread = [
        c
        for c in spots[0].ContentSequence
        if c.ConceptNameCodeSequence[0].CodeValue == "VIEW-SPREAD"
    ]
    assert float(spread[0].MeasuredValueSequence[0].NumericValue) == pytest.approx(89.7)
    evaluations = {e.name.value: e for e in cheek.get_qualitative_evaluations()}
    assert evaluations["STUDY-VIEW"].value.value == "VIEW-LEFT"
    disagree = [e for e in cheek.get_qualitative_evaluations() if e.name.value == "VIEWS-DISAGREE"]
    assert [e.value.value for e in disagree] == ["PIG-SPOT-N"]
    right = groups["study/cheek_right"]
    assert {e.name.value for e in right.get_qualitative_evaluations()} == {"STUDY-VIEW"}
    assert 66.0 in {float(m.value) for m in right.get_measurements()}
    (ref,) = next(m for m in right.get_measurements() if float(m.value) == 66.0).referenced_images
    assert ref.referenced_sop_instance_uid == source_uid(2)


def test_sr_keeps_the_per_photo_groups(written: dict[str, Any]) -> None:
    report = hd.sr.srread(written["sr"]).content
    groups = list(report.get_planar_roi_measurement_groups())
    groups += list(report.get_image_measurement_groups())
    ids = {str(g.tracking_identifier) for g in groups}
    assert {"frontal/cheek_left", "left/cheek_left", "right/cheek_right", "frontal/face"} <= ids


def _pdf_text(path: Path) -> str:
    exe = require_binary("pdftotext")
    proc = subprocess.run(
        [exe, "-layout", str(path), "-"], capture_output=True, check=True, encoding="utf-8"
    )
    return proc.stdout


def test_pdf_has_a_study_summary_with_views_values_and_the_flag(written: dict[str, Any]) -> None:
    text = _pdf_text(Path(written["pdf"]))
    pages = text.split("\f")
    (summary,) = [p for p in pages if "Study summary" in p]
    assert "left (2)" in summary and "right (3)" in summary and "frontal (1)" in summary
    spots = next(line for line in summary.splitlines() if line.strip().startswith("Brown spot"))
    # forehead 3 (frontal), periorbital left 5 (left) ... cheek left 21 flagged (left view)
    assert spots.split()[3:] == ["3", "5", "4", "6", "21", "!", "7", "9"]
    pores = next(line for line in summary.splitlines() if line.strip().startswith("Pore count"))
    assert "66" in pores.split()  # cheek right from the right view
    assert "cheek left: Brown spot count = 21 (spread 90 %, 2 photos)" in summary
    # the photo pages stay: one per photo before the summary
    assert sum("Photo " in p and " of 3" in p for p in pages) >= 3


def test_pdf_has_no_study_summary_for_a_single_photo(tmp_path: Path) -> None:
    from analysis.fusion import fused
    from tests.unit.integrations import fakes

    result = fused(fakes.analysis_result())
    out = write_outputs(result, fakes.sources(), tmp_path)
    assert "Study summary" not in _pdf_text(Path(out["pdf"]))
