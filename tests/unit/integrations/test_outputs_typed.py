"""write_result_set returns what it wrote, typed, so nobody reads the outputs back; the
notice built from it carries a control ID derived like the UIDs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydicom import dcmread

from integrations.hl7.oru import build_notice, derive_control_id
from integrations.outputs import OutputKind, write_outputs, write_result_set
from integrations.study import StudyInfo
from tests.unit.integrations import fakes
from tests.unit.integrations import hl7_fakes as F

_MODALITY = {OutputKind.SR: "SR", OutputKind.SEG: "SEG", OutputKind.REPORT: "DOC"}


def test_each_output_file_is_what_it_says(tmp_path: Path) -> None:
    result, sources = fakes.analysis_result(), fakes.sources()
    written = write_result_set(result, sources, tmp_path / "a", secondary_capture=True)
    assert written.files and written.sr is not None
    kinds = {f.kind for f in written.files}
    assert {OutputKind.SR, OutputKind.SEG, OutputKind.REPORT} <= kinds
    for f in written.files:
        ds = dcmread(f.path, stop_before_pixels=True)
        assert (str(ds.SOPClassUID), str(ds.SOPInstanceUID)) == (
            f.sop_class_uid,
            f.sop_instance_uid,
        )
        if f.kind in _MODALITY:
            assert ds.Modality == _MODALITY[f.kind]
    assert written.pdf == written.pdf_path.read_bytes() and written.pdf.startswith(b"%PDF")
    # the JSON "outputs" object is the same as write_outputs' (identical objects on a re-run)
    again = write_outputs(result, sources, tmp_path / "b", secondary_capture=True)
    doc = written.to_json(secondary_capture=True)
    assert set(doc) == set(again)
    assert [Path(p).name for p in doc["seg"]] == [Path(p).name for p in again["seg"]]
    assert Path(doc["sr"]).name == Path(again["sr"]).name == "sr.dcm"


def test_control_ids_are_derived_not_random() -> None:
    a = derive_control_id("1.2.3", "abcd", "0.1.0", "emr")
    assert a == derive_control_id("1.2.3", "abcd", "0.1.0", "emr")
    assert len(a) == 20 and all(c in "0123456789abcdef" for c in a)
    assert a != derive_control_id("1.2.3", "abcd", "0.1.0", "other-emr")
    assert a != derive_control_id("1.2.3", "abce", "0.1.0", "emr")  # another result set
    with pytest.raises(ValueError, match="parts"):
        derive_control_id("1.2.3", "")


def test_the_notice_names_what_was_written(tmp_path: Path) -> None:
    result, sources = fakes.analysis_result(), fakes.sources()
    written = write_result_set(result, sources, tmp_path / "a")
    study = StudyInfo.from_dataset(sources[0])
    ep = F.endpoint()
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    msg = build_notice(result, study, ep, written, result_set="abcd", observed_at=when)
    again = build_notice(result, study, ep, written, result_set="abcd", observed_at=when)
    assert (
        msg.control_id
        == again.control_id
        == derive_control_id(study.study_instance_uid, "abcd", result.algorithm_version, ep.name)
    )
    text = msg.encode().decode("utf-8", "replace")
    assert written.sr is not None and written.sr.sop_instance_uid in text
    for seg in written.of_kind(OutputKind.SEG):
        assert seg.sop_instance_uid in text
