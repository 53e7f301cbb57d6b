"""Hostile network input to the listener, on 127.0.0.1 (dicom_node/netguard.py, scp.py).

Each test opens raw TCP connections (or a pynetdicom / DCMTK peer) against a real in-process
node and checks that the limit holds *and* that a legitimate association is answered
afterwards: stalled connections never take an association slot, a PDU declaring more than
the limit is refused after its 6-byte header, a slow or truncated PDU is closed by its
deadline, the association policy fails closed, inbound TLS works with real certificates.
"""

from __future__ import annotations

import resource
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pynetdicom import AE

from dicom_node.node import RunningNode
from tests import dicomdata
from tests.integration.test_tls import Pki, _make_ca, _make_leaf
from tests.peers import require_binary
from tests.scp_helpers import SCU_AE, running_node

pytestmark = pytest.mark.integration

VERIFICATION = "1.2.840.10008.1.1"
FAST = {"association_request_timeout_s": 1.0, "pdu_timeout_s": 2.0}


def _echo(port: int, *, tls: tuple[ssl.SSLContext, str] | None = None) -> int | None:
    """C-ECHO as the known source; the status, or None when not associated."""
    ae = AE(ae_title=SCU_AE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", port, ae_title="DERMNODE", tls_args=tls)
    if not assoc.is_established:
        wrapper = assoc.dul.socket  # pynetdicom leaves a refused requestor's socket open
        if wrapper is not None and wrapper.socket is not None:
            wrapper.socket.close()
        return None
    status = assoc.send_c_echo()
    assoc.release()
    return int(status.Status) if "Status" in status else None


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the node closed *sock* (EOF or reset), or None if still open."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return time.monotonic() - start
    except TimeoutError:
        return None
    except OSError:
        return time.monotonic() - start


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _associate_rq(called: str = "DERMNODE", calling: str = SCU_AE) -> bytes:
    """A minimal valid A-ASSOCIATE-RQ (PS3.8 9.3.2) proposing Verification."""

    def item(kind: int, body: bytes) -> bytes:
        return struct.pack(">BBH", kind, 0, len(body)) + body

    app = item(0x10, b"1.2.840.10008.3.1.1.1")
    pc = item(
        0x20,
        bytes([1, 0, 0, 0]) + item(0x30, VERIFICATION.encode()) + item(0x40, b"1.2.840.10008.1.2"),
    )
    user = item(0x50, item(0x51, struct.pack(">L", 16384)) + item(0x52, b"1.2.3.4"))
    body = (
        struct.pack(">HH", 1, 0)
        + called.ljust(16).encode()
        + calling.ljust(16).encode()
        + bytes(32)
        + app
        + pc
        + user
    )
    return struct.pack(">BBL", 0x01, 0, len(body)) + body


@pytest.fixture
def node(tmp_path: Path) -> Iterator[RunningNode]:
    with running_node(tmp_path / "node", **FAST) as n:
        yield n


def test_stalled_connections_take_no_slot_and_are_closed_by_their_deadline(
    node: RunningNode,
) -> None:
    """Eleven connections that send 3 bytes (more than max_associations=10) lock no one out."""
    port = node.dicom.port
    stalled = [_connect(port) for _ in range(11)]
    for s in stalled:
        s.sendall(b"\x01\x00\x00")
    try:
        time.sleep(0.2)
        assert _echo(port) == 0x0000  # a legitimate sender is served at once
        waited = [_closed_within(s, 5.0) for s in stalled]
        assert all(w is not None for w in waited), waited  # closed, not held forever
        assert max(w for w in waited if w is not None) < 3.0
    finally:
        for s in stalled:
            s.close()
    assert _echo(port) == 0x0000


def test_silent_connection_is_closed_by_the_request_deadline(node: RunningNode) -> None:
    s = _connect(node.dicom.port)
    try:
        assert (_closed_within(s, 5.0) or 99) < 3.0
    finally:
        s.close()


def test_associate_request_declaring_4_gb_is_refused_after_its_header(node: RunningNode) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    s = _connect(node.dicom.port)
    try:
        s.sendall(struct.pack(">BBL", 0x01, 0, 0xFFFFFFF0) + b"\x00\x01" + bytes(1000))
        took = _closed_within(s, 5.0)
        assert took is not None and took < 0.5
    finally:
        s.close()
    growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert growth_kb < 50_000
    assert _echo(node.dicom.port) == 0x0000


def test_streamed_p_data_over_the_maximum_pdu_size_is_refused(tmp_path: Path) -> None:
    """After a valid association, a P-DATA-TF declaring 600 MB is refused unread."""
    with running_node(tmp_path / "n", maximum_pdu_size=65536, **FAST) as n:
        s = _connect(n.dicom.port)
        try:
            s.sendall(_associate_rq())
            ac = s.recv(6)
            assert ac[:1] == b"\x02"  # A-ASSOCIATE-AC
            s.settimeout(2)
            try:
                while s.recv(65536):  # the rest of the A-ASSOCIATE-AC
                    pass
            except TimeoutError:
                pass
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            s.sendall(struct.pack(">BBL", 0x04, 0, 600 * 1024 * 1024))
            sent = 0
            try:
                for _ in range(200):  # keep streaming: the node must stop reading
                    s.sendall(bytes(65536))
                    sent += 65536
            except OSError:
                pass
            assert _closed_within(s, 5.0) is not None
            growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
            assert growth_kb < 50_000, (growth_kb, sent)
        finally:
            s.close()
        assert _echo(n.dicom.port) == 0x0000


def test_slow_loris_request_is_closed_by_its_deadline(node: RunningNode) -> None:
    """One byte of a valid request every 0.3 s: closed by the 1 s request deadline."""
    rq = _associate_rq()
    s = _connect(node.dicom.port)
    start = time.monotonic()
    closed = False
    try:
        for b in rq:
            try:
                s.sendall(bytes([b]))
            except OSError:
                closed = True
                break
            time.sleep(0.3)
            if time.monotonic() - start > 6:
                break
        closed = closed or _closed_within(s, 3.0) is not None
    finally:
        s.close()
    assert closed
    assert time.monotonic() - start < 6
    assert _echo(node.dicom.port) == 0x0000


def test_truncated_p_data_closes_the_association_by_the_pdu_deadline(node: RunningNode) -> None:
    s = _connect(node.dicom.port)
    try:
        s.sendall(_associate_rq())
        assert s.recv(1) == b"\x02"
        time.sleep(0.2)
        s.recv(65536)
        s.sendall(struct.pack(">BBL", 0x04, 0, 1000) + bytes(10))  # 10 of 1000 bytes
        took = _closed_within(s, 6.0)
        assert took is not None and took < 4.0  # pdu_timeout_s = 2
    finally:
        s.close()
    assert _echo(node.dicom.port) == 0x0000


def test_too_many_connections_are_refused_and_the_node_recovers(tmp_path: Path) -> None:
    with running_node(tmp_path / "n", max_associations=2, max_pending_connections=3, **FAST) as n:
        flood = [_connect(n.dicom.port) for _ in range(12)]
        try:
            time.sleep(0.3)
            refused = [s for s in flood if _closed_within(s, 0.2) is not None]
            assert len(refused) >= 7  # 5 kept (2 + 3), the rest closed at once
        finally:
            for s in flood:
                s.close()
        deadline = time.monotonic() + 5
        status = None
        while time.monotonic() < deadline and status is None:
            status = _echo(n.dicom.port)
            time.sleep(0.2)
        assert status == 0x0000


def test_association_limit_counts_only_accepted_associations(tmp_path: Path) -> None:
    with running_node(tmp_path / "n", max_associations=1, **FAST) as n:
        ae = AE(ae_title=SCU_AE)
        ae.add_requested_context(VERIFICATION)
        first = ae.associate("127.0.0.1", n.dicom.port, ae_title="DERMNODE")
        assert first.is_established
        try:
            second = ae.associate("127.0.0.1", n.dicom.port, ae_title="DERMNODE")
            assert second.is_rejected
            rj = second.acceptor.primitive
            assert (rj.result, rj.result_source, rj.diagnostic) == (2, 3, 2)
        finally:
            first.release()
        assert _echo(n.dicom.port) == 0x0000


def test_policy_that_raises_rejects_instead_of_accepting(
    node: RunningNode, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("policy bug")

    monkeypatch.setattr(type(node.dicom.policy), "check", broken)
    ae = AE(ae_title=SCU_AE)
    ae.add_requested_context(VERIFICATION)
    with caplog.at_level("ERROR", logger="dicom_node.scp"):
        assoc = ae.associate("127.0.0.1", node.dicom.port, ae_title="DERMNODE")
    assert assoc.is_rejected and not assoc.is_established
    assert "association policy failed (RuntimeError)" in caplog.text


def test_pynetdicom_calling_ae_check_backs_the_policy_up(
    node: RunningNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the policy disabled (accepts everyone), pynetdicom's own switch still rejects."""
    monkeypatch.setattr(type(node.dicom.policy), "check", lambda *a: None)
    ae = AE(ae_title="STRANGER")
    ae.add_requested_context(VERIFICATION)
    assoc = ae.associate("127.0.0.1", node.dicom.port, ae_title="DERMNODE")
    assert assoc.is_rejected
    assert assoc.acceptor.primitive.diagnostic == 3


# ------------------------------------------------------------------------- inbound TLS


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    exe = require_binary("openssl")
    d = tmp_path_factory.mktemp("pki-in")
    _make_ca(exe, d, "ca")
    _make_ca(exe, d, "wrongca")
    _make_leaf(
        exe,
        d,
        "server",
        "ca",
        "127.0.0.1",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    _make_leaf(exe, d, "client", "ca", "TESTSCU", "extendedKeyUsage=clientAuth\n")
    _make_leaf(exe, d, "stranger", "wrongca", "TESTSCU", "extendedKeyUsage=clientAuth\n")
    return Pki(
        ca=d / "ca.pem",
        wrong_ca=d / "wrongca.pem",
        server_cert=d / "server.pem",
        server_key=d / "server.key",
        client_cert=d / "client.pem",
        client_key=d / "client.key",
    )


def _tls_node(tmp_path: Path, pki: Pki) -> object:
    tls = {
        "enabled": True,
        "ca_file": str(pki.ca),
        "cert_file": str(pki.server_cert),
        "key_file": str(pki.server_key),
    }
    return running_node(tmp_path / "tls-node", tls=tls, **FAST)


def _client(pki: Pki, cert: str = "client") -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
    d = pki.ca.parent
    ctx.load_cert_chain(str(d / f"{cert}.pem"), str(d / f"{cert}.key"))
    return ctx


def test_inbound_tls_with_a_client_certificate_is_answered(tmp_path: Path, pki: Pki) -> None:
    with _tls_node(tmp_path, pki) as n:  # type: ignore[attr-defined]
        port = n.dicom.port
        assert _echo(port, tls=(_client(pki), "127.0.0.1")) == 0x0000
        # no client certificate, or one from another CA: the handshake is refused
        bare = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
        assert _echo(port, tls=(bare, "127.0.0.1")) is None
        assert _echo(port, tls=(_client(pki, "stranger"), "127.0.0.1")) is None
        # plain TCP to the TLS port: closed by the handshake deadline, nothing accepted
        assert _echo(port) is None
        s = _connect(port)
        try:
            assert (_closed_within(s, 5.0) or 99) < 3.0  # a stalled handshake
        finally:
            s.close()
        assert _echo(port, tls=(_client(pki), "127.0.0.1")) == 0x0000


def test_dcmtk_storescu_sends_over_tls(tmp_path: Path, pki: Pki) -> None:
    storescu = require_binary("storescu")
    if (
        "--enable-tls"
        not in subprocess.run(
            [storescu, "--help"], capture_output=True, text=True, timeout=30
        ).stdout
    ):
        pytest.skip("this DCMTK build has no TLS")
    photo = dicomdata.save(dicomdata.make_image(), tmp_path / "photo.dcm")
    with _tls_node(tmp_path, pki) as n:  # type: ignore[attr-defined]
        d = pki.ca.parent
        run = subprocess.run(
            [
                storescu,
                "-aet",
                SCU_AE,
                "-aec",
                "DERMNODE",
                "--enable-tls",
                str(d / "client.key"),
                str(d / "client.pem"),
                "--add-cert-file",
                str(pki.ca),
                "--require-peer-cert",
                "127.0.0.1",
                str(n.dicom.port),
                str(photo),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert n.handler.stats.stored == 1
