"""The service's state machine with injected faults: worker, deliverer, grouping, shutdown.

No network peers: instances are recorded straight into the job store, results go to folder
destinations, and the EMR is a fake transport whose answers the test chooses. The analysis
engine is the real one (small photos), optionally behind a gate that holds it mid-analysis.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

import dicom_node.retention as retention_mod
from analysis.pipeline import Analyzer
from analysis.types import ImageDescription, ImageResult
from config.settings import Settings
from dicom_node.delivery import Deliverer
from dicom_node.demo import synthetic_closeup
from dicom_node.grouping import StudyGrouper
from dicom_node.metrics import ServiceSnapshot, render_metrics
from dicom_node.recovery import recover
from dicom_node.retention import SpoolRetention
from dicom_node.service import Service
from dicom_node.store import InstanceRecord, JobStore, OutboxKind, OutboxState, StudyState
from dicom_node.worker import AnalysisWorker
from integrations.errors import Hl7DeliveryError, PacsDeliveryError
from integrations.hl7.transport import AckResult
from integrations.pacs_export import send_files
from tests.dicomdata import VL_PHOTOGRAPHIC, make_image, save
from tests.peers import free_port

STUDY = "1.2.826.0.1.3680043.8.498.9001"


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer("cpu")


class GatedAnalyzer:
    """The real engine behind a gate: ``analyze`` waits until the test opens it."""

    def __init__(self, inner: Analyzer) -> None:
        self.inner = inner
        self.device = inner.device
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.calls = 0

    def analyze(self, image: Any, description: ImageDescription) -> ImageResult:
        self.calls += 1
        self.entered.set()
        assert self.gate.wait(60), "the test never opened the gate"
        return self.inner.analyze(image, description)


def settings(tmp: Path, **extra: Any) -> Settings:
    base: dict[str, Any] = {
        "node": {
            "host": "127.0.0.1",
            "port": free_port(),
            "storage_dir": str(tmp / "var"),
            "min_free_disk_mb": 0,
            "stable_after_s": 5,
        },
        "sources": [{"ae_title": "PACS"}],
        "destinations": [{"name": "archive", "kind": "folder", "folder": str(tmp / "pacs")}],
        "hl7": [{"name": "emr", "kind": "folder", "folder": str(tmp / "emr")}],
        "delivery": {"max_age_h": 1, "backoff_initial_s": 0.01, "backoff_max_s": 0.02},
        "analysis": {"device": "cpu", "workers": 1},
    }
    base.update(extra)
    return Settings(**base)


def photo_ds(study: str, number: int, seed: int, size: int = 96) -> Dataset:
    ds = make_image(VL_PHOTOGRAPHIC, rows=size, cols=size, study_uid=study, seed=seed)
    ds.PixelData = synthetic_closeup(size, seed=seed).tobytes()
    ds.InstanceNumber = number
    ds.PixelSpacing = ["0.05", "0.05"]
    region = Dataset()  # a body site away from the face: analysed as a skin close-up
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = (
        "14975008",
        "SCT",
        "Forearm",
    )
    ds.AnatomicRegionSequence = [region]
    return ds


def record(
    store: JobStore,
    ds: Dataset,
    folder: Path,
    *,
    t: float | None = None,
    calling_ae: str = "PACS",
    called_ae: str = "DERMNODE",
) -> str:
    """Write *ds* to the spool-like *folder* and record it as a received instance."""
    folder.mkdir(parents=True, exist_ok=True)
    path = save(ds, folder / f"{ds.SOPInstanceUID}.dcm")
    store.add_instance(
        InstanceRecord(
            sop_instance_uid=str(ds.SOPInstanceUID),
            study_instance_uid=str(ds.StudyInstanceUID),
            series_instance_uid=str(ds.SeriesInstanceUID),
            sop_class_uid=str(ds.SOPClassUID),
            transfer_syntax_uid=str(ds.file_meta.TransferSyntaxUID),
            path=str(path),
            size=path.stat().st_size,
            received_at=time.time() if t is None else t,
            calling_ae=calling_ae,
            called_ae=called_ae,
            series_number=int(ds.SeriesNumber),
            instance_number=int(ds.InstanceNumber),
            patient_id=str(ds.PatientID),
        )
    )
    return str(ds.SOPInstanceUID)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    policy = settings(tmp_path).delivery  # fast retries, as the service would open it
    with JobStore(tmp_path / "var" / "dermnode.sqlite3", policy) as s:
        yield s


def make_ready(store: JobStore, study_uid: str = STUDY) -> int:
    study = store.get_study(study_uid)
    assert study is not None
    assert store.transition(study.id, StudyState.READY, from_states=[StudyState.RECEIVED])
    return study.id


def evidence(sr_path: str | Path) -> set[str]:
    sr = pydicom.dcmread(sr_path)
    return {
        str(item.ReferencedSOPInstanceUID)
        for ev in sr.CurrentRequestedProcedureEvidenceSequence
        for series in ev.ReferencedSeriesSequence
        for item in series.ReferencedSOPSequence
        if str(item.ReferencedSOPClassUID) == VL_PHOTOGRAPHIC
    }


def result_doc(store: JobStore, job_id: int) -> dict[str, Any]:
    study = store.get_study(job_id)
    assert study is not None and study.result_path is not None
    doc: dict[str, Any] = json.loads((Path(study.result_path) / "result.json").read_text())
    return doc


class FakeEmr:
    """An HL7 transport answering from a script of ACK codes (then AA)."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = list(codes)
        self.sent: list[str] = []

    def send(self, message: bytes, control_id: str) -> AckResult:
        self.sent.append(control_id)
        code = self.codes.pop(0) if self.codes else "AA"
        if code == "AA":
            return AckResult("AA", control_id, "")
        raise Hl7DeliveryError(f"{code} for {control_id}", retryable=code == "AE", ack_code=code)

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- worker


def test_undecodable_and_too_small_photos_still_get_sr_pdf_and_a_notice(
    tmp_path: Path, store: JobStore, analyzer: Analyzer
) -> None:
    cfg = settings(tmp_path)
    spool = tmp_path / "spool"
    good = record(store, photo_ds(STUDY, 1, 1), spool)
    broken = photo_ds(STUDY, 2, 2)
    broken.PixelData = broken.PixelData[:100]  # truncated pixel data: cannot be decoded
    bad = record(store, broken, spool)
    tiny = record(store, photo_ds(STUDY, 3, 3, size=8), spool)  # the engine rejects it
    job = make_ready(store)
    outcome = AnalysisWorker(store, cfg, tmp_path / "var", analyzer).run(job)
    assert outcome.state is StudyState.ENCODED
    assert (outcome.images, outcome.usable) == (3, 1)
    doc = result_doc(store, job)
    by_source = {img["source"]: img for img in doc["images"]}
    assert by_source[good]["quality"]["usable"] is True
    for uid in (bad, tiny):
        img = by_source[uid]
        assert img["quality"]["usable"] is False
        assert img["quality"]["issues"][0]["code"] == "undecodable"
        assert img["quality"]["issues"][0]["message"]  # says why
    assert "too small" in by_source[tiny]["quality"]["issues"][0]["message"]
    assert Path(doc["outputs"]["sr"]).exists() and Path(doc["outputs"]["pdf"]).exists()
    assert evidence(doc["outputs"]["sr"]) == {good, bad, tiny}

    deliverer = Deliverer(store, cfg)
    deliverer.run_due()
    study = store.get_study(job)
    assert study is not None and study.state is StudyState.NOTIFIED
    (message,) = list((tmp_path / "emr").glob("*.hl7"))
    text = message.read_bytes().decode()
    assert STUDY in text
    assert "quality.usable_images" in text and "|1|{count}" in text  # 1 of 3 usable
    assert "undecodable" in text


def test_a_study_with_no_usable_photo_is_answered_not_failed(
    tmp_path: Path, store: JobStore, analyzer: Analyzer
) -> None:
    cfg = settings(tmp_path)
    for n in (1, 2):
        record(store, photo_ds(STUDY, n, n, size=8), tmp_path / "spool")
    job = make_ready(store)
    outcome = AnalysisWorker(store, cfg, tmp_path / "var", analyzer).run(job)
    assert outcome.state is StudyState.ENCODED and outcome.usable == 0
    doc = result_doc(store, job)
    assert doc["outputs"]["sr"] and doc["outputs"]["pdf"] and doc["outputs"]["report_dcm"]
    Deliverer(store, cfg).run_due()
    (message,) = list((tmp_path / "emr").glob("*.hl7"))
    segments = message.read_bytes().decode().split("\r")
    obr = next(s for s in segments if s.startswith("OBR|"))
    assert obr.split("|")[25] == "F"  # final: nothing more will come from this capture
    assert not [s for s in segments if ".score^" in s and s.split("|")[4].isdigit()]


def test_late_instance_during_analysis_reopens_the_study_with_new_results(
    tmp_path: Path, store: JobStore, analyzer: Analyzer
) -> None:
    cfg = settings(tmp_path)
    spool = tmp_path / "spool"
    first = {record(store, photo_ds(STUDY, n, n), spool) for n in (1, 2)}
    job = make_ready(store)
    gated = GatedAnalyzer(analyzer)
    worker = AnalysisWorker(store, cfg, tmp_path / "var", gated)  # type: ignore[arg-type]
    outcomes: list[Any] = []
    t = threading.Thread(target=lambda: outcomes.append(worker.run(job)))
    t.start()
    assert gated.entered.wait(30)
    study = store.get_study(job)
    assert study is not None and study.state is StudyState.ANALYSING
    late = record(store, photo_ds(STUDY, 3, 3), spool)  # arrives mid-analysis
    gated.gate.set()
    t.join(60)
    assert outcomes[0].state is StudyState.RECEIVED
    study = store.get_study(job)
    assert study is not None and study.state is StudyState.RECEIVED
    assert store.list_outbox(study_id=job) == []  # nothing of the stale set is queued

    make_ready(store)
    assert worker.run(job).state is StudyState.ENCODED
    doc = result_doc(store, job)
    assert evidence(doc["outputs"]["sr"]) == first | {late}
    dicom_rows = [i for i in store.list_outbox(study_id=job) if i.kind is OutboxKind.DICOM]
    assert {Path(i.payload_path or "").parent for i in dicom_rows} == {
        Path(doc["outputs"]["sr"]).parent
    }


def test_late_instance_after_delivery_supersedes_with_new_uids(
    tmp_path: Path, store: JobStore, analyzer: Analyzer
) -> None:
    cfg = settings(tmp_path)
    spool = tmp_path / "spool"
    first = {record(store, photo_ds(STUDY, n, n), spool) for n in (1, 2)}
    job = make_ready(store)
    worker = AnalysisWorker(store, cfg, tmp_path / "var", analyzer)
    deliverer = Deliverer(store, cfg)
    assert worker.run(job).state is StudyState.ENCODED
    deliverer.run_due()
    old_doc = result_doc(store, job)
    old_uids = {str(pydicom.dcmread(p).SOPInstanceUID) for p in (tmp_path / "pacs").glob("*")}
    late = record(store, photo_ds(STUDY, 3, 3), spool)
    study = store.get_study(job)
    assert study is not None and study.state is StudyState.RECEIVED  # re-opened
    make_ready(store)
    assert worker.run(job).state is StudyState.ENCODED
    deliverer.run_due()
    study = store.get_study(job)
    assert study is not None and study.state is StudyState.NOTIFIED
    new_doc = result_doc(store, job)
    assert Path(new_doc["outputs"]["sr"]).parent != Path(old_doc["outputs"]["sr"]).parent
    all_uids = {str(pydicom.dcmread(p).SOPInstanceUID) for p in (tmp_path / "pacs").glob("*")}
    new_uids = all_uids - old_uids
    assert old_uids <= all_uids and len(new_uids) >= 3  # a new SR, SEGs and PDF beside the old
    assert evidence(old_doc["outputs"]["sr"]) == first  # the old version stays consistent
    assert evidence(new_doc["outputs"]["sr"]) == first | {late}
    assert len(list((tmp_path / "emr").glob("*.hl7"))) == 2  # a notice per version


# --------------------------------------------------------------------------- deliverer


def test_hl7_waits_for_the_pacs_then_ae_is_retried_and_ar_dead_letters(
    tmp_path: Path, store: JobStore, analyzer: Analyzer
) -> None:
    cfg = settings(tmp_path)
    record(store, photo_ds(STUDY, 1, 1), tmp_path / "spool")
    job = make_ready(store)
    assert AnalysisWorker(store, cfg, tmp_path / "var", analyzer).run(job).state is (
        StudyState.ENCODED
    )
    pacs_down = {"on": True}

    def flaky_send(dest: Any, paths: Any, *a: Any, **kw: Any) -> Any:
        if pacs_down["on"]:
            raise PacsDeliveryError("association refused", retryable=True)
        return send_files(dest, paths, *a, **kw)

    emr = FakeEmr(["AE", "AA"])
    deliverer = Deliverer(store, cfg, pacs_sender=flaky_send, hl7_transports=lambda ep: emr)

    deliverer.run_due()
    assert emr.sent == []  # nothing told to the EMR while the PACS has nothing
    rows = store.list_outbox(study_id=job)
    dicom_rows = [r for r in rows if r.kind is OutboxKind.DICOM]
    assert all(r.state is OutboxState.PENDING and r.attempts == 1 for r in dicom_rows)
    assert store.get_study(job).state is StudyState.ENCODED  # type: ignore[union-attr]

    pacs_down["on"] = False
    time.sleep(0.05)  # past the backoff
    deliverer.run_due()  # DICOM delivered, HL7 gets AE
    assert len(emr.sent) == 1
    assert store.get_study(job).state is StudyState.DELIVERED  # type: ignore[union-attr]
    time.sleep(0.05)
    deliverer.run_due()  # AA on the retry, same control ID
    assert len(emr.sent) == 2 and emr.sent[0] == emr.sent[1]
    assert store.get_study(job).state is StudyState.NOTIFIED  # type: ignore[union-attr]

    # A second study whose notice the EMR rejects: dead-letter with the reason, then retry.
    other = "1.2.826.0.1.3680043.8.498.9002"
    record(store, photo_ds(other, 1, 5), tmp_path / "spool")
    job2 = make_ready(store, other)
    AnalysisWorker(store, cfg, tmp_path / "var", analyzer).run(job2)
    emr.codes = ["AR"]
    deliverer.run_due()
    (hl7_row,) = [r for r in store.list_outbox(study_id=job2) if r.kind is OutboxKind.HL7]
    assert hl7_row.state is OutboxState.DEAD and hl7_row.last_status == "AR"
    assert "AR" in (hl7_row.last_error or "")
    assert store.get_study(job2).state is StudyState.DELIVERED  # type: ignore[union-attr]
    assert store.retry_job(job2) == (1, False)
    deliverer.run_due()
    assert store.get_study(job2).state is StudyState.NOTIFIED  # type: ignore[union-attr]


# --------------------------------------------------------------------------- service


def test_per_source_stable_after_s_is_honoured(tmp_path: Path, store: JobStore) -> None:
    cfg = settings(
        tmp_path,
        sources=[
            {"ae_title": "FAST", "stable_after_s": 0.5},
            {"ae_title": "SLOW", "stable_after_s": 100},
            {"ae_title": "PLAIN"},  # node.stable_after_s = 5
        ],
    )
    queued: list[int] = []
    service = StudyGrouper(store, cfg, queued.append)
    t0 = 1000.0
    uids = {}
    for n, ae in enumerate(("FAST", "SLOW", "PLAIN"), 1):
        uids[ae] = f"1.2.826.0.1.3680043.8.498.77{n}"
        record(store, photo_ds(uids[ae], 1, n, size=16), tmp_path / "s", t=t0, calling_ae=ae)

    def states() -> dict[str, str]:
        return {ae: store.get_study(uid).state.value for ae, uid in uids.items()}  # type: ignore[union-attr]

    assert service.check_stable(now=t0 + 0.4) == 0
    assert service.check_stable(now=t0 + 0.6) == 1
    assert states() == {"FAST": "ready", "SLOW": "received", "PLAIN": "received"}
    assert service.check_stable(now=t0 + 5.1) == 1
    assert states() == {"FAST": "ready", "SLOW": "received", "PLAIN": "ready"}
    assert service.check_stable(now=t0 + 99) == 0
    assert service.check_stable(now=t0 + 100.1) == 1
    assert states()["SLOW"] == "ready"
    assert sorted(set(queued)) == store.study_ids(StudyState.READY)  # each handed on


def test_per_listening_ae_stable_after_s_is_honoured(tmp_path: Path, store: JobStore) -> None:
    cfg = settings(
        tmp_path,
        sources=[{"ae_title": "PACS"}, {"ae_title": "CAMERA", "stable_after_s": 60}],
    )
    listening = [{"ae_title": "DERM_QUICK", "stable_after_s": 1}, {"ae_title": "DERM_PLAIN"}]
    node = cfg.node.model_dump() | {"additional_ae_titles": listening}
    cfg = settings(tmp_path, node=node, sources=[s.model_dump() for s in cfg.sources])
    assert cfg.node.listening_ae_titles == ["DERMNODE", "DERM_QUICK", "DERM_PLAIN"]
    service = StudyGrouper(store, cfg, lambda job_id: None)
    t0 = 1000.0
    cases = {  # (calling, called) -> quiet period expected
        "quick": ("PACS", "DERM_QUICK"),  # the listening AE's 1 s
        "plain": ("PACS", "DERM_PLAIN"),  # no override: node.stable_after_s = 5
        "main": ("PACS", "DERMNODE"),  # node.ae_title: node.stable_after_s = 5
        "camera": ("CAMERA", "DERM_QUICK"),  # both set: the longer (source's 60 s) wins
    }
    uids = {}
    for n, (name, (calling, called)) in enumerate(cases.items(), 1):
        uids[name] = f"1.2.826.0.1.3680043.8.498.66{n}"
        record(
            store,
            photo_ds(uids[name], 1, n, size=16),
            tmp_path / "s",
            t=t0,
            calling_ae=calling,
            called_ae=called,
        )

    def ready() -> set[str]:
        return {
            name
            for name, uid in uids.items()
            if store.get_study(uid).state is StudyState.READY  # type: ignore[union-attr]
        }

    assert service.check_stable(now=t0 + 0.9) == 0
    assert service.check_stable(now=t0 + 1.1) == 1 and ready() == {"quick"}
    assert service.check_stable(now=t0 + 4.9) == 0
    assert service.check_stable(now=t0 + 5.1) == 2 and ready() == {"quick", "plain", "main"}
    assert service.check_stable(now=t0 + 59.9) == 0
    assert service.check_stable(now=t0 + 60.1) == 1 and "camera" in ready()


def test_retention_removes_finished_studies_spool_once_and_keeps_the_rest(
    tmp_path: Path, store: JobStore, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    cfg = settings(tmp_path, retention={"spool_days": 1})
    retention = SpoolRetention(store, cfg.retention)
    spool = tmp_path / "spool"
    uids = {name: f"1.2.826.0.1.3680043.8.498.55{n}" for n, name in enumerate("ABCD", 1)}
    for n, uid in enumerate(uids.values(), 1):
        record(store, photo_ds(uid, 1, n, size=16), spool)
        record(store, photo_ds(uid, 2, n + 10, size=16), spool)
    final = {"A": StudyState.NOTIFIED, "B": StudyState.DELIVERED, "C": StudyState.FAILED}
    for name, state in final.items():  # D stays 'received'
        assert store.transition(store.get_study(uids[name]).id, state)  # type: ignore[union-attr]

    def on_disk(name: str) -> int:
        return sum(Path(i.path).exists() for i in store.instances_of(uids[name]))

    day = 86400.0
    assert retention.run(now=time.time() + 0.5 * day) == 0  # finished less than 1 day ago
    assert [on_disk(n) for n in "ABCD"] == [2, 2, 2, 2]

    # One file cannot be removed (permissions): the others go, it is retried next run.
    real_unlink = os.unlink
    stuck = store.instances_of(uids["B"])[0].path

    def unlink(path: str) -> None:
        if path == stuck:
            raise PermissionError(13, "Permission denied")
        real_unlink(path)

    # os.unlink is patched only around each retention call (it is process-wide).
    with monkeypatch.context() as mp:
        mp.setattr(retention_mod.os, "unlink", unlink)
        assert retention.run(now=time.time() + 2 * day) == 3
    assert [on_disk(n) for n in "ABCD"] == [0, 1, 2, 2]  # failed and received studies kept
    assert "could not be removed (PermissionError)" in caplog.text
    assert retention.run(now=time.time() + 2 * day) == 1
    assert [on_disk(n) for n in "ABCD"] == [0, 0, 2, 2]
    removed = store.instances_of(uids["A"]) + store.instances_of(uids["B"])
    assert all(i.spool_removed_at is not None for i in removed)
    # Every later run looks only at what is left: nothing to unlink.
    calls: list[str] = []
    with monkeypatch.context() as mp:
        mp.setattr(retention_mod.os, "unlink", lambda p: calls.append(p))
        assert retention.run(now=time.time() + 3 * day) == 0 and calls == []


def test_a_study_reopened_after_retention_says_which_photos_are_gone(
    tmp_path: Path, store: JobStore, analyzer: Analyzer
) -> None:
    """A late photo re-opens a study whose spool was removed: the new photo is analysed, the
    removed one is reported not usable with the reason, and the study is not failed."""
    cfg = settings(tmp_path, retention={"spool_days": 30})
    retention = SpoolRetention(store, cfg.retention)
    spool = tmp_path / "spool"
    first = record(store, photo_ds(STUDY, 1, 1), spool)
    job = make_ready(store)
    worker = AnalysisWorker(store, cfg, tmp_path / "var", analyzer)
    assert worker.run(job).state is StudyState.ENCODED
    assert store.transition(job, StudyState.NOTIFIED)
    assert retention.run(now=time.time() + 31 * 86400) == 1

    late = record(store, photo_ds(STUDY, 2, 2), spool)  # 31 days later, say
    assert store.get_study(job).state is StudyState.RECEIVED  # type: ignore[union-attr]
    make_ready(store)
    outcome = worker.run(job)
    assert outcome.state is StudyState.ENCODED and (outcome.images, outcome.usable) == (2, 1)
    by_source = {img["source"]: img for img in result_doc(store, job)["images"]}
    assert by_source[late]["quality"]["usable"] is True
    gone = by_source[first]["quality"]
    assert gone["usable"] is False
    assert "spool retention removed it 30 days after" in gone["issues"][0]["message"]


def test_graceful_stop_finishes_the_running_study_and_parks_the_queued_ones(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    cfg = settings(tmp_path)
    storage = tmp_path / "var"
    gated = GatedAnalyzer(analyzer)
    studies = [f"1.2.826.0.1.3680043.8.498.88{n}" for n in range(3)]
    with JobStore(storage / "dermnode.sqlite3") as db:  # three quiet studies before the start
        for n, uid in enumerate(studies):
            record(db, photo_ds(uid, 1, n), tmp_path / "spool", t=time.time() - 60)
    service = Service(cfg, storage, analyzer=gated, tick_s=0.05)  # type: ignore[arg-type]
    service.start()
    try:
        assert gated.entered.wait(30)  # the first study is being analysed; two are queued
        assert service.node is not None

        def states() -> list[str]:
            return sorted(s.state.value for s in service.node.store.list_studies())  # type: ignore[union-attr]

        # The stable check may still be moving the other studies to 'ready' when the first
        # one reaches the analyser (it queues each study as it marks it).
        deadline = time.monotonic() + 10
        while "received" in states() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert states() == ["analysing", "ready", "ready"]
    except BaseException:
        gated.gate.set()  # never leave the service running behind a failed assertion
        service.stop()
        raise
    stopper = threading.Thread(target=service.stop)
    stopper.start()
    time.sleep(0.3)
    assert stopper.is_alive()  # stop waits for the running analysis
    gated.gate.set()
    stopper.join(60)
    assert not stopper.is_alive()
    assert gated.calls == 1

    with JobStore(storage / "dermnode.sqlite3") as db:
        final = {uid: db.get_study(uid).state for uid in studies}  # type: ignore[union-attr]
    finished = [u for u, s in final.items() if s is not StudyState.READY]
    assert len(finished) == 1 and final[finished[0]] is StudyState.ENCODED
    assert sorted(s.value for s in final.values()) == ["encoded", "ready", "ready"]

    # The next start picks the parked studies up (and delivers the finished one).
    again = Service(cfg, storage, analyzer=analyzer, tick_s=0.05)
    again.start()
    try:
        for uid in studies:
            assert again.wait_for(uid, (StudyState.NOTIFIED, StudyState.FAILED), 120)
            assert again.node.store.get_study(uid).state is StudyState.NOTIFIED  # type: ignore[union-attr]
    finally:
        again.stop()
    assert len(list((tmp_path / "emr").glob("*.hl7"))) == 3


class IdleEngine:
    """An engine for tests that never analyse (the service needs one to start)."""

    device = "cpu"

    def analyze(self, image: Any, description: ImageDescription) -> ImageResult:
        raise AssertionError("this test analyses nothing")


def test_metrics_report_states_and_queue_depths(tmp_path: Path) -> None:
    cfg = settings(tmp_path, http={"host": "127.0.0.1", "port": free_port()})
    service = Service(cfg, tmp_path / "var", analyzer=IdleEngine(), tick_s=3600)
    service.start()
    try:
        assert service.node is not None
        store = service.node.store
        record(store, photo_ds(STUDY, 1, 1, size=16), tmp_path / "s")
        study = store.get_study(STUDY)
        assert study is not None
        job = study.id  # left 'received': the timers do not tick in this test
        store.enqueue(OutboxKind.DICOM, "archive", study_id=job, dedup_key="a")
        store.enqueue(OutboxKind.DICOM, "archive", study_id=job, dedup_key="b")
        item = store.enqueue(OutboxKind.HL7, "emr", study_id=job, dedup_key="c")
        store.mark_failed(item, retryable=False, error="AR")
        snap = service.snapshot()
        assert snap.healthy and snap.disk_free_bytes > 0
        text = render_metrics(snap)
        # ... and over HTTP, rendered from the same kind of snapshot
        import urllib.request

        assert service.http is not None
        url = f"http://127.0.0.1:{service.http.port}"
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as rsp:
            served = rsp.read().decode()
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as rsp:
            assert json.loads(rsp.read()) == {"status": "ok"}
    finally:
        service.stop()
    for body in (text, served):
        assert 'dermnode_studies{state="received"} 1' in body
        assert 'dermnode_studies{state="ready"} 0' in body
        assert 'dermnode_outbox{kind="dicom",state="pending"} 2' in body
        assert 'dermnode_outbox{kind="hl7",state="dead"} 1' in body
        assert 'dermnode_cstore_total{outcome="stored"} 0' in body
        assert "dermnode_associations_active 0" in body
        assert np.isfinite(float(body.split("dermnode_analysis_seconds_count ")[1].split()[0]))
    assert not service.healthy()


def test_study_reopened_while_its_analysis_runs_is_analysed_again_without_restart(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    cfg = settings(tmp_path, sources=[{"ae_title": "PACS", "stable_after_s": 0.1}])
    gated = GatedAnalyzer(analyzer)
    service = Service(cfg, tmp_path / "var", analyzer=gated, tick_s=0.05)  # type: ignore[arg-type]
    service.start()
    try:
        assert service.node is not None
        store = service.node.store
        first = record(store, photo_ds(STUDY, 1, 1), tmp_path / "spool", t=time.time() - 60)
        assert gated.entered.wait(30)
        late = record(store, photo_ds(STUDY, 2, 2), tmp_path / "spool")
        # the grouping timer makes the re-opened study ready while the old run still holds it
        assert service.wait_for(STUDY, (StudyState.READY,), 10)
        gated.gate.set()
        assert service.wait_for(STUDY, (StudyState.NOTIFIED,), 60)
        study = store.get_study(STUDY)
        assert study is not None
        assert evidence(result_doc(store, study.id)["outputs"]["sr"]) == {first, late}
        hl7_rows = [i for i in store.list_outbox(study_id=study.id) if i.kind is OutboxKind.HL7]
        assert len(hl7_rows) == 1  # the stale first run queued nothing
    finally:
        service.stop()


def test_a_study_that_keeps_crashing_the_service_fails_instead_of_looping(
    tmp_path: Path, store: JobStore, analyzer: Analyzer
) -> None:
    cfg = settings(tmp_path)
    record(store, photo_ds(STUDY, 1, 1), tmp_path / "spool")
    job = make_ready(store)

    class Crash(BaseException):
        """Stands in for the process dying mid-analysis (nothing after it runs)."""

    class CrashingAnalyzer:
        device = analyzer.device

        def analyze(self, *_a: Any) -> ImageResult:
            raise Crash

    crashing = AnalysisWorker(store, cfg, tmp_path / "var", CrashingAnalyzer())
    submitted: list[int] = []
    for n in range(1, 4):  # three runs die; each restart's recovery counts one
        with pytest.raises(Crash):
            crashing.run(job)
        report = recover(store, submitted.append, lambda job_id: None)
        study = store.get_study(job)
        assert study is not None and study.interrupted_runs == n
        if n < 3:
            assert report.requeued == [job] and study.state is StudyState.READY
    assert report.failed == [job] and submitted == [job, job]
    study = store.get_study(job)
    assert study is not None and study.state is StudyState.FAILED
    assert "interrupted 3 times" in (study.error or "")
    # An administrator's retry starts with a clean count and, with a working engine, succeeds.
    assert store.retry_job(job) == (0, True)
    assert AnalysisWorker(store, cfg, tmp_path / "var", analyzer).run(job).state is (
        StudyState.ENCODED
    )


def test_many_waiting_notices_do_not_hide_the_objects_they_wait_for(
    tmp_path: Path, store: JobStore
) -> None:
    cfg = settings(tmp_path)
    sop = record(store, photo_ds(STUDY, 1, 1, size=16), tmp_path / "spool")
    job = make_ready(store)
    payload = str(tmp_path / "spool" / f"{sop}.dcm")
    t0 = 1000.0
    # 150 notices queued first (a long PACS outage), then the one object they all wait for.
    for n in range(150):
        store.enqueue(OutboxKind.HL7, "emr", study_id=job, dedup_key=f"n{n}", now=t0 + n)
    obj = store.enqueue(
        OutboxKind.DICOM,
        "archive",
        study_id=job,
        payload_path=payload,
        payload_ref=sop,
        now=t0 + 500,
    )
    emr = FakeEmr([])
    deliverer = Deliverer(store, cfg, hl7_transports=lambda ep: emr)
    deliverer.run_due(now=t0 + 600)
    assert store.get_outbox(obj).state is OutboxState.DELIVERED  # type: ignore[union-attr]
    assert (tmp_path / "pacs" / f"{sop}.dcm").exists()


def test_metrics_keep_large_counts_exact() -> None:
    snap = ServiceSnapshot(
        healthy=True,
        disk_free_bytes=53_687_091_234,
        analysis_seconds_sum=1.25,
        cstore={"stored": 3, "duplicate": 1, "failed": 0},
    )
    text = render_metrics(snap)
    assert "dermnode_disk_free_bytes 53687091234\n" in text
    assert "dermnode_analysis_seconds_sum 1.25\n" in text
    assert 'dermnode_cstore_total{outcome="duplicate"} 1\n' in text
    assert "dermnode_studies" not in text  # the node has not started: no job-store rows


# --------------------------------------------------------------------------- hardening


def test_results_are_private_files_in_private_folders(
    tmp_path: Path, store: JobStore, analyzer: Analyzer
) -> None:
    cfg = settings(tmp_path)
    record(store, photo_ds(STUDY, 1, 1), tmp_path / "spool")
    job = make_ready(store)
    assert AnalysisWorker(store, cfg, tmp_path / "var", analyzer).run(job).state is (
        StudyState.ENCODED
    )
    study = store.get_study(job)
    assert study is not None and study.result_path is not None
    out = Path(study.result_path)
    for folder in (out, out.parent, out.parent.parent):  # <set>, job-<id>, results
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    for name in ("result.json", "oru-emr.hl7"):
        assert (out / name).stat().st_mode & 0o777 == 0o600, name
    assert not list(out.glob("*.json"))[1:]  # no side files beside result.json
    assert not (out.parent / ".analysis-runs").exists()


def test_a_rejection_text_quoting_the_patient_is_not_stored(
    tmp_path: Path, store: JobStore, analyzer: Analyzer
) -> None:
    """The EMR's AR text names the patient: the outbox keeps the type and our message."""
    cfg = settings(tmp_path)
    record(store, photo_ds(STUDY, 1, 1), tmp_path / "spool")
    job = make_ready(store)
    AnalysisWorker(store, cfg, tmp_path / "var", analyzer).run(job)

    class RejectingEmr(FakeEmr):
        def send(self, message: bytes, control_id: str) -> AckResult:
            from integrations.hl7.mllp import check_ack

            return check_ack(
                AckResult("AR", control_id, "Unknown patient PHI^SENTINEL"), control_id
            )

    Deliverer(store, cfg, hl7_transports=lambda ep: RejectingEmr([])).run_due()
    (row,) = [r for r in store.list_outbox(study_id=job) if r.kind is OutboxKind.HL7]
    assert row.state is OutboxState.DEAD and row.last_status == "AR"
    assert row.last_error is not None and row.last_error.startswith("Hl7DeliveryError: ")
    assert "rejected (AR)" in row.last_error and "SENTINEL" not in row.last_error


def test_results_that_do_not_fit_on_disk_are_written_when_space_returns(
    tmp_path: Path, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills while the results are written (ENOSPC): the study waits, failed with
    the reason 'disk full', and is analysed again by itself once space returns."""
    import errno

    import integrations.outputs as outputs_mod

    cfg = settings(tmp_path, sources=[{"ae_title": "PACS", "stable_after_s": 0.1}])
    full = threading.Event()
    full.set()
    real_save_bytes = outputs_mod._save_bytes

    def save_bytes(data: bytes, path: Path) -> None:
        if full.is_set():
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save_bytes(data, path)

    monkeypatch.setattr(outputs_mod, "_save_bytes", save_bytes)
    service = Service(cfg, tmp_path / "var", analyzer=analyzer, tick_s=0.05)
    service.start()
    try:
        assert service.node is not None
        store = service.node.store
        record(store, photo_ds(STUDY, 1, 1), tmp_path / "spool", t=time.time() - 60)
        assert service.wait_for(STUDY, (StudyState.FAILED,), 60)
        study = store.get_study(STUDY)
        assert study is not None and study.failure_kind is not None
        assert "no disk space" in (study.error or "") and study.failure_kind.value == "disk_full"
        service.check_disk()  # still full: the study is re-run and fails again
        assert service.wait_for(STUDY, (StudyState.FAILED,), 60)
        full.clear()  # space returns
        service.check_disk()
        assert service.wait_for(STUDY, (StudyState.NOTIFIED,), 120)
        study = store.get_study(STUDY)
        assert study is not None and study.error is None and study.failure_kind is None
    finally:
        service.stop()
    assert len(list((tmp_path / "emr").glob("*.hl7"))) == 1
