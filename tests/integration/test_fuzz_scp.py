"""Fuzzing the listener and the reader with a generated corpus (tests/fuzz_corpus.py).

- 520 mutated data sets of real photos, each sent by C-STORE (pynetdicom SCU streaming the
  bytes unparsed) to an in-process node: every request gets a C-STORE status from the
  documented table (never 0xC211 "internal error", never a hang past the DIMSE timeout), and
  an association that the peer's data broke is replaced by a new one that is accepted.
- The same 520 files through ``dermnode analyze``'s reader (in-process: read, limits, decode,
  sanitize): each is either decoded or rejected with a reason; a batch goes through the whole
  command, which prints its JSON.
- 150 hostile PDU streams on fresh connections, 8 at a time: each connection ends (AC, RJ,
  A-ABORT or close) within the request/PDU deadlines, and a legitimate C-ECHO is answered
  during and after the flood.

No patient value (a sentinel name and birth date are in the corpus) reaches the log at DEBUG.
The outcome tables are printed (``pytest -s``) for the closing note.
"""

from __future__ import annotations

import collections
import json
import logging
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pynetdicom import AE, _config

from dicom_node import setup
from dicom_node.analyze_cmd import analyze_command, load_each
from dicom_node.decode import DecodeLimits
from dicom_node.node import RunningNode
from dicom_node.scp import Status
from tests import fuzz_corpus as F
from tests import hostile as H
from tests.scp_helpers import SCU_AE, running_node

pytestmark = pytest.mark.integration

N_DATASETS = 520
N_PDUS = 150
REQUEST_TIMEOUT_S = 1.0
PDU_TIMEOUT_S = 2.0
DIMSE_TIMEOUT_S = 10.0
ALLOWED = {
    Status.SUCCESS,
    Status.SOP_CLASS_NOT_SUPPORTED,
    Status.DATASET_MISMATCH,
    Status.CANNOT_UNDERSTAND,
}
VERIFICATION = "1.2.840.10008.1.1"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    setup.apply()
    with running_node(
        tmp_path_factory.mktemp("fuzz") / "node",
        association_request_timeout_s=REQUEST_TIMEOUT_S,
        pdu_timeout_s=PDU_TIMEOUT_S,
        dimse_timeout_s=DIMSE_TIMEOUT_S,
        network_timeout_s=DIMSE_TIMEOUT_S,
        max_pending_connections=40,
    ) as n:
        yield n


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[F.DatasetCase, Path]]:
    folder = tmp_path_factory.mktemp("corpus")
    out = []
    for i, case in enumerate(F.dataset_cases(N_DATASETS)):
        path = folder / f"{i:04d}.dcm"
        path.write_bytes(case.part10())
        out.append((case, path))
    return out


def _scu() -> AE:
    ae = AE(ae_title=SCU_AE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = DIMSE_TIMEOUT_S
    for uid in (H.VL_PHOTO, H.DERMOSCOPY, H.SECONDARY_CAPTURE):
        for ts in F.TRANSFER_SYNTAXES:  # one context each: every claimed syntax is sendable
            ae.add_requested_context(uid, ts)
    ae.add_requested_context(VERIFICATION)
    return ae


def _echo(port: int) -> int | None:
    ae = AE(ae_title=SCU_AE)
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", port, ae_title="DERMNODE")
    if not assoc.is_established:
        return None
    status = assoc.send_c_echo()
    assoc.release()
    return int(status.Status) if "Status" in status else None


def test_mutated_datasets_get_a_status_over_c_store(
    node: RunningNode,
    corpus: list[tuple[F.DatasetCase, Path]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert len(corpus) >= 500
    outcomes: collections.Counter[str] = collections.Counter()
    slowest = 0.0
    ae = _scu()
    chunked = _config.STORE_SEND_CHUNKED_DATASET
    _config.STORE_SEND_CHUNKED_DATASET = True  # send the mutated bytes as they are
    started = time.monotonic()
    try:
        with caplog.at_level(logging.DEBUG):
            assoc = ae.associate("127.0.0.1", node.port, ae_title="DERMNODE")
            assert assoc.is_established
            for case, path in corpus:
                if not assoc.is_established:
                    assoc = ae.associate("127.0.0.1", node.port, ae_title="DERMNODE")
                    assert assoc.is_established, f"node refused a new association after {case.name}"
                t0 = time.monotonic()
                try:
                    rsp = assoc.send_c_store(path)
                except ValueError:  # no accepted context for a claimed syntax: SCU side
                    outcomes["not sent (no presentation context)"] += 1
                    continue
                slowest = max(slowest, time.monotonic() - t0)
                if "Status" not in rsp:
                    outcomes["association ended"] += 1  # aborted: reopened for the next case
                    continue
                status = int(rsp.Status)
                assert status in ALLOWED, (case.name, hex(status))
                outcomes[f"0x{status:04X}"] += 1
            if assoc.is_established:
                assoc.release()
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = chunked
    elapsed = time.monotonic() - started
    assert slowest < DIMSE_TIMEOUT_S + 1
    assert _echo(node.port) == 0x0000
    text = caplog.text
    assert H.SENTINEL_NAME not in text and H.SENTINEL_BIRTH not in text
    assert "SENTINEL" not in text
    assert outcomes["0x0000"] > 0 and outcomes["0xC210"] > 0  # both kinds really happened
    with capsys.disabled():
        print(f"\nC-STORE fuzz: {len(corpus)} cases in {elapsed:.1f} s (slowest {slowest:.2f} s)")
        for k, v in sorted(outcomes.items()):
            print(f"  {k}: {v}")


def test_mutated_files_are_decoded_or_rejected_with_a_reason(
    corpus: list[tuple[F.DatasetCase, Path]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup.apply()
    outcomes: collections.Counter[str] = collections.Counter()
    usable: list[Path] = []
    limits = DecodeLimits()
    with caplog.at_level(logging.DEBUG):
        for case, path in corpus:
            loaded, failed = load_each([path], limits=limits)
            assert len(loaded) + len(failed) >= 1, case.name
            for _, reason in failed:
                assert reason and "Traceback" not in reason, case.name
                assert "SENTINEL" not in reason and H.SENTINEL_BIRTH not in reason
                outcomes["rejected: " + reason.split(":")[-1].split("(")[0].strip()[:48]] += 1
            if loaded:
                outcomes["decoded"] += 1
                usable.append(path)
    assert "SENTINEL" not in caplog.text and H.SENTINEL_BIRTH not in caplog.text
    assert outcomes["decoded"] > 50
    with capsys.disabled():
        print(f"\nanalyze reader fuzz: {len(corpus)} files")
        for k, v in outcomes.most_common():
            print(f"  {k}: {v}")


def test_analyze_command_on_a_mixed_fuzz_batch_prints_json(
    corpus: list[tuple[F.DatasetCase, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    batch = [str(p) for _, p in corpus[:24]]
    status = analyze_command(batch, device="cpu")
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    named = {line.split(": ")[1] for line in captured.err.splitlines() if line.startswith("dermn")}
    assert len(doc["images"]) + len(named) == len(batch)
    assert status == (2 if named else 0)
    assert "SENTINEL" not in captured.err


def _exchange(port: int, case: F.PduCase) -> tuple[str, str, float]:
    """Send the case on a fresh connection; (case, outcome, seconds until it ended)."""
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    outcome = "closed"
    try:
        try:
            s.sendall(case.data)
        except OSError:
            return case.name, "closed while sending", time.monotonic() - start
        s.settimeout(REQUEST_TIMEOUT_S + PDU_TIMEOUT_S + 3)
        first = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                if not first:
                    first = chunk
                    outcome = {0x02: "A-ASSOCIATE-AC", 0x03: "A-ASSOCIATE-RJ", 0x07: "A-ABORT"}.get(
                        chunk[0], f"PDU 0x{chunk[0]:02X}"
                    )
                    if chunk[0] == 0x02:  # accepted: release it like a polite peer would
                        s.sendall(bytes([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]))
        except TimeoutError:
            outcome += " (still open)"
        except OSError:
            pass
    finally:
        s.close()
    return case.name, outcome, time.monotonic() - start


def test_hostile_pdus_end_within_the_deadlines(
    node: RunningNode, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = list(F.pdu_cases(N_PDUS))
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(_exchange, node.port, c) for c in cases]
        time.sleep(0.5)
        echo_during = _echo(node.port)
        results = [f.result() for f in futures]
    elapsed = time.monotonic() - started
    outcomes = collections.Counter(o.split("/")[0] + " -> " + r for o, r, _ in results)
    still_open = [(n, r) for n, r, _ in results if "still open" in r]
    assert not still_open, still_open[:5]
    slowest = max(t for _, _, t in results)
    assert slowest < REQUEST_TIMEOUT_S + PDU_TIMEOUT_S + 2
    assert echo_during == 0x0000
    assert _echo(node.port) == 0x0000
    deadline = time.monotonic() + REQUEST_TIMEOUT_S + PDU_TIMEOUT_S + 5
    while time.monotonic() < deadline and node.dicom.ae.active_associations:
        time.sleep(0.1)
    assert node.dicom.ae.active_associations == []  # no association thread leaked
    with capsys.disabled():
        print(f"\nPDU fuzz: {len(cases)} streams in {elapsed:.1f} s (slowest {slowest:.2f} s)")
        for k, v in sorted(outcomes.items()):
            print(f"  {k}: {v}")
