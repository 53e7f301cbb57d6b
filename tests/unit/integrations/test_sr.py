"""The TID 1500 SR read back with highdicom and pydicom: values equal the analysis result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import highdicom as hd
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from analysis.types import AnalysisResult
from integrations.dicom_sr import COMPOSITE_REGIONS, MAX_OUTLINE_POINTS, build_sr, zone_outline
from integrations.errors import EncodingError
from integrations.outputs import write_outputs
from integrations.uids import OutputUids, tracking_uid
from tests.unit.integrations import fakes


def _raw_bytes(path: str | Path, keyword: str) -> bytes:
    ds = dcmread(path)
    elem = ds.get_item(keyword)
    return bytes(elem.value)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[AnalysisResult, dict[str, Any]]:
    result = fakes.analysis_result()
    out = write_outputs(result, fakes.sources(), tmp_path_factory.mktemp("sr"))
    return result, out


@pytest.fixture(scope="module")
def report(written: tuple[AnalysisResult, dict[str, Any]]) -> hd.sr.MeasurementReport:
    sr = hd.sr.srread(written[1]["sr"])
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"
    return sr.content


def _groups(report: hd.sr.MeasurementReport) -> dict[str, Any]:
    groups = list(report.get_planar_roi_measurement_groups())
    groups += list(report.get_image_measurement_groups())
    # each zone also has an outline group (same Tracking UID, an Image Region, no values)
    return {str(g.tracking_identifier): g for g in groups if not _is_outline(g)}


def _is_outline(group: Any) -> bool:
    return getattr(group, "reference_type", None) == hd.sr.CodedConcept(
        "111030", "DCM", "Image Region"
    )


def test_every_zone_measurement_is_in_the_sr(report: hd.sr.MeasurementReport) -> None:
    groups = _groups(report)
    for zi, zone in enumerate(fakes.ZONE_SHAPES):
        group = groups[f"frontal/{zone}"]
        got = {
            str(m.name.meaning): (float(m.value), m.unit.value) for m in group.get_measurements()
        }
        for key, (unit, _) in fakes.ZONE_VALUES.items():
            from analysis.keys import key_info

            assert got[key_info(key).meaning] == (pytest.approx(fakes.zone_value(key, zi)), unit)


def test_measurement_concepts_are_99drmn_and_units_ucum(report: hd.sr.MeasurementReport) -> None:
    group = _groups(report)["frontal/nose"]
    for m in group.get_measurements():
        assert m.name.scheme_designator == "99DRMN"
        assert m.unit.scheme_designator == "UCUM"
    codes = {m.name.value for m in group.get_measurements()}
    assert {"PIG-SPOT-N", "POR-N", "WRK-LEN"} <= codes


@pytest.mark.parametrize(
    ("zone", "site", "laterality"),
    [
        ("cheek_left", "36141000", "7771000"),
        ("periorbital_right", "362916000", "24028007"),
        ("forehead", "68698007", None),
        ("chin", "23747009", None),
        ("nose", "113179006", None),
        ("face", "73897004", None),
    ],
)
def test_finding_sites_are_snomed_cid_4029(
    report: hd.sr.MeasurementReport, zone: str, site: str, laterality: str | None
) -> None:
    group = _groups(report)[f"frontal/{zone}"]
    (fs,) = group.finding_sites
    assert (fs.value.value, fs.value.scheme_designator) == (site, "SCT")
    lat = fs.laterality
    assert (lat.value if lat is not None else None) == laterality


def test_groups_reference_the_zone_segment(
    written: tuple[AnalysisResult, dict[str, Any]], report: hd.sr.MeasurementReport
) -> None:
    seg = dcmread(written[1]["seg"][0])
    labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}
    for zone in fakes.ZONE_SHAPES:
        group = _groups(report)[f"frontal/{zone}"]
        ref = group.referenced_segmentation_frame
        sop = ref[0].ReferencedSOPSequence[0]
        assert sop.ReferencedSOPInstanceUID == seg.SOPInstanceUID
        assert labels[int(sop.ReferencedSegmentNumber)] == zone
        # the highdicom quirk is fixed: no frame number next to the segment number
        assert "ReferencedFrameNumber" not in sop


def test_tracking_uids_follow_patient_view_zone(
    written: tuple[AnalysisResult, dict[str, Any]], report: hd.sr.MeasurementReport
) -> None:
    group = _groups(report)["frontal/cheek_left"]
    assert group.tracking_uid == tracking_uid("DRMN-0001", "TESTHOSP", "frontal", "cheek_left")
    seg = dcmread(written[1]["seg"][0])
    seg_uids = {str(s.SegmentLabel): str(s.TrackingUID) for s in seg.SegmentSequence}
    assert seg_uids["cheek_left"] == group.tracking_uid


def test_scores_quality_and_not_assessed(report: hd.sr.MeasurementReport) -> None:
    groups = _groups(report)
    face = groups["frontal/face"]
    scores = {m.name.value: float(m.value) for m in face.get_measurements()}
    assert scores["SCORE-PIG"] == 10.0 and scores["SCORE-OIL"] == 60.0
    evals = {e.name.value: e.value.value for e in face.get_qualitative_evaluations()}
    assert evals["QA-USABLE"] == "373066001"
    assert evals["QA-ISSUE"] == "QI-CAST"
    assert evals["NA-HYDRATION"] == "NOT-ASSESSED"
    assert evals["NA-UVDAMAGE"] == "NOT-ASSESSED"
    blurred = groups["left/face"]
    bevals = {e.name.value: e.value.value for e in blurred.get_qualitative_evaluations()}
    assert bevals["QA-USABLE"] == "373067005"
    assert bevals["QA-BLOCKING"] == "QI-BLUR"
    assert bevals["QA-FACE"] == "373067005"
    assert not [m for m in blurred.get_measurements() if m.name.value.startswith("SCORE")]


def test_not_assessed_reason_is_in_the_document(
    written: tuple[AnalysisResult, dict[str, Any]],
) -> None:
    texts: list[str] = []

    def walk(items: Any) -> None:
        for item in items:
            if item.ValueType == "TEXT":
                texts.append(str(item.TextValue))
            if "ContentSequence" in item:
                walk(item.ContentSequence)

    walk(dcmread(written[1]["sr"]).ContentSequence)
    assert any(t.startswith("Skin hydration has no valid measure") for t in texts)
    assert "image is out of focus" in texts


def test_observer_is_the_device_with_algorithm(
    written: tuple[AnalysisResult, dict[str, Any]],
) -> None:
    sr = hd.sr.srread(written[1]["sr"])
    ctx = {
        str(i.ConceptNameCodeSequence[0].CodeMeaning): i
        for i in sr.ContentSequence
        if i.RelationshipType == "HAS OBS CONTEXT"
    }
    assert ctx["Observer Type"].ConceptCodeSequence[0].CodeValue == "121007"
    assert ctx["Device Observer Name"].TextValue == "dermnode 0.1.0"
    assert sr.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99DRMN"


@pytest.mark.parametrize("charset", ["ISO 2022 IR 149", "ISO_IR 192"])
def test_korean_names_keep_their_bytes(tmp_path: Path, charset: str) -> None:
    srcs = fakes.sources(charset=charset)
    src_path = tmp_path / "src.dcm"
    srcs[0].save_as(src_path)
    out = write_outputs(fakes.analysis_result(), srcs, tmp_path / "out")
    expected = _raw_bytes(src_path, "PatientName")
    for path in [out["sr"], *out["seg"], out["report_dcm"]]:
        assert _raw_bytes(path, "PatientName") == expected
        ds = dcmread(path)
        assert ds.SpecificCharacterSet == srcs[0].SpecificCharacterSet
        want = fakes.KOREAN_ISO2022 if charset == "ISO 2022 IR 149" else fakes.KOREAN_UTF8
        assert str(ds.PatientName) == want
        assert ds.StudyInstanceUID == fakes.STUDY_UID
        assert ds.SeriesInstanceUID != fakes.SERIES_UID


def test_same_input_same_uids_new_study_version_new_uids(tmp_path: Path) -> None:
    def uids(out: dict[str, Any]) -> tuple[str, str]:
        return dcmread(out["sr"]).SOPInstanceUID, dcmread(out["seg"][0]).SOPInstanceUID

    a = uids(write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path / "a"))
    b = uids(write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path / "b"))
    c = uids(
        write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path / "c", study_version=2)
    )
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]


def test_next_visit_keeps_tracking_uids(tmp_path: Path) -> None:
    first = hd.sr.srread(
        write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path / "v1")["sr"]
    )
    later_src: list[Dataset] = fakes.sources()
    for i, ds in enumerate(later_src):
        ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.1410.2.1"
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.1410.2.3.{i + 1}"
    result = fakes.analysis_result()
    for img, ds in zip(result.images, later_src, strict=True):
        object.__setattr__(img.description, "source", str(ds.SOPInstanceUID))
    second = hd.sr.srread(write_outputs(result, later_src, tmp_path / "v2")["sr"])
    g1, g2 = _groups(first.content), _groups(second.content)
    assert first.SOPInstanceUID != second.SOPInstanceUID
    for zone in fakes.ZONE_SHAPES:
        assert g1[f"frontal/{zone}"].tracking_uid == g2[f"frontal/{zone}"].tracking_uid


def test_no_source_is_an_encoding_error() -> None:
    result = fakes.analysis_result()
    with pytest.raises(EncodingError, match="no image"):
        build_sr(result, [], {}, OutputUids.of(["1.2.3"], "dermnode", "0.1.0"))


def _outlines(report: hd.sr.MeasurementReport) -> dict[str, Any]:
    groups = report.get_planar_roi_measurement_groups()
    return {str(g.tracking_identifier): g for g in groups if _is_outline(g)}


def test_every_tracked_region_has_an_outline_on_its_photo(
    report: hd.sr.MeasurementReport,
) -> None:
    outlines = _outlines(report)
    values = _groups(report)
    # one outline group per measurement group, with the same Tracking UID and no values
    assert set(outlines) == set(values)
    for name, group in outlines.items():
        assert group.tracking_uid == values[name].tracking_uid
        assert list(group.get_measurements()) == []
        region = group.roi
        assert region is not None and region.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
        points = region.value
        assert np.array_equal(points[0], points[-1]), f"{name}: polyline not closed"
        src = region.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        view = name.split("/")[0]
        assert src == fakes.source_uid(0 if view == "frontal" else 1)


def test_outline_follows_the_zone_mask(report: hd.sr.MeasurementReport) -> None:
    image = fakes.image_result(0)
    masks = {z.region: z.mask for z in image.zones}
    for zone in fakes.ZONE_SHAPES:
        points = _outlines(report)[f"frontal/{zone}"].roi.value
        assert 4 <= len(points) <= MAX_OUTLINE_POINTS + 1
        drawn = np.zeros(masks[zone].shape, np.uint8)
        cv2.fillPoly(drawn, [np.round(points - 0.5).astype(np.int32)], 1)
        truth = masks[zone]
        iou = (drawn.astype(bool) & truth).sum() / (drawn.astype(bool) | truth).sum()
        assert iou > 0.9, f"{zone}: outline covers the mask with IoU {iou:.2f}"


def test_zone_outline_of_a_square_and_of_nothing() -> None:
    mask = np.zeros((20, 30), bool)
    mask[5:10, 10:20] = True
    points = zone_outline(mask)
    assert points is not None
    assert sorted({(float(x), float(y)) for x, y in points}) == [
        (10.5, 5.5),
        (10.5, 9.5),
        (19.5, 5.5),
        (19.5, 9.5),
    ]
    assert zone_outline(np.zeros((5, 5), bool)) is None


def test_composite_regions_match_the_oil_measure() -> None:
    from analysis.measures.oil import T_ZONE, U_ZONE

    assert COMPOSITE_REGIONS == {"t_zone": T_ZONE, "u_zone": U_ZONE}


def test_t_zone_is_outlined_from_its_zones(tmp_path: Path) -> None:
    from analysis.types import Measurement

    image = fakes.image_result(0)
    object.__setattr__(
        image,
        "measurements",
        (*image.measurements, Measurement("oil.shine_area_pct", "t_zone", 0.0, "%")),
    )
    result = fakes.analysis_result()
    object.__setattr__(result, "images", (image, *result.images[1:]))
    report = hd.sr.srread(write_outputs(result, fakes.sources(), tmp_path)["sr"]).content
    points = _outlines(report)["frontal/t_zone"].roi.value
    masks = {z.region: z.mask for z in image.zones}
    union = np.logical_or.reduce([masks[z] for z in COMPOSITE_REGIONS["t_zone"] if z in masks])
    inside = [bool(union[int(y), int(x)]) for x, y in points[:-1]]
    # the outline runs along the zones' border, not the photo's
    assert sum(inside) >= 0.8 * len(inside)
    assert points[:, 0].max() < fakes.COLS - 1 and points[:, 1].max() < fakes.ROWS - 1


def test_dermoscopy_photo_gets_sr_seg_and_pdf_with_modality_dms(tmp_path: Path) -> None:
    # highdicom's Image Library table lacks Dermoscopic Photography Image Storage.
    dermoscopic = "1.2.840.10008.5.1.4.1.1.77.1.7"
    src = fakes.source_dataset(0, charset="plain", view="dermoscopy")
    src.SOPClassUID = dermoscopic
    src.file_meta.MediaStorageSOPClassUID = dermoscopic
    src.Modality = "DMS"
    result = fakes.analysis_result(with_unusable=False)
    out = write_outputs(result, [src], tmp_path, photos=[fakes.photo_pixels(0)])
    sr = dcmread(out["sr"])
    library = [
        item
        for item in sr.ContentSequence
        if item.ConceptNameCodeSequence[0].CodeValue == "111028"  # Image Library
    ]
    assert len(library) == 1
    (group,) = library[0].ContentSequence
    (entry,) = [i for i in group.ContentSequence if i.ValueType == "IMAGE"]
    ref = entry.ReferencedSOPSequence[0]
    assert (ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID) == (
        dermoscopic,
        src.SOPInstanceUID,
    )
    modality = next(
        i.ConceptCodeSequence[0]
        for i in entry.ContentSequence
        if i.ConceptNameCodeSequence[0].CodeValue == "121139"  # Modality
    )
    assert (modality.CodeValue, modality.CodingSchemeDesignator) == ("DMS", "DCM")
    names = [i.ConceptNameCodeSequence[0].CodeValue for i in sr.ContentSequence]
    assert names.index("111028") == names.index("126010") - 1  # before Imaging Measurements
    assert out["seg"]
    for path in out["seg"]:
        seg = dcmread(path)
        refs = {
            (r.ReferencedSOPClassUID, r.ReferencedSOPInstanceUID)
            for s in seg.ReferencedSeriesSequence
            for r in s.ReferencedInstanceSequence
        }
        assert refs == {(dermoscopic, src.SOPInstanceUID)}
    assert Path(out["pdf"]).read_bytes().startswith(b"%PDF")
    report = dcmread(out["report_dcm"])
    assert report.StudyInstanceUID == src.StudyInstanceUID and report.Modality == "DOC"


def test_vl_photo_image_library_keeps_modality_xc(tmp_path: Path) -> None:
    out = write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path)
    sr = dcmread(out["sr"])
    (library,) = [
        i for i in sr.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "111028"
    ]
    (group,) = library.ContentSequence
    images = [i for i in group.ContentSequence if i.ValueType == "IMAGE"]
    assert len(images) == 2
    for entry in images:
        codes_ = {i.ConceptNameCodeSequence[0].CodeValue: i for i in entry.ContentSequence}
        assert codes_["121139"].ConceptCodeSequence[0].CodeValue == "XC"
        assert (
            codes_["110910"].MeasuredValueSequence[0].NumericValue,
            codes_["110911"].MeasuredValueSequence[0].NumericValue,
        ) == (fakes.ROWS, fakes.COLS)


def test_head_pose_is_reported_in_degrees_on_the_photo_group(tmp_path: Path) -> None:
    """Issue 12: the head pose measured from the mesh is in the SR (and absent without one)."""
    from dataclasses import replace

    from analysis.types import HeadPose

    base = fakes.analysis_result()
    posed = replace(base.images[0], pose=HeadPose(yaw_deg=31.24, pitch_deg=-4.0, roll_deg=2.5))
    result = AnalysisResult(images=(posed, *base.images[1:]))
    out = write_outputs(result, fakes.sources(), tmp_path)
    groups = _groups(hd.sr.srread(out["sr"]).content)
    face = {m.name.value: m for m in groups["frontal/face"].get_measurements()}
    assert float(face["POSE-YAW"].value) == pytest.approx(31.2)
    assert float(face["POSE-PITCH"].value) == pytest.approx(-4.0)
    assert float(face["POSE-ROLL"].value) == pytest.approx(2.5)
    assert face["POSE-YAW"].unit.value == "deg"
    # the blurred left view has no mesh, so no pose
    left = [m.name.value for m in groups["left/face"].get_measurements()]
    assert not [n for n in left if n.startswith("POSE-")]
