"""The running service under faults of its peers, and under load from two sources.

* The PACS (Orthanc) is down for longer than the old retry budget (more failed attempts
  than the former ``max_attempts`` default of 10) and the EMR answers AE before AA: the
  deliveries pause instead of dying, and everything arrives on its own once both recover.
* The EMR rejects a notice (AR): it is dead-lettered, visible in ``dermnode jobs list/show``,
  and ``dermnode jobs retry ID`` re-queues it.
* 20 studies sent at once from two AE titles: all processed, none mixed up (each SR and each
  ORU belongs to its own study and patient).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pydicom
import pytest
import yaml
from pydicom.dataset import Dataset

from config.settings import Settings
from dicom_node.demo import synthetic_closeup
from dicom_node.scu import store_files
from dicom_node.service import Service
from dicom_node.store import OutboxKind, StudyState
from tests.dicomdata import VL_PHOTOGRAPHIC, make_image, save
from tests.integration.service_helpers import (
    emr_peer,
    orthanc_destination,
    orthanc_results,
    restart_orthanc,
    serve_config,
    stop_orthanc,
    wait_until,
)
from tests.orthanc import Orthanc
from tests.peers import free_port
from tests.scp_helpers import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SOURCES = ("CLINIC_A", "CLINIC_B")


def closeup_study(folder: Path, photos: int, patient_id: str, seed: int) -> list[Path]:
    """A study of *photos* small synthetic forearm close-ups of patient *patient_id*."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    paths = []
    for n in range(1, photos + 1):
        ds = make_image(VL_PHOTOGRAPHIC, rows=96, cols=96, study_uid=study, series_uid=series)
        ds.PixelData = synthetic_closeup(96, seed=seed * 10 + n).tobytes()
        ds.PatientID = patient_id
        ds.PatientName = f"TEST^{patient_id}"
        ds.AccessionNumber = f"A{patient_id}"[:16]
        ds.InstanceNumber = n
        ds.PixelSpacing = ["0.05", "0.05"]
        region = Dataset()
        region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = (
            "14975008",
            "SCT",
            "Forearm",
        )
        ds.AnatomicRegionSequence = [region]
        paths.append(save(ds, folder / f"{n}.dcm"))
    return paths


def start_service(tmp: Path, cfg: dict[str, Any]) -> tuple[Service, Path]:
    """An in-process service and the YAML file of its configuration (for ``dermnode jobs``)."""
    config_file = tmp / "node.yaml"
    config_file.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    service = Service(Settings(**cfg), Path(cfg["node"]["storage_dir"]), tick_s=0.1)
    service.start()
    return service, config_file


def jobs(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERMNODE_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "dicom_node", "jobs", "--config", str(config_file), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )


def state_of(service: Service, study_uid: str) -> str | None:
    assert service.node is not None
    s = service.node.store.get_study(study_uid)
    return None if s is None else s.state.value


# pynetdicom leaves a refused socket to the garbage collector (a ResourceWarning there).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_pacs_down_and_emr_busy_everything_arrives_after_recovery(
    tmp_path: Path, orthanc_server: Orthanc
) -> None:
    pacs = orthanc_server
    # The EMR answers AE ("busy") to the first attempt of every message, then AA.
    with emr_peer(lambda _m, n: "AE" if n == 1 else "AA") as emr:
        cfg = serve_config(
            tmp_path / "var",
            port=free_port(),
            sources=[{"ae_title": SOURCES[0], "host": "127.0.0.1"}],
            destinations=[orthanc_destination(pacs)],
            hl7_port=emr.port,
            stable_after_s=0.3,
        )
        service, _ = start_service(tmp_path, cfg)
        try:
            assert service.node is not None
            store = service.node.store
            stop_orthanc(pacs)  # the PACS goes down
            files = closeup_study(tmp_path / "sent", 2, "P-DOWN", seed=1)
            uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
            assert store_files("127.0.0.1", service.node.port, "DERMNODE", SOURCES[0], files) == [
                0,
                0,
            ]

            def failed_often() -> bool:
                study = store.get_study(uid)
                if study is None:
                    return False
                rows = store.list_outbox(study_id=study.id)
                return bool(rows) and all(
                    r.attempts >= 12 for r in rows if r.kind is OutboxKind.DICOM
                )

            wait_until(failed_often, 180, "12 failed C-STORE attempts while the PACS is down")
            assert state_of(service, uid) == "encoded"
            study = store.get_study(uid)
            assert study is not None
            paused = [r for r in store.list_outbox(study_id=study.id) if r.kind is OutboxKind.DICOM]
            assert {r.state.value for r in paused} == {"pending"}  # paused, not dead
            assert emr.received == []  # not notified while the results are not in the PACS
            restart_orthanc(pacs)  # same ports, same storage
            try:
                assert service.wait_for(uid, (StudyState.NOTIFIED,), 120)
                got = orthanc_results(pacs, uid)
            finally:
                stop_orthanc(pacs)
            study = store.get_study(uid)
            assert study is not None
            rows = store.list_outbox(study_id=study.id)
        finally:
            service.stop()
        control_ids = [str(m.segment("MSH")(10)) for m in emr.messages_for(uid)]
        acks = [code for s, _c, code in emr.acks if s == uid]
    dicom = sorted(r.payload_ref or "" for r in rows if r.kind is OutboxKind.DICOM)
    assert sorted(got.uids("SR", "SEG", "DOC")) == dicom
    reports = 2 if Settings(**cfg).report.patient_report else 1  # clinician (+ patient)
    assert len(got.by_modality["SR"]) == 1 and len(got.by_modality["DOC"]) == reports
    assert "XC" not in got.by_modality  # only results were sent to this PACS
    assert acks == ["AE", "AA"]
    assert len(control_ids) == 2 and len(set(control_ids)) == 1  # the same message again
    (hl7_row,) = [r for r in rows if r.kind is OutboxKind.HL7]
    assert hl7_row.attempts == 2 and hl7_row.last_status == "AA"


def test_ar_is_dead_lettered_shown_by_jobs_and_retried(tmp_path: Path) -> None:
    reject = {"on": True}
    with emr_peer(lambda _m, _n: "AR" if reject["on"] else "AA") as emr:
        cfg = serve_config(
            tmp_path / "var",
            port=free_port(),
            sources=[{"ae_title": SOURCES[0], "host": "127.0.0.1"}],
            destinations=[{"name": "archive", "kind": "folder", "folder": str(tmp_path / "pacs")}],
            hl7_port=emr.port,
            stable_after_s=0.3,
        )
        service, config_file = start_service(tmp_path, cfg)
        try:
            assert service.node is not None
            store = service.node.store
            files = closeup_study(tmp_path / "sent", 1, "P-AR", seed=2)
            uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
            assert store_files("127.0.0.1", service.node.port, "DERMNODE", SOURCES[0], files) == [0]

            def dead_letter() -> Any:
                study = store.get_study(uid)
                rows = [] if study is None else store.list_outbox(study_id=study.id)
                return [r for r in rows if r.kind is OutboxKind.HL7 and r.state.value == "dead"]

            (row,) = wait_until(dead_letter, 120, "the rejected notice to be dead-lettered")
            study = store.get_study(uid)
            assert study is not None and study.state is StudyState.DELIVERED
            time.sleep(0.5)
            assert len(emr.received) == 1  # AR is not retried by itself

            listed = jobs(config_file, "list")
            assert listed.returncode == 0, listed.stderr
            line = next(
                ln for ln in listed.stdout.splitlines() if ln.split()[:1] == [str(study.id)]
            )
            assert "delivered" in line and "dead=1" in line
            shown = jobs(config_file, "show", str(study.id))
            assert shown.returncode == 0, shown.stderr
            assert f"outbox {row.id}: hl7 -> emr: dead, 1 attempt(s)" in shown.stdout
            assert "rejected (AR)" in shown.stdout
            for phi in ("TEST^P-AR", "P-AR", "AP-AR"):
                assert phi not in listed.stdout + shown.stdout

            reject["on"] = False
            retried = jobs(config_file, "retry", str(study.id))
            assert retried.returncode == 0, retried.stderr
            assert "1 delivery(ies) re-queued" in retried.stdout
            assert service.wait_for(uid, (StudyState.NOTIFIED,), 60)
        finally:
            service.stop()
        codes = [code for s, _c, code in emr.acks if s == uid]
        control_ids = {str(m.segment("MSH")(10)) for m in emr.messages_for(uid)}
    assert codes == ["AR", "AA"]
    assert len(control_ids) == 1  # the re-queued notice is the same message


def test_twenty_studies_from_two_sources_at_once_none_mixed_up(
    tmp_path: Path, orthanc_server: Orthanc
) -> None:
    pacs = orthanc_server
    studies: dict[str, dict[str, Any]] = {}
    batches: dict[str, list[Path]] = {ae: [] for ae in SOURCES}
    for i in range(20):
        ae = SOURCES[i % 2]
        patient = f"P{i:02d}"
        files = closeup_study(tmp_path / "sent" / patient, 2, patient, seed=i)
        first = pydicom.dcmread(files[0], stop_before_pixels=True)
        studies[str(first.StudyInstanceUID)] = {
            "patient": patient,
            "ae": ae,
            "sops": {
                str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files
            },
        }
        batches[ae].extend(files)
    with emr_peer() as emr:
        cfg = serve_config(
            tmp_path / "var",
            port=free_port(),
            sources=[{"ae_title": ae, "host": "127.0.0.1"} for ae in SOURCES],
            destinations=[orthanc_destination(pacs)],
            hl7_port=emr.port,
            stable_after_s=0.5,
        )
        service, _ = start_service(tmp_path, cfg)
        try:
            assert service.node is not None
            port = service.node.port
            statuses: dict[str, list[int | None]] = {}

            def send(ae: str) -> None:
                statuses[ae] = store_files("127.0.0.1", port, "DERMNODE", ae, batches[ae])

            threads = [threading.Thread(target=send, args=(ae,)) for ae in SOURCES]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            assert {ae: set(s) for ae, s in statuses.items()} == {ae: {0} for ae in SOURCES}
            for uid in studies:
                assert service.wait_for(uid, (StudyState.NOTIFIED, StudyState.FAILED), 240)
            store = service.node.store
            records = {uid: store.get_study(uid) for uid in studies}
            queued = {
                uid: sorted(
                    r.payload_ref or ""
                    for r in store.list_outbox(study_id=rec.id)
                    if r.kind is OutboxKind.DICOM
                )
                for uid, rec in records.items()
                if rec is not None
            }
        finally:
            service.stop()
        messages = {uid: emr.messages_for(uid) for uid in studies}
        accepted = {uid: emr.accepted(uid) for uid in studies}

    assert {r.state for r in records.values() if r is not None} == {StudyState.NOTIFIED}
    all_sops = {sop for s in studies.values() for sop in s["sops"]}
    for uid, info in studies.items():
        rec = records[uid]
        assert rec is not None and rec.calling_ae == info["ae"] and rec.instance_count == 2
        got = orthanc_results(pacs, uid)
        assert sorted(got.uids("SR", "SEG", "DOC")) == queued[uid]  # one result set, once
        # the clinician and the patient report
        assert len(got.by_modality["SR"]) == 1 and len(got.by_modality["DOC"]) == 2
        assert len(got.by_modality["SEG"]) >= 2
        sr = _orthanc_instance(pacs, got.by_modality["SR"][0])
        assert sr.StudyInstanceUID == uid and sr.PatientID == info["patient"]
        photos = {
            str(item.ReferencedSOPInstanceUID)
            for ev in sr.CurrentRequestedProcedureEvidenceSequence
            for series in ev.ReferencedSeriesSequence
            for item in series.ReferencedSOPSequence
        } & all_sops
        assert photos == info["sops"]  # its own photos, and no other study's
        assert len(set(accepted[uid])) == 1
        pid = messages[uid][-1].segment("PID")
        assert str(pid(3)(1)(1)) == info["patient"]


def _orthanc_instance(pacs: Orthanc, sop_uid: str) -> pydicom.Dataset:
    (oid,) = pacs.rest(
        "POST", "/tools/find", {"Level": "Instance", "Query": {"SOPInstanceUID": sop_uid}}
    )
    return pydicom.dcmread(io.BytesIO(pacs.rest("GET", f"/instances/{oid}/file")))
