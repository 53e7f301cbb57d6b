"""The running service end to end on loopback: C-STORE in, SR/SEG/PDF and an ORU out."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pydicom
import pytest

from config.settings import Settings, load_settings
from dicom_node.demo import DEMO_SOURCE_AE, make_sample_files
from dicom_node.scu import store_files
from dicom_node.service import Service
from dicom_node.store import OutboxState, StudyState
from tests.peers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _settings(tmp: Path, **extra: object) -> Settings:
    base = load_settings().model_dump(mode="json")
    base["node"].update(
        host="127.0.0.1",
        port=free_port(),
        storage_dir=str(tmp / "var"),
        min_free_disk_mb=0,
        stable_after_s=0.5,
    )
    base["sources"] = [{"ae_title": DEMO_SOURCE_AE, "host": "127.0.0.1"}]
    base["destinations"] = [{"name": "archive", "kind": "folder", "folder": str(tmp / "pacs")}]
    base["hl7"] = [{"name": "emr", "kind": "folder", "folder": str(tmp / "emr")}]
    base["http"] = {"host": "127.0.0.1", "port": free_port()}
    base.update(extra)
    return Settings(**base)


def test_a_sent_study_is_analysed_delivered_and_notified(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    files = make_sample_files(tmp_path / "sent")
    sent_uids = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files}
    study_uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    service = Service(settings, tmp_path / "var", tick_s=0.2)
    service.start()
    try:
        assert service.node is not None
        statuses = store_files("127.0.0.1", service.node.port, "DERMNODE", DEMO_SOURCE_AE, files)
        assert statuses == [0] * len(files)
        assert service.wait_for(study_uid, (StudyState.NOTIFIED, StudyState.FAILED), 300)
        study = service.node.store.get_study(study_uid)
        assert study is not None and study.state is StudyState.NOTIFIED
        items = service.node.store.list_outbox(study_id=study.id)
        assert items and all(i.state is OutboxState.DELIVERED for i in items)
        assert {i.kind.value for i in items} == {"dicom", "hl7"}

        delivered = sorted((tmp_path / "pacs").rglob("*.dcm"))
        modalities = sorted(
            str(pydicom.dcmread(p, stop_before_pixels=True).Modality) for p in delivered
        )
        assert "SR" in modalities and "SEG" in modalities and "DOC" in modalities
        for p in delivered:
            ds = pydicom.dcmread(p, stop_before_pixels=True)
            assert ds.StudyInstanceUID == study_uid  # results go into the same study
            assert ds.SOPInstanceUID not in sent_uids
        sr = next(
            pydicom.dcmread(p)
            for p in delivered
            if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SR"
        )
        referenced = {
            str(item.ReferencedSOPInstanceUID)
            for ev in sr.CurrentRequestedProcedureEvidenceSequence
            for series in ev.ReferencedSeriesSequence
            for item in series.ReferencedSOPSequence
        }
        assert sent_uids <= referenced

        messages = list((tmp_path / "emr").iterdir())
        assert len(messages) == 1
        text = messages[0].read_bytes().decode("utf-8")
        assert text.startswith("MSH|") and study_uid in text and "ORU^R01" in text

        with urllib.request.urlopen(  # noqa: S310 (loopback URL built here)
            f"http://127.0.0.1:{settings.http.port}/metrics", timeout=10
        ) as r:
            metrics = r.read().decode()
        assert 'dermnode_studies{state="notified"} 1' in metrics
        assert 'dermnode_outbox{kind="hl7",state="delivered"} 1' in metrics
        with urllib.request.urlopen(  # noqa: S310
            f"http://127.0.0.1:{settings.http.port}/healthz", timeout=10
        ) as r:
            assert json.loads(r.read()) == {"status": "ok"}
        result = json.loads((Path(study.result_path or "") / "result.json").read_text())
        assert result["schema"] == "dermnode.analysis/1"
        assert len(result["images"]) == len(files)
    finally:
        service.stop()
