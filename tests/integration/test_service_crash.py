"""Crash safety of ``dermnode serve``: kill -9 during analysis and during delivery, restart.

One node (one storage folder) is killed at points the test chooses, one study each:

``partial-delivery``  the study's results are in Orthanc but not yet in the second
                      destination (down at first, a DCMTK ``storescp`` started after the kill);
``analysing``         the job store says the study is being analysed;
``hl7-before-ack``    the EMR received the ORU and has not answered yet;
``hl7-after-ack``     the EMR has just answered AA (DermNode may not have recorded it).

After each restart the study must end ``notified``; at the end each study's results are in
each PACS exactly once (counted per SOP Instance UID, and no second set of result UIDs) and
exactly one notice (one control ID) was accepted by the EMR.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicom_node.demo import make_sample_files
from dicom_node.scu import store_files
from tests.integration.service_helpers import (
    EmrPeer,
    db_outbox,
    db_study,
    emr_peer,
    orthanc_destination,
    orthanc_results,
    serve_config,
    study_uid_of,
    wait_until,
)
from tests.orthanc import Orthanc
from tests.peers import free_port, require_binary
from tests.scp_helpers import SCU_AE, serve_process, wait_for_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POINTS = ("partial-delivery", "analysing", "hl7-before-ack", "hl7-after-ack")


class KillSwitch:
    """Kills the running node once, at the armed point, for the armed study."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.point = ""
        self.study = ""
        self.fired = threading.Event()

    def arm(self, point: str, study: str) -> None:
        self.point, self.study = point, study
        self.fired.clear()

    def fire(self) -> None:
        if self.proc is not None and not self.fired.is_set():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.fired.set()

    def hook(self, point: str) -> Any:
        def run(message: Any, n: int) -> None:
            if self.point == point and study_uid_of(message) == self.study:
                self.fire()

        return run

    def responder(self, message: Any, n: int) -> str | None:
        # Killed before the ACK: the EMR does not answer that attempt.
        if self.point == "hl7-before-ack" and study_uid_of(message) == self.study and n == 1:
            return None
        return "AA"


def test_kill_9_during_analysis_and_delivery_then_exactly_once(
    tmp_path: Path, orthanc_server: Orthanc
) -> None:
    storescp = require_binary("storescp")
    pacs = orthanc_server
    storage = tmp_path / "var"
    port, backup_port = free_port(), free_port()
    backup_dir = tmp_path / "backup"
    backup_dir.mkdir()
    switch = KillSwitch()
    backup: subprocess.Popen[bytes] | None = None
    studies: dict[str, str] = {}  # point -> study uid
    returncodes: list[int] = []
    with emr_peer(
        switch.responder,
        before_ack=switch.hook("hl7-before-ack"),
        after_ack=switch.hook("hl7-after-ack"),
    ) as emr:
        cfg = serve_config(
            storage,
            port=port,
            sources=[{"ae_title": SCU_AE, "host": "127.0.0.1"}],
            destinations=[
                orthanc_destination(pacs),
                {
                    "name": "backup",
                    "kind": "dicom",
                    "ae_title": "BACKUP",
                    "host": "127.0.0.1",
                    "port": backup_port,
                },
            ],
            hl7_port=emr.port,
            stable_after_s=0.3,
        )
        log = tmp_path / "node.log"
        switch.proc = serve_process(cfg, tmp_path / "node.yaml", log)
        try:
            for point in POINTS:
                files = make_sample_files(tmp_path / point)
                uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
                studies[point] = uid
                switch.arm(point, uid)
                assert store_files("127.0.0.1", port, "DERMNODE", SCU_AE, files) == [0, 0, 0]
                if point == "partial-delivery":
                    wait_until(lambda u=uid: _partially_delivered(storage, u), 120, point)
                    switch.fire()
                elif point == "analysing":
                    wait_until(
                        lambda u=uid: (db_study(storage, u) or {}).get("state") == "analysing",
                        60,
                        point,
                        poll_s=0.005,
                    )
                    switch.fire()
                assert switch.fired.wait(120), f"the node was not killed at {point}"
                returncodes.append(switch.proc.wait(timeout=30))
                if point == "partial-delivery":  # the second PACS comes up while we are down
                    backup = subprocess.Popen(
                        [storescp, "+xa", "+uf", "-od", str(backup_dir), str(backup_port)],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    wait_for_port(backup_port, proc=backup)
                switch.proc = serve_process(cfg, tmp_path / "node.yaml", log)
                wait_until(
                    lambda u=uid: (db_study(storage, u) or {}).get("state") == "notified",
                    180,
                    f"the study killed at {point} to be notified after restart",
                    poll_s=0.1,
                )
        finally:
            if switch.proc is not None:
                switch.proc.send_signal(signal.SIGTERM)
                switch.proc.wait(timeout=60)
            if backup is not None:
                backup.terminate()
                backup.wait(timeout=30)
        _check_emr(emr, studies)
    assert returncodes == [-signal.SIGKILL] * len(POINTS)

    backup_uids = Counter(
        str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
        for p in backup_dir.iterdir()
        if p.is_file()
    )
    for point, uid in studies.items():
        rows = db_outbox(storage, uid)
        assert all(r["state"] == "delivered" for r in rows), point
        refs = {
            dest: [
                r["payload_ref"] for r in rows if r["kind"] == "dicom" and r["destination"] == dest
            ]
            for dest in ("pacs", "backup")
        }
        assert sorted(refs["pacs"]) == sorted(refs["backup"]), point
        assert len(set(refs["pacs"])) == len(refs["pacs"]) >= 5, point  # SR, 3+ SEG, PDF
        got = orthanc_results(pacs, uid)
        assert len(got.by_modality["SR"]) == 1, point
        assert len(got.by_modality["DOC"]) == 2, point  # clinician + patient report
        in_orthanc = got.uids("SR", "SEG", "DOC")
        assert sorted(in_orthanc) == sorted(refs["pacs"]), point  # one set of results, once
        # storescp keeps every received copy (+uf): each object arrived exactly once
        assert {u: backup_uids[u] for u in refs["backup"]} == dict.fromkeys(refs["backup"], 1)
        study = db_study(storage, uid)
        assert study is not None
        result_sets = [p for p in Path(study["result_path"]).parent.iterdir() if p.is_dir()]
        assert len(result_sets) == 1, point  # the re-run rebuilt the same objects
    assert sum(backup_uids.values()) == sum(
        len([r for r in db_outbox(storage, u) if r["destination"] == "backup"])
        for u in studies.values()
    )
    text = log.read_text(errors="replace")
    assert "recovered 1 study(ies) interrupted during analysis" in text
    assert "DEMO^PATIENT" not in text


def _partially_delivered(storage: Path, study_uid: str) -> bool:
    rows = [r for r in db_outbox(storage, study_uid) if r["kind"] == "dicom"]
    pacs = [r for r in rows if r["destination"] == "pacs"]
    backup = [r for r in rows if r["destination"] == "backup"]
    return (
        bool(pacs)
        and all(r["state"] == "delivered" for r in pacs)
        and bool(backup)
        and all(r["state"] == "pending" and r["attempts"] >= 1 for r in backup)
    )


def _check_emr(emr: EmrPeer, studies: dict[str, str]) -> None:
    for point, uid in studies.items():
        accepted = emr.accepted(uid)
        assert len(set(accepted)) == 1, (point, accepted)  # one notice, one control ID
        received = {str(m.segment("MSH")(10)) for m in emr.messages_for(uid)}
        assert received == set(accepted), point  # a repeat, if any, is the same message
    before = emr.messages_for(studies["hl7-before-ack"])
    assert len(before) >= 2  # the unanswered attempt was sent again after the restart
