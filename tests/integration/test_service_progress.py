"""Progress tracking through the running service (issue 7): a second visit of the same
patient is compared with the first; a pure re-capture is stable on every key."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from dicom_node.demo import DEMO_SOURCE_AE, make_sample_files
from dicom_node.history_cmd import history_command
from dicom_node.scu import store_files
from dicom_node.service import Service
from dicom_node.store import StudyState
from tests.integration.test_service import _settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _visit(folder: Path, study_date: str) -> tuple[str, list[Path]]:
    """The demo study as a new study of the same patient on *study_date*."""
    files = make_sample_files(folder)
    study_uid = generate_uid()
    for f in files:
        ds = pydicom.dcmread(f)
        ds.StudyInstanceUID = study_uid
        ds.StudyDate = study_date
        ds.save_as(f)
    return study_uid, files


def test_second_visit_is_compared_and_a_recapture_is_stable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    service = Service(settings, tmp_path / "var", tick_s=0.2)
    service.start()
    try:
        assert service.node is not None
        port = service.node.port
        first, files1 = _visit(tmp_path / "v1", "20260105")
        assert store_files("127.0.0.1", port, "DERMNODE", DEMO_SOURCE_AE, files1) == [0] * 3
        assert service.wait_for(first, (StudyState.NOTIFIED,), 300)
        second, files2 = _visit(tmp_path / "v2", "20260405")
        assert store_files("127.0.0.1", port, "DERMNODE", DEMO_SOURCE_AE, files2) == [0] * 3
        assert service.wait_for(second, (StudyState.NOTIFIED,), 300)
        store = service.node.store
        study1, study2 = store.get_study(first), store.get_study(second)
        assert study1 is not None and study2 is not None
        doc1 = json.loads((Path(study1.result_path or "") / "result.json").read_text())
        doc2 = json.loads((Path(study2.result_path or "") / "result.json").read_text())
    finally:
        service.stop()

    assert all("progress" not in img for img in doc1["images"])  # first visit: nothing before
    compared = [img for img in doc2["images"] if "progress" in img]
    assert len(compared) == 3  # frontal + two close-ups (each matched by its body site)
    for img in compared:
        prog = img["progress"]
        assert prog["comparable"] and prog["previous"] == "2026-01-05"
        assert prog["changes"]
        # the same photos again: every change is zero and none may be called a change
        assert {c["label"] for c in prog["changes"]} <= {"stable", "no_mdc"}
        assert all(abs(c["delta"]) < 1e-6 for c in prog["changes"])

    sr = next(
        pydicom.dcmread(p)
        for p in (tmp_path / "pacs").glob("*.dcm")
        if pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID == second
        and pydicom.dcmread(p, stop_before_pixels=True).Modality == "SR"
    )
    assert "stable" in str(sr).lower()  # the labels are in the SR content tree

    cfg = tmp_path / "node.yaml"
    cfg.write_text(f"node:\n  storage_dir: {tmp_path / 'var'}\n")
    capsys.readouterr()
    assert history_command("DEMO-0001", "", str(cfg)) == 0
    out = capsys.readouterr().out
    assert "2026-01-05" in out and "2026-04-05" in out and "stable" in out
