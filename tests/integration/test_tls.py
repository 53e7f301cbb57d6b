"""TLS of the results delivery on 127.0.0.1: C-STORE (pynetdicom SCP) and MLLP (python-hl7).

A throw-away PKI is made with the ``openssl`` command line for the module: a test CA that
signs the server certificate (CN 127.0.0.1, SAN IP:127.0.0.1 and DNS:localhost) and a client
certificate, and a second, unrelated CA ("wrong CA") that signed nothing the servers present.

Outcome rule checked here (same for DICOM and HL7): a TLS refusal (our check of the server
certificate fails, or the server answers with a TLS alert, e.g. for a missing client
certificate) or an unreadable PEM file is a configuration problem and is *not* retryable: the
outbox dead-letters it at once, visible to an administrator, who fixes the CA/certificate and
re-queues it. A handshake that is cut off (reset, EOF, timeout, a peer that does not speak
TLS) stays retryable like any network failure, and never hangs.
"""

from __future__ import annotations

import secrets
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE, evt

from config.settings import DestinationSettings, Hl7EndpointSettings, TlsSettings
from integrations.errors import PacsDeliveryError
from integrations.hl7 import MllpClient, OruMessage, build_oru
from integrations.pacs_export import send_files
from tests.hl7_attempt import DeliveryOutcome, deliver
from tests.integration.test_mllp_peers import PythonHl7Peer, Responder, ack_text
from tests.peers import free_port, require_binary
from tests.unit.integrations import fakes
from tests.unit.integrations import hl7_fakes as F

pytestmark = pytest.mark.integration

VL_PHOTO = fakes.VL_PHOTO
EXPLICIT_LE = "1.2.840.10008.1.2.1"


# ----------------------------------------------------------------------------- the PKI


@dataclass(frozen=True)
class Pki:
    ca: Path
    wrong_ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(exe: str, cwd: Path, *args: str) -> None:
    subprocess.run([exe, *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _make_ca(exe: str, cwd: Path, name: str) -> None:
    _openssl(
        exe,
        cwd,
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.pem",
        "-days",
        "2",
        "-subj",
        f"/CN=DermNode test {name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )


def _make_leaf(exe: str, cwd: Path, name: str, ca: str, cn: str, ext: str) -> None:
    (cwd / f"{name}.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n" + ext,
        encoding="ascii",
    )
    _openssl(
        exe,
        cwd,
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        f"/CN={cn}",
    )
    _openssl(
        exe,
        cwd,
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        f"{ca}.pem",
        "-CAkey",
        f"{ca}.key",
        "-set_serial",
        str(secrets.randbits(63)),
        "-days",
        "2",
        "-extfile",
        f"{name}.ext",
        "-out",
        f"{name}.pem",
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    exe = require_binary("openssl")
    d = tmp_path_factory.mktemp("pki")
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
    _make_leaf(exe, d, "client", "ca", "DERMNODE", "extendedKeyUsage=clientAuth\n")
    return Pki(
        ca=d / "ca.pem",
        wrong_ca=d / "wrongca.pem",
        server_cert=d / "server.pem",
        server_key=d / "server.key",
        client_cert=d / "client.pem",
        client_key=d / "client.key",
    )


def server_context(
    pki: Pki,
    *,
    require_client_cert: bool,
    max_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = max_version
    ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
    return ctx


def test_the_pki_is_what_the_tests_assume(pki: Pki) -> None:
    """The server certificate verifies against the CA and not against the wrong CA."""
    exe = require_binary("openssl")
    ok = subprocess.run(
        [exe, "verify", "-CAfile", str(pki.ca), str(pki.server_cert), str(pki.client_cert)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = subprocess.run(
        [exe, "verify", "-CAfile", str(pki.wrong_ca), str(pki.server_cert)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert wrong.returncode != 0


# ----------------------------------------------------------------------------- DICOM


class TlsStorageScp:
    """A pynetdicom Storage SCP on 127.0.0.1 behind TLS that keeps what it receives."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.port = free_port()
        self.received: list[Dataset] = []
        self.client_subjects: list[Any] = []
        ae = AE(ae_title="TLSSCP")
        ae.add_supported_context(VL_PHOTO, EXPLICIT_LE)
        ae.add_supported_context("1.2.840.10008.5.1.4.1.1.88.34", EXPLICIT_LE)
        server = ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            ssl_context=context,
            evt_handlers=[(evt.EVT_C_STORE, self._store)],
        )
        assert server is not None
        self.server = server

    def _store(self, event: Any) -> int:
        sock = event.assoc.dul.socket.socket
        self.client_subjects.append(sock.getpeercert() if isinstance(sock, ssl.SSLSocket) else None)
        self.received.append(event.dataset)
        return 0x0000

    def destination(self, tls: TlsSettings) -> DestinationSettings:
        return DestinationSettings(
            name="tlspacs", ae_title="TLSSCP", host="127.0.0.1", port=self.port, tls=tls
        )

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def tls_scp(pki: Pki) -> Iterator[Callable[..., TlsStorageScp]]:
    servers: list[TlsStorageScp] = []

    def make(
        require_client_cert: bool,
        max_version: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ) -> TlsStorageScp:
        ctx = server_context(pki, require_client_cert=require_client_cert, max_version=max_version)
        servers.append(TlsStorageScp(ctx))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _send(dest: DestinationSettings, ds: Dataset) -> Any:
    return send_files(
        dest, [ds], "DERMNODE", acse_timeout_s=5, dimse_timeout_s=5, network_timeout_s=5
    )


def test_dicom_mutual_tls_delivers_the_object(
    pki: Pki, tls_scp: Callable[..., TlsStorageScp]
) -> None:
    scp = tls_scp(True)
    ds = fakes.source_dataset(0)
    tls = TlsSettings(
        enabled=True, ca_file=pki.ca, cert_file=pki.client_cert, key_file=pki.client_key
    )
    (result,) = _send(scp.destination(tls), ds)
    assert result.ok and result.status == 0x0000
    assert [str(d.SOPInstanceUID) for d in scp.received] == [fakes.source_uid(0)]
    # The SCP saw our client certificate, verified against the test CA.
    (peer,) = scp.client_subjects
    assert peer is not None and (("commonName", "DERMNODE"),) in peer["subject"]


def test_dicom_wrong_ca_is_a_non_retryable_certificate_error(
    pki: Pki, tls_scp: Callable[..., TlsStorageScp]
) -> None:
    scp = tls_scp(False)
    tls = TlsSettings(enabled=True, ca_file=pki.wrong_ca)
    with pytest.raises(PacsDeliveryError) as info:
        _send(scp.destination(tls), fakes.source_dataset(0))
    assert info.value.retryable is False
    assert "TLS refused" in str(info.value) and "certificate verify failed" in str(info.value)
    assert scp.received == []


def test_dicom_missing_client_certificate_is_refused(
    pki: Pki, tls_scp: Callable[..., TlsStorageScp]
) -> None:
    """The SCP requires a client certificate and none is configured (TLS 1.2: the alert
    comes within the handshake; the TLS 1.3 variant is the refuser test below)."""
    scp = tls_scp(True, ssl.TLSVersion.TLSv1_2)
    tls = TlsSettings(enabled=True, ca_file=pki.ca)
    with pytest.raises(PacsDeliveryError) as info:
        _send(scp.destination(tls), fakes.source_dataset(0))
    assert info.value.retryable is False
    assert "TLS refused" in str(info.value)
    assert scp.received == []


def test_dicom_plain_association_to_a_tls_scp_fails_cleanly(
    tls_scp: Callable[..., TlsStorageScp],
) -> None:
    scp = tls_scp(False)
    outcome = _finishes(lambda: _send(scp.destination(TlsSettings()), fakes.source_dataset(0)))
    assert isinstance(outcome, PacsDeliveryError)
    assert outcome.retryable is True
    assert "unreachable or aborted" in str(outcome)
    assert scp.received == []


def test_dicom_unreadable_ca_file_is_not_retryable(tmp_path: Path) -> None:
    dest = DestinationSettings(
        name="tlspacs",
        ae_title="TLSSCP",
        host="127.0.0.1",
        port=free_port(),
        tls=TlsSettings(enabled=True, ca_file=tmp_path / "missing-ca.pem"),
    )
    with pytest.raises(PacsDeliveryError) as info:
        _send(dest, fakes.source_dataset(0))
    assert info.value.retryable is False
    assert "ca_file" in str(info.value)


class LoopbackServer:
    """A TCP server on 127.0.0.1 that hands each accepted connection to ``serve`` in its
    accept thread (one at a time, enough for these tests)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)
            self.serve(conn)

    def serve(self, conn: socket.socket) -> None:
        """Say nothing (a peer that never answers the ClientHello)."""

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        for conn in self.accepted:
            conn.close()


class SilentPeer(LoopbackServer):
    """Accepts TCP connections and never sends a byte (a hung TLS handshake)."""


class ClientCertRefuser(LoopbackServer):
    """A TLS server that requires a client certificate and refuses the connection without one.

    It closes like a careful TLS stack: after the failed handshake (the alert is already
    sent) it half-closes and reads until the client has gone. Closing at once with unread
    data would make the kernel answer with a reset that can overtake the alert: with TLS 1.3
    the client has finished its handshake and sent the message before the server checks
    the certificate, so it would see a dropped connection instead of the refusal.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.errors: list[ssl.SSLError] = []
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except ssl.SSLError as exc:
            self.errors.append(exc)
        raw = socket.socket(fileno=tls.detach())
        try:
            raw.shutdown(socket.SHUT_WR)
            while raw.recv(65536):
                pass
        except OSError:
            pass
        finally:
            raw.close()


@pytest.fixture
def silent_peer() -> Iterator[SilentPeer]:
    peer = SilentPeer()
    yield peer
    peer.close()


def _finishes(fn: Callable[[], Any], limit_s: float = 60.0) -> Any:
    """Run *fn* in a thread; fail (instead of hanging the suite) when it never returns."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except Exception as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit_s)
    assert not thread.is_alive(), "the call hung"
    return out[0]


def test_dicom_tls_to_a_silent_peer_fails_cleanly(pki: Pki, silent_peer: SilentPeer) -> None:
    dest = DestinationSettings(
        name="tlspacs",
        ae_title="TLSSCP",
        host="127.0.0.1",
        port=silent_peer.port,
        tls=TlsSettings(enabled=True, ca_file=pki.ca),
    )
    outcome = _finishes(
        lambda: send_files(
            dest,
            [fakes.source_dataset(0)],
            "DERMNODE",
            acse_timeout_s=1,
            dimse_timeout_s=1,
            network_timeout_s=1,
        )
    )
    assert isinstance(outcome, PacsDeliveryError)
    assert outcome.retryable is True
    assert len(silent_peer.accepted) == 1


@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=lambda v: str(v.name)
)
def test_dicom_refused_client_certificate_is_not_retryable(
    pki: Pki, version: ssl.TLSVersion
) -> None:
    """With TLS 1.3 the refusal arrives after the handshake, on the first read."""
    ctx = server_context(pki, require_client_cert=True, max_version=version)
    server = ClientCertRefuser(ctx)
    dest = DestinationSettings(
        name="tlspacs",
        ae_title="TLSSCP",
        host="127.0.0.1",
        port=server.port,
        tls=TlsSettings(enabled=True, ca_file=pki.ca),
    )
    try:
        outcome = _finishes(lambda: _send(dest, fakes.source_dataset(0)))
    finally:
        server.close()
    assert len(server.errors) == 1 and "CERTIFICATE" in str(server.errors[0].reason)
    assert isinstance(outcome, PacsDeliveryError)
    assert outcome.retryable is False
    assert "TLS refused" in str(outcome)


# ----------------------------------------------------------------------------- HL7 (MLLP)


class TlsHl7Peer(PythonHl7Peer):
    """python-hl7's asyncio MLLP server (the peer of ``test_mllp_peers``) behind TLS."""

    def __init__(self, responder: Responder, context: ssl.SSLContext) -> None:
        self.peer_certs: list[Any] = []
        super().__init__(responder, ssl=context, ssl_handshake_timeout=10)

    async def _handle(self, reader: Any, writer: Any) -> None:
        self.peer_certs.append(writer.get_extra_info("peercert"))
        await super()._handle(reader, writer)


@pytest.fixture
def tls_hl7_peer(pki: Pki) -> Iterator[Callable[[bool], TlsHl7Peer]]:
    peers: list[TlsHl7Peer] = []

    def make(require_client_cert: bool) -> TlsHl7Peer:
        context = server_context(pki, require_client_cert=require_client_cert)
        peers.append(TlsHl7Peer(lambda _n, m: ack_text(m, "AA"), context))
        return peers[-1]

    yield make
    for p in peers:
        p.close()


def hl7_endpoint(port: int, tls: TlsSettings) -> Hl7EndpointSettings:
    return F.endpoint(port=port, tls=tls, connect_timeout_s=5.0, read_timeout_s=5.0)


def oru_for(ep: Hl7EndpointSettings, control_id: str) -> OruMessage:
    return build_oru(
        F.result(),
        F.study(),
        ep,
        control_id=control_id,
        sr_uid="1.2.826.0.1.3680043.8.498.200",
        seg_uids=(),
        pdf=None,
        observed_at=F.OBSERVED_AT,
    )


def test_hl7_tls_delivers_a_message_python_hl7_parses(
    pki: Pki, tls_hl7_peer: Callable[[bool], TlsHl7Peer]
) -> None:
    peer = tls_hl7_peer(False)
    ep = hl7_endpoint(peer.port, TlsSettings(enabled=True, ca_file=pki.ca))
    result = deliver(oru_for(ep, "TLS1"), ep)
    assert result.outcome is DeliveryOutcome.DELIVERED and result.ack_code == "AA"
    (got,) = peer.received
    assert str(got.segment("MSH")(10)) == "TLS1"
    assert str(got.segment("MSH")(9)) == "ORU^R01^ORU_R01"
    pid = got.segment("PID")
    assert str(pid(3)(1)(1)) == "PAT-0001" and str(pid(7)) == "19800229"
    study_rows = [s for s in got if str(s[0]) == "OBX" and str(s(3)(1)(1)) == "113014"]
    assert [str(s(5)) for s in study_rows] == ["1.2.826.0.1.3680043.8.498.100"]


def test_hl7_mutual_tls_presents_the_client_certificate(
    pki: Pki, tls_hl7_peer: Callable[[bool], TlsHl7Peer]
) -> None:
    peer = tls_hl7_peer(True)
    tls = TlsSettings(
        enabled=True, ca_file=pki.ca, cert_file=pki.client_cert, key_file=pki.client_key
    )
    ep = hl7_endpoint(peer.port, tls)
    with MllpClient.from_endpoint(ep) as client:
        results = [deliver(oru_for(ep, f"M{i}"), ep, client) for i in range(2)]
        assert client.connections_opened == 1
    assert [r.outcome for r in results] == [DeliveryOutcome.DELIVERED] * 2
    assert [str(m.segment("MSH")(10)) for m in peer.received] == ["M0", "M1"]
    (cert,) = peer.peer_certs
    assert (("commonName", "DERMNODE"),) in cert["subject"]


@pytest.mark.parametrize("case", ["wrong_ca", "missing_ca_file"])
def test_hl7_certificate_problems_are_dead_lettered(
    case: str, pki: Pki, tls_hl7_peer: Callable[[bool], TlsHl7Peer], tmp_path: Path
) -> None:
    peer = tls_hl7_peer(False)
    ca = pki.wrong_ca if case == "wrong_ca" else tmp_path / "nope.pem"
    ep = hl7_endpoint(peer.port, TlsSettings(enabled=True, ca_file=ca))
    result = deliver(oru_for(ep, "BAD1"), ep)
    assert result.outcome is DeliveryOutcome.DEAD_LETTER
    assert result.ack_code is None
    expected = "ca_file" if case == "missing_ca_file" else "certificate verify failed"
    assert expected in result.detail
    assert peer.received == []
    assert peer.connections == 0


@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=lambda v: str(v.name)
)
def test_hl7_refused_client_certificate_is_dead_lettered(pki: Pki, version: ssl.TLSVersion) -> None:
    ctx = server_context(pki, require_client_cert=True, max_version=version)
    server = ClientCertRefuser(ctx)
    try:
        ep = hl7_endpoint(server.port, TlsSettings(enabled=True, ca_file=pki.ca))
        result = _finishes(lambda: deliver(oru_for(ep, "NOCERT1"), ep))
    finally:
        server.close()
    assert len(server.errors) == 1 and "CERTIFICATE" in str(server.errors[0].reason)
    assert result.outcome is DeliveryOutcome.DEAD_LETTER
    assert "TLS refused" in result.detail


def test_hl7_plain_client_to_a_tls_server_is_retried(
    tls_hl7_peer: Callable[[bool], TlsHl7Peer],
) -> None:
    peer = tls_hl7_peer(False)
    ep = hl7_endpoint(peer.port, TlsSettings())
    result = _finishes(lambda: deliver(oru_for(ep, "PLAIN1"), ep))
    assert result.outcome is DeliveryOutcome.RETRY
    assert peer.received == []


def test_hl7_tls_to_a_silent_peer_is_retried(pki: Pki, silent_peer: SilentPeer) -> None:
    ep = F.endpoint(
        port=silent_peer.port,
        tls=TlsSettings(enabled=True, ca_file=pki.ca),
        connect_timeout_s=1.0,
        read_timeout_s=1.0,
    )
    result = _finishes(lambda: deliver(oru_for(ep, "SILENT1"), ep))
    assert result.outcome is DeliveryOutcome.RETRY
    assert "TLS handshake" in result.detail
