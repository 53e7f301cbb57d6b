"""C-STORE delivery against a real Orthanc and a loopback SCP that answers chosen statuses."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pynetdicom import AE, evt
from pynetdicom.sop_class import ComprehensiveSRStorage  # type: ignore[attr-defined]

from config.settings import DestinationSettings
from integrations.errors import PacsDeliveryError
from integrations.outputs import write_outputs
from integrations.pacs_export import send_files
from tests.peers import free_port, require_binary
from tests.unit.integrations import fakes

pytestmark = pytest.mark.integration


class Orthanc:
    """A throw-away Orthanc on loopback (own storage, no auth, HTTP on 127.0.0.1 only)."""

    def __init__(self, workdir: Path) -> None:
        self.exe = require_binary("Orthanc")
        self.workdir = workdir
        self.dicom_port = free_port()
        self.http_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        cfg = {
            "Name": "dermnode-test",
            "StorageDirectory": str(workdir / "db"),
            "IndexDirectory": str(workdir / "db"),
            "DicomAet": "ORTHANC",
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomCheckCalledAet": True,
            "UnknownSopClassAccepted": False,
            "Plugins": [],
        }
        self.config = workdir / "orthanc.json"
        self.config.write_text(json.dumps(cfg), encoding="utf-8")

    def start(self) -> None:
        with (self.workdir / "orthanc.log").open("ab") as log:
            self.proc = subprocess.Popen([self.exe, str(self.config)], stdout=log, stderr=log)
        for _ in range(200):
            try:
                self.get("/system")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("Orthanc did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def get(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.http_port}{path}"
        with urllib.request.urlopen(url, timeout=5) as rsp:  # noqa: S310 - loopback test peer
            return json.loads(rsp.read())

    def destination(self) -> DestinationSettings:
        return DestinationSettings(
            name="orthanc", ae_title="ORTHANC", host="127.0.0.1", port=self.dicom_port
        )


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    peer = Orthanc(tmp_path)
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


def test_results_land_in_the_source_study_as_new_series(orthanc: Orthanc, tmp_path: Path) -> None:
    sources = fakes.sources()
    dest = orthanc.destination()
    first = send_files(dest, sources, "DERMNODE")
    assert [r.status for r in first] == [0, 0]
    out = write_outputs(fakes.analysis_result(), sources, tmp_path / "out")
    files = [out["sr"], *out["seg"], out["report_dcm"]]
    results = send_files(dest, files, "DERMNODE")
    assert all(r.ok and r.status == 0 for r in results)
    studies = orthanc.get("/studies?expand")
    assert len(studies) == 1
    assert studies[0]["MainDicomTags"]["StudyInstanceUID"] == fakes.STUDY_UID
    series = orthanc.get(f"/studies/{studies[0]['ID']}/series")
    modalities = sorted(s["MainDicomTags"]["Modality"] for s in series)
    # zones, intensity maps and map levels: each SEG in a series of its own (viewers show one
    # Segmentation per series)
    assert modalities == ["DOC", "SEG", "SEG", "SEG", "SR", "XC"]
    segs = [s for s in series if s["MainDicomTags"]["Modality"] == "SEG"]
    assert [len(s["Instances"]) for s in segs] == [1, 1, 1]
    # re-sending the same objects (a retry after a crash) does not duplicate them
    send_files(dest, files, "DERMNODE")
    assert len(orthanc.get(f"/studies/{studies[0]['ID']}/instances")) == 2 + len(files)


# pynetdicom leaves the refused socket to the garbage collector (a ResourceWarning there).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_stopped_pacs_is_a_retryable_failure(orthanc: Orthanc, tmp_path: Path) -> None:
    dest = orthanc.destination()
    orthanc.stop()
    with pytest.raises(PacsDeliveryError) as info:
        send_files(dest, fakes.sources(), "DERMNODE", acse_timeout_s=5, network_timeout_s=5)
    assert info.value.retryable is True
    assert info.value.status is None
    orthanc.start()  # back: the same call now succeeds
    assert all(r.ok for r in send_files(dest, fakes.sources(), "DERMNODE"))


def test_refused_sop_class_is_not_retryable(orthanc: Orthanc) -> None:
    ds = fakes.source_dataset(0)
    ds.SOPClassUID = "1.2.826.0.1.3680043.10.1410.99"  # private SOP class Orthanc refuses
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    with pytest.raises(PacsDeliveryError) as info:
        send_files(orthanc.destination(), [ds], "DERMNODE")
    assert info.value.retryable is False
    assert "did not accept" in str(info.value)
    assert info.value.status is None


def test_object_orthanc_fails_to_store_reports_the_status(orthanc: Orthanc) -> None:
    # Orthanc answers every storage failure with 0xA700; DermNode records the status and,
    # as 0xA7xx is "out of resources", leaves the decision to the outbox's max_attempts.
    ds = fakes.source_dataset(0)
    del ds.StudyInstanceUID
    results = send_files(orthanc.destination(), [ds], "DERMNODE", raise_on_failure=False)
    assert results[0].status == 0xA700
    assert results[0].error is not None and results[0].error.status == 0xA700
    assert results[0].error.retryable is True


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(0xA700, True), (0xA702, True), (0xA900, False), (0xC000, False), (0x0122, False)],
)
def test_failure_status_mapping_on_loopback(status: int, retryable: bool) -> None:
    port = free_port()
    ae = AE(ae_title="STATUSSCP")
    ae.add_supported_context(ComprehensiveSRStorage, "1.2.840.10008.1.2.1")
    ae.add_supported_context("1.2.840.10008.5.1.4.1.1.77.1.4", "1.2.840.10008.1.2.1")

    def handle(event: Any) -> int:
        return status

    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, handle)]
    )
    try:
        dest = DestinationSettings(name="scp", ae_title="STATUSSCP", host="127.0.0.1", port=port)
        with pytest.raises(PacsDeliveryError) as info:
            send_files(dest, [fakes.source_dataset(0)], "DERMNODE")
        assert info.value.status == status
        assert info.value.retryable is retryable
    finally:
        server.shutdown()


def test_warning_status_counts_as_stored() -> None:
    port = free_port()
    ae = AE(ae_title="STATUSSCP")
    ae.add_supported_context("1.2.840.10008.5.1.4.1.1.77.1.4", "1.2.840.10008.1.2.1")
    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, lambda e: 0xB000)]
    )
    try:
        dest = DestinationSettings(name="scp", ae_title="STATUSSCP", host="127.0.0.1", port=port)
        (result,) = send_files(dest, [fakes.source_dataset(0)], "DERMNODE")
        assert result.ok and result.status == 0xB000
    finally:
        server.shutdown()


def test_contexts_are_one_per_class_and_syntax(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    port = free_port()
    ae = AE(ae_title="CTXSCP")
    for uid in (
        "1.2.840.10008.5.1.4.1.1.88.34",
        "1.2.840.10008.5.1.4.1.1.66.4",
        "1.2.840.10008.5.1.4.1.1.104.1",
        "1.2.840.10008.5.1.4.1.1.77.1.4",
    ):
        ae.add_supported_context(uid, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2.5"])

    def on_request(event: Any) -> None:
        for cx in event.assoc.requestor.requested_contexts:
            seen.append((str(cx.abstract_syntax), tuple(str(t) for t in cx.transfer_syntax)))

    server = ae.start_server(
        ("127.0.0.1", port),
        block=False,
        evt_handlers=[(evt.EVT_REQUESTED, on_request), (evt.EVT_C_STORE, lambda e: 0)],
    )
    try:
        out = write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path)
        dest = DestinationSettings(name="scp", ae_title="CTXSCP", host="127.0.0.1", port=port)
        results = send_files(dest, [out["sr"], *out["seg"], out["report_dcm"]], "DERMNODE")
        assert all(r.ok for r in results)
    finally:
        server.shutdown()
    assert sorted(seen) == sorted(
        [
            ("1.2.840.10008.5.1.4.1.1.88.34", ("1.2.840.10008.1.2.1",)),
            ("1.2.840.10008.5.1.4.1.1.66.4", ("1.2.840.10008.1.2.1",)),
            ("1.2.840.10008.5.1.4.1.1.66.4", ("1.2.840.10008.1.2.5",)),
            ("1.2.840.10008.5.1.4.1.1.104.1", ("1.2.840.10008.1.2.1",)),
        ]
    )


def test_folder_destination_copies_files(tmp_path: Path) -> None:
    out = write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path / "out")
    dest = DestinationSettings(name="box", kind="folder", folder=tmp_path / "box")
    results = send_files(dest, [out["sr"], fakes.source_dataset(0)], "DERMNODE")
    assert [Path(r.path).name for r in results if r.path] == [
        f"{results[0].sop_instance_uid}.dcm",
        f"{fakes.source_uid(0)}.dcm",
    ]
    assert (tmp_path / "box" / Path(results[0].path or "").name).read_bytes() == Path(
        str(out["sr"])
    ).read_bytes()
