"""Helpers for the running-service tests: an MLLP EMR that counts ACKs, Orthanc queries,
``dermnode serve`` settings and a read-only look into the job store of a running node.

The EMR is python-hl7's asyncio MLLP server (an implementation independent of DermNode's
client), run in a thread. It answers each ORU with the ACK code chosen by ``responder`` and
records, per Study Instance UID (OBX 113014), which control IDs (MSH-10) it accepted, so a
test can check that exactly one notice per study was ACKed. Hooks run before and after the
ACK is written: a crash test kills DermNode there.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import hl7
import hl7.mllp

from tests.hl7_server import Hl7ServerThread
from tests.orthanc import Orthanc, _wait_ready
from tests.peers import require_binary

__all__ = [
    "EmrPeer",
    "OrthancResults",
    "db_outbox",
    "db_study",
    "orthanc_results",
    "restart_orthanc",
    "send_from_orthanc",
    "serve_config",
    "stop_orthanc",
    "wait_until",
]

#: (message, how often this control ID arrived so far) -> ACK code, or None to stay silent
Responder = Callable[[hl7.Message, int], str | None]
Hook = Callable[[hl7.Message, int], None]


def always(code: str) -> Responder:
    """A responder that always answers *code*."""
    return lambda _m, _n: code


def study_uid_of(message: hl7.Message) -> str:
    """The Study Instance UID of an ORU (the OBX with code 113014), or ``""``."""
    for seg in message:
        if str(seg[0]) == "OBX" and str(seg(3)(1)(1)) == "113014":
            return str(seg(5))
    return ""


def scores_of(message: hl7.Message) -> dict[tuple[str, str], float]:
    """``{(image sub-id, concern): score}`` from the ORU's ``*.score`` OBX rows."""
    out: dict[tuple[str, str], float] = {}
    for seg in message:
        if str(seg[0]) != "OBX":
            continue
        code, sub_id = str(seg(3)(1)(1)), str(seg(4))
        if code.endswith(".score") and "." not in sub_id:  # not a raw value of a region
            out[(sub_id, code[: -len(".score")])] = float(str(seg(5)))
    return out


class EmrPeer(Hl7ServerThread):
    """python-hl7's asyncio MLLP server in a thread, recording every message and ACK."""

    def __init__(
        self,
        responder: Responder = always("AA"),
        *,
        before_ack: Hook | None = None,
        after_ack: Hook | None = None,
    ) -> None:
        self.responder = responder
        self.before_ack = before_ack
        self.after_ack = after_ack
        self.lock = threading.Lock()
        self.received: list[hl7.Message] = []
        self.seen: dict[str, int] = defaultdict(int)
        self.acks: list[tuple[str, str, str]] = []  # (study uid, control id, code)
        super().__init__(name="emr-peer")

    async def _handle(self, reader: Any, writer: Any) -> None:
        try:
            while True:
                message = await reader.readmessage()
                control_id = str(message.segment("MSH")(10))
                with self.lock:
                    self.received.append(message)
                    self.seen[control_id] += 1
                    n = self.seen[control_id]
                if self.before_ack is not None:
                    self.before_ack(message, n)
                code = self.responder(message, n)
                if code is None:
                    continue
                ack = str(message.create_ack(code, message_id=f"ACK{len(self.acks)}")) + "\r"
                writer.writeblock(ack.encode("utf-8"))
                await writer.drain()
                with self.lock:
                    self.acks.append((study_uid_of(message), control_id, code))
                if self.after_ack is not None:
                    self.after_ack(message, n)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def accepted(self, study_uid: str) -> list[str]:
        """Control IDs answered ``AA`` for *study_uid*, one entry per ACK sent."""
        with self.lock:
            return [c for s, c, code in self.acks if s == study_uid and code == "AA"]

    def messages_for(self, study_uid: str) -> list[hl7.Message]:
        """Every ORU received for *study_uid*."""
        with self.lock:
            return [m for m in self.received if study_uid_of(m) == study_uid]


@contextmanager
def emr_peer(responder: Responder = always("AA"), **hooks: Hook | None) -> Iterator[EmrPeer]:
    """An :class:`EmrPeer` for the duration of a ``with`` block."""
    peer = EmrPeer(responder, **hooks)
    try:
        yield peer
    finally:
        peer.close()


# --------------------------------------------------------------------------- configuration


def serve_config(
    storage: Path,
    *,
    port: int,
    sources: list[dict[str, Any]],
    destinations: list[dict[str, Any]],
    hl7_port: int | None = None,
    stable_after_s: float = 0.5,
    http_port: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """A YAML-shaped configuration of a loopback test service with fast retries."""
    cfg: dict[str, Any] = {
        "node": {
            "ae_title": "DERMNODE",
            "host": "127.0.0.1",
            "port": port,
            "storage_dir": str(storage),
            "min_free_disk_mb": 0,
            "stable_after_s": stable_after_s,
            "acse_timeout_s": 10,
            "dimse_timeout_s": 30,
            "network_timeout_s": 30,
        },
        "sources": sources,
        "destinations": destinations,
        "hl7": []
        if hl7_port is None
        else [
            {
                "name": "emr",
                "kind": "mllp",
                "host": "127.0.0.1",
                "port": hl7_port,
                "connect_timeout_s": 5,
                "read_timeout_s": 5,
            }
        ],
        "delivery": {"max_age_h": 1, "backoff_initial_s": 0.2, "backoff_max_s": 1.0},
        "analysis": {"device": "cpu", "workers": 1},
        "http": {"host": "127.0.0.1", "port": http_port},
        "logging": {"level": "INFO"},
    }
    cfg.update(extra)
    return cfg


def orthanc_destination(pacs: Orthanc, name: str = "pacs") -> dict[str, Any]:
    """A DICOM destination entry for *pacs*."""
    return {
        "name": name,
        "kind": "dicom",
        "ae_title": pacs.aet,
        "host": "127.0.0.1",
        "port": pacs.dicom_port,
    }


# --------------------------------------------------------------------------- job store


def _db(storage: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{storage / 'dermnode.sqlite3'}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def db_study(storage: Path, study_uid: str) -> dict[str, Any] | None:
    """The study row of *study_uid* in a (possibly running) node's job store."""
    if not (storage / "dermnode.sqlite3").exists():
        return None
    try:
        with closing(_db(storage)) as conn:
            row = conn.execute(
                "SELECT * FROM studies WHERE study_instance_uid = ?", (study_uid,)
            ).fetchone()
    except sqlite3.OperationalError:  # created but not yet initialised
        return None
    return None if row is None else dict(row)


def db_outbox(storage: Path, study_uid: str) -> list[dict[str, Any]]:
    """The outbox rows of *study_uid*."""
    if not (storage / "dermnode.sqlite3").exists():
        return []
    try:
        with closing(_db(storage)) as conn:
            rows = conn.execute(
                "SELECT * FROM outbox WHERE study_instance_uid = ? ORDER BY id", (study_uid,)
            ).fetchall()
    except sqlite3.OperationalError:
        return []
    return [dict(r) for r in rows]


def wait_until(
    predicate: Callable[[], Any], timeout_s: float, what: str, poll_s: float = 0.02
) -> Any:
    """Poll *predicate* until it returns a truthy value; fail the test after *timeout_s*."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


# --------------------------------------------------------------------------- Orthanc


class OrthancResults:
    """What Orthanc holds for one study: ``{modality: [SOP Instance UID, ...]}`` and series."""

    def __init__(self, by_modality: dict[str, list[str]], series: dict[str, str]) -> None:
        self.by_modality = by_modality
        self.series = series  # series instance uid -> modality

    def uids(self, *modalities: str) -> list[str]:
        """SOP Instance UIDs of the given modalities (all when none given)."""
        keys = modalities or tuple(self.by_modality)
        return [u for m in keys for u in self.by_modality.get(m, [])]


def orthanc_results(pacs: Orthanc, study_uid: str) -> OrthancResults:
    """Query Orthanc's REST API for the series and instances of *study_uid*."""
    found = pacs.rest(
        "POST", "/tools/find", {"Level": "Study", "Query": {"StudyInstanceUID": study_uid}}
    )
    by_modality: dict[str, list[str]] = defaultdict(list)
    series_mod: dict[str, str] = {}
    for study_id in found:
        for series in pacs.rest("GET", f"/studies/{study_id}/series"):
            modality = series["MainDicomTags"].get("Modality", "")
            series_mod[series["MainDicomTags"]["SeriesInstanceUID"]] = modality
            for inst in pacs.rest("GET", f"/series/{series['ID']}/instances"):
                by_modality[modality].append(inst["MainDicomTags"]["SOPInstanceUID"])
    return OrthancResults(dict(by_modality), series_mod)


def send_from_orthanc(pacs: Orthanc, files: list[Path], modality: str) -> str:
    """Upload *files* to Orthanc, then have Orthanc C-STORE their study to *modality*.

    Returns Orthanc's id of the study.
    """
    study_ids = {pacs.upload(f)["ParentStudy"] for f in files}
    assert len(study_ids) == 1
    study_id = study_ids.pop()
    job = pacs.rest(
        "POST",
        f"/modalities/{modality}/store",
        {"Resources": [study_id], "Synchronous": True},
        timeout=120,
    )
    assert job.get("FailedInstancesCount", 0) == 0, job
    return str(study_id)


def stop_orthanc(pacs: Orthanc) -> None:
    """Stop Orthanc (SIGTERM); its storage stays."""
    pacs.process.terminate()
    pacs.process.wait(timeout=30)


def restart_orthanc(pacs: Orthanc) -> None:
    """Start Orthanc again with the same configuration (same ports and storage)."""
    binary = require_binary("Orthanc")
    with (pacs.folder / "orthanc.log").open("ab") as log:
        pacs.process = subprocess.Popen(
            [binary, str(pacs.folder / "orthanc.json")],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=pacs.folder,
        )
    _wait_ready(pacs)
