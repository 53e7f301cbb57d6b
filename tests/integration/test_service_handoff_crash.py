"""kill -9 around the outbox hand-off, N times: one result set and one accepted notice each.

``dermnode serve`` runs as a child process; for each run a one-photo study is sent and the
node is killed with SIGKILL at a chosen moment: a few milliseconds after the study's
``result.json`` appears (it is written just before the hand-off transaction that queues every
DICOM object and the HL7 notice together: the kill lands before the commit or inside it), or
as soon as the job store shows the study handed off (after the commit, while delivering).
The restarted node (which is also the next run's node) must finish the study:
``notified``, its objects in the destination once, one result set on disk, one control ID
accepted by the EMR, and no study ``failed`` by a crash that was not its own.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicom_node.demo import synthetic_closeup
from dicom_node.scu import store_files
from tests.dicomdata import VL_PHOTOGRAPHIC, make_image, save
from tests.integration.service_helpers import db_outbox, db_study, emr_peer, serve_config
from tests.peers import free_port
from tests.scp_helpers import SCU_AE, serve_process

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.serial]

#: Per run: what the test waits for, then how long more before the kill (seconds).
RUNS = (
    ("result.json", 0.0),
    ("result.json", 0.02),
    ("handed off", 0.0),
    ("result.json", 0.1),
    ("handed off", 0.005),
)
_HANDED_OFF = {"encoded", "delivered", "notified"}


def _photo(study: str, seed: int) -> Dataset:
    ds = make_image(VL_PHOTOGRAPHIC, rows=192, cols=192, study_uid=study, seed=seed)
    ds.PixelData = synthetic_closeup(192, seed=seed).tobytes()
    ds.PixelSpacing = ["0.05", "0.05"]
    region = Dataset()
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = (
        "14975008",
        "SCT",
        "Forearm",
    )
    ds.AnatomicRegionSequence = [region]
    return ds


def _wait(predicate: object, timeout_s: float, what: str, poll_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_around_the_hand_off_leaves_one_result_set_and_one_notice(
    tmp_path: Path,
) -> None:
    storage = tmp_path / "var"
    pacs = tmp_path / "pacs"
    port = free_port()
    log = tmp_path / "node.log"
    outcomes: list[str] = []  # per run: the study's state right after the kill
    studies: list[str] = []
    with emr_peer() as emr:
        cfg = serve_config(
            storage,
            port=port,
            sources=[{"ae_title": SCU_AE, "host": "127.0.0.1"}],
            destinations=[{"name": "pacs", "kind": "folder", "folder": str(pacs)}],
            hl7_port=emr.port,
            stable_after_s=0.2,
        )
        proc = serve_process(cfg, tmp_path / "node.yaml", log)
        try:
            for run, (trigger, delay) in enumerate(RUNS):
                uid = pydicom.uid.generate_uid()
                studies.append(uid)
                f = save(_photo(uid, run), tmp_path / f"in-{run}.dcm")
                assert store_files("127.0.0.1", port, "DERMNODE", SCU_AE, [f]) == [0]
                job = None

                def reached(u: str = uid, trigger: str = trigger) -> bool:
                    nonlocal job
                    row = db_study(storage, u)
                    if row is None:
                        return False
                    if trigger == "handed off":
                        return row["state"] in _HANDED_OFF
                    job = row["id"]
                    return any((storage / "results" / f"job-{job}").glob("*/result.json"))

                _wait(reached, 120, f"run {run}: {trigger}", poll_s=0.001)
                time.sleep(delay)
                os.kill(proc.pid, signal.SIGKILL)
                assert proc.wait(timeout=30) == -signal.SIGKILL
                state = (db_study(storage, uid) or {}).get("state")
                outcomes.append(str(state))
                proc = serve_process(cfg, tmp_path / "node.yaml", log)
                _wait(
                    lambda u=uid: (db_study(storage, u) or {}).get("state") == "notified",
                    180,
                    f"run {run}: the study to be notified after the restart",
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        accepted = {u: emr.accepted(u) for u in studies}
        received = {u: {str(m.segment("MSH")(10)) for m in emr.messages_for(u)} for u in studies}
    table = list(zip(RUNS, outcomes, strict=True))
    print(f"\nkill -9 runs ((trigger, delay s), state at the kill): {table}")
    sr_files = Counter(
        str(pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID)
        for p in pacs.glob("*.dcm")
        if str(pydicom.dcmread(p, stop_before_pixels=True).Modality) == "SR"
    )
    for run, uid in enumerate(studies):
        study = db_study(storage, uid)
        assert study is not None and study["state"] == "notified", run
        assert study["interrupted_runs"] == 0, run  # reset by the hand-off
        sets = [p for p in Path(study["result_path"]).parent.iterdir() if p.is_dir()]
        assert len(sets) == 1, run  # one result set
        rows = db_outbox(storage, uid)
        assert rows and all(r["state"] == "delivered" for r in rows), run
        assert sum(r["kind"] == "hl7" for r in rows) == 1, run  # one notice queued
        dicom_refs = [r["payload_ref"] for r in rows if r["kind"] == "dicom"]
        assert len(dicom_refs) == len(set(dicom_refs)) >= 3, run  # SR, SEG(s), PDF, once
        assert all((pacs / f"{ref}.dcm").is_file() for ref in dicom_refs), run
        assert sr_files[uid] == 1, run
        assert len(set(accepted[uid])) == 1, (run, accepted[uid])  # one accepted control ID
        assert received[uid] == set(accepted[uid]), run  # a repeat is the same notice
    # the kill landed on both sides of the commit at least once
    assert "analysing" in outcomes and set(outcomes) - {"analysing"}, outcomes
    text = log.read_text(errors="replace")
    assert "failed" not in {(db_study(storage, u) or {}).get("state") for u in studies}
    assert "interrupted" in text  # the recoveries were logged
