"""MLLP client behaviour against a scripted loopback peer, ACK parsing, sinks, endpoints."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integrations.errors import Hl7DeliveryError
from integrations.hl7 import (
    AckResult,
    FolderSink,
    Hl7Transport,
    MllpClient,
    OruMessage,
    check_ack,
    frame,
    parse_ack,
    transport_for,
)
from tests.peers import free_port
from tests.unit.integrations import hl7_fakes as F

SB, EB = b"\x0b", b"\x1c\x0d"


def ack(code: str, control_id: str, text: str = "", err: str = "") -> bytes:
    msg = f"MSH|^~\\&|EMR|HOSP|DERMNODE|CLINIC|20240101||ACK^R01^ACK|A{control_id}|P|2.5.1\r"
    msg += f"MSA|{code}|{control_id}|{text}\r"
    if err:
        msg += f"ERR||||E|||{err}\r"
    return msg.encode()


def control_id_of(message: bytes) -> str:
    return message.split(b"\r", 1)[0].split(b"|")[9].decode()


class ScriptedPeer:
    """A raw MLLP listener: for each message, ``script(n, message)`` returns the reply bytes
    (framed by the peer; ``RAW:`` sends the rest unframed), ``None`` to stay silent, or ``b""``
    to close without answering."""

    def __init__(
        self, script: Callable[[int, bytes], bytes | None], *, close_after_each: bool = False
    ) -> None:
        self.script = script
        self.close_after_each = close_after_each
        self.received: list[bytes] = []
        self.connections = 0
        self.port = free_port()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by close()
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        buf = b""
        conn.settimeout(5)
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while EB in buf:
                    block, buf = buf.split(EB, 1)
                    message = block[1:]
                    self.received.append(message)
                    reply = self.script(len(self.received), message)
                    if reply is None:
                        self._stop.wait(5)
                        return
                    if reply == b"":
                        return
                    raw = reply.startswith(b"RAW:")
                    conn.sendall(reply[4:] if raw else SB + reply + EB)
                    if self.close_after_each:
                        return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._server.close()


@pytest.fixture
def peer_factory() -> Iterator[Callable[..., ScriptedPeer]]:
    peers: list[ScriptedPeer] = []

    def make(script: Callable[[int, bytes], bytes | None], **kw: bool) -> ScriptedPeer:
        peers.append(ScriptedPeer(script, **kw))
        return peers[-1]

    yield make
    for p in peers:
        p.close()


def message(control_id: str) -> bytes:
    return f"MSH|^~\\&|DERMNODE|C|EMR|H|20240101||ORU^R01^ORU_R01|{control_id}|P|2.5.1\r".encode()


def client(port: int, read_timeout_s: float = 2.0) -> MllpClient:
    return MllpClient("127.0.0.1", port, connect_timeout_s=2.0, read_timeout_s=read_timeout_s)


def echo_ack(code: str = "AA") -> Callable[[int, bytes], bytes]:
    return lambda _n, msg: ack(code, control_id_of(msg))


# --------------------------------------------------------------------------- framing / ACKs


def test_frame_wraps_and_refuses_block_characters() -> None:
    assert frame(b"MSH|x\r") == b"\x0bMSH|x\r\x1c\x0d"
    with pytest.raises(ValueError, match="0x0B or 0x1C"):
        frame(b"MSH|\x1c")


def test_parse_ack_reads_msa_and_err_text() -> None:
    a = parse_ack(ack("AR", "C1", "Unknown \\T\\ patient", "Field PID-3 \\F\\ invalid"))
    assert a == AckResult("AR", "C1", "Unknown & patient; Field PID-3 | invalid")
    old_style = b"MSH|^~\\&|E|H\rMSA|AE|C2\rERR|PID^1^3^204&Unknown key identifier\r"
    assert parse_ack(old_style) == AckResult("AE", "C2", "Unknown key identifier")
    with pytest.raises(Hl7DeliveryError, match="no MSA") as info:
        parse_ack(b"MSH|^~\\&|E|H\r")
    assert info.value.retryable


@pytest.mark.parametrize(
    ("code", "retryable"), [("AE", True), ("CE", True), ("AR", False), ("CR", False), ("ZZ", True)]
)
def test_check_ack_classification(code: str, retryable: bool) -> None:
    with pytest.raises(Hl7DeliveryError) as info:
        check_ack(AckResult(code, "C1", "why"), "C1")
    assert info.value.retryable is retryable
    assert info.value.ack_code == code


@pytest.mark.parametrize("code", ["AA", "CA"])
def test_check_ack_accepts(code: str) -> None:
    assert check_ack(AckResult(code, "C1"), "C1").ack_code == code


def test_check_ack_wrong_control_id_is_retryable() -> None:
    with pytest.raises(Hl7DeliveryError, match="ACK for message OTHER") as info:
        check_ack(AckResult("AA", "OTHER"), "C1")
    assert info.value.retryable


# --------------------------------------------------------------------------- the client


def test_one_connection_is_reused(peer_factory: Callable[..., ScriptedPeer]) -> None:
    peer = peer_factory(echo_ack())
    with client(peer.port) as c:
        for i in range(3):
            assert c.send(message(f"M{i}"), f"M{i}").ack_code == "AA"
        assert c.connections_opened == 1
    assert [control_id_of(m) for m in peer.received] == ["M0", "M1", "M2"]
    assert peer.connections == 1


def test_peer_closing_after_each_message_gets_each_once(
    peer_factory: Callable[..., ScriptedPeer],
) -> None:
    peer = peer_factory(echo_ack(), close_after_each=True)
    with client(peer.port) as c:
        for i in range(5):
            assert c.send(message(f"M{i}"), f"M{i}").ack_code == "AA"
    assert [control_id_of(m) for m in peer.received] == [f"M{i}" for i in range(5)]


def test_ack_in_small_pieces_is_reassembled(peer_factory: Callable[..., ScriptedPeer]) -> None:
    class Dribble(ScriptedPeer):
        def _handle(self, conn: socket.socket) -> None:
            with conn:
                buf = b""
                while EB not in buf:
                    buf += conn.recv(65536)
                reply = SB + ack("AA", control_id_of(buf[1:])) + EB
                for i in range(len(reply)):
                    conn.sendall(reply[i : i + 1])
                self.received.append(buf)

    peer = Dribble(echo_ack())
    try:
        with client(peer.port) as c:
            assert c.send(message("D1"), "D1").ack_code == "AA"
    finally:
        peer.close()


def test_silent_peer_times_out_retryable(peer_factory: Callable[..., ScriptedPeer]) -> None:
    peer = peer_factory(lambda _n, _m: None)
    c = client(peer.port, read_timeout_s=0.3)
    with pytest.raises(Hl7DeliveryError, match="no ACK within") as info:
        c.send(message("T1"), "T1")
    assert info.value.retryable and info.value.ack_code is None
    assert not c.connected  # a late ACK can never be read as the next message's answer


def test_wrong_control_id_closes_and_is_retryable(
    peer_factory: Callable[..., ScriptedPeer],
) -> None:
    peer = peer_factory(lambda _n, _m: ack("AA", "SOMETHING-ELSE"))
    c = client(peer.port)
    with pytest.raises(Hl7DeliveryError) as info:
        c.send(message("W1"), "W1")
    assert info.value.retryable
    assert not c.connected


def test_reject_carries_the_text_apart(peer_factory: Callable[..., ScriptedPeer]) -> None:
    peer = peer_factory(lambda _n, m: ack("AR", control_id_of(m), "Patient unknown"))
    with pytest.raises(Hl7DeliveryError, match=r"R1 rejected \(AR\)") as info:
        client(peer.port).send(message("R1"), "R1")
    assert info.value.retryable is False
    assert info.value.ack_code == "AR"
    assert info.value.peer_text == "Patient unknown" and "unknown" not in str(info.value)


def test_peer_closing_without_answer_on_fresh_connection(
    peer_factory: Callable[..., ScriptedPeer],
) -> None:
    peer = peer_factory(lambda _n, _m: b"")
    with pytest.raises(Hl7DeliveryError, match="without an ACK") as info:
        client(peer.port).send(message("X1"), "X1")
    assert info.value.retryable
    assert len(peer.received) == 1  # a fresh connection is not retried within the call


def test_unframed_answer_is_retryable(peer_factory: Callable[..., ScriptedPeer]) -> None:
    peer = peer_factory(lambda _n, m: b"RAW:garbage" + EB)
    with pytest.raises(Hl7DeliveryError, match="not MLLP-framed") as info:
        client(peer.port).send(message("G1"), "G1")
    assert info.value.retryable


def test_connection_refused_is_retryable() -> None:
    port = free_port()
    with pytest.raises(Hl7DeliveryError, match="cannot connect") as info:
        client(port).send(message("C1"), "C1")
    assert info.value.retryable


def test_client_validates_its_parameters() -> None:
    with pytest.raises(ValueError, match="port"):
        MllpClient("127.0.0.1", 0)
    with pytest.raises(ValueError, match="timeout"):
        MllpClient("127.0.0.1", 2575, read_timeout_s=0)


# --------------------------------------------------------------------------- transports


class FakeTransport:
    def __init__(self, outcomes: list[AckResult | Hl7DeliveryError]) -> None:
        self.outcomes = outcomes
        self.sent: list[tuple[bytes, str]] = []
        self.closed = 0

    def send(self, message: bytes, control_id: str) -> AckResult:
        self.sent.append((message, control_id))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def close(self) -> None:
        self.closed += 1


def oru(charset: str = "UNICODE UTF-8", name: str = "Doe^Jane") -> OruMessage:
    from integrations.hl7 import build_oru

    return build_oru(
        F.result(),
        F.study(patient_name=name),
        F.endpoint(charset=charset),
        control_id="DLV1",
        sr_uid=None,
        seg_uids=(),
        pdf=None,
        observed_at=F.OBSERVED_AT,
    )


def test_fake_transport_satisfies_the_protocol() -> None:
    assert isinstance(FakeTransport([]), Hl7Transport)
    assert isinstance(FolderSink("."), Hl7Transport)
    assert isinstance(client(2575), Hl7Transport)


def test_rejection_text_is_kept_apart_from_the_message() -> None:
    """An EMR's AR/AE text may name the patient: it is on the error, not in its message."""
    for code, retryable in (("AR", False), ("AE", True)):
        with pytest.raises(Hl7DeliveryError) as info:
            check_ack(AckResult(code, "DLV1", "Unknown patient PHI^SENTINEL"), "DLV1")
        assert info.value.retryable is retryable and info.value.ack_code == code
        assert "SENTINEL" not in str(info.value) and "DLV1" in str(info.value)
        assert info.value.peer_text == "Unknown patient PHI^SENTINEL"


def test_folder_endpoint_writes_file(tmp_path: Path) -> None:
    endpoint = F.endpoint(kind="folder", folder=str(tmp_path / "out"), host=None, port=None)
    assert isinstance(transport_for(endpoint), FolderSink)
    msg = oru()
    sink = transport_for(endpoint)
    first = sink.send(msg.encode(), msg.control_id)
    again = sink.send(msg.encode(), msg.control_id)  # a retry replaces, never duplicates
    assert first.ack_code == again.ack_code == "AA"
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["DLV1.hl7"]
    assert (tmp_path / "out" / "DLV1.hl7").read_bytes() == msg.encode()


def test_folder_sink_io_error_is_retryable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(Hl7DeliveryError) as info:
        FolderSink(blocker / "sub").send(b"MSH|x\r", "C1")
    assert info.value.retryable


def test_mllp_endpoint_gets_a_client() -> None:
    t = transport_for(F.endpoint(connect_timeout_s=3, read_timeout_s=4))
    assert isinstance(t, MllpClient)
    assert (t.host, t.port, t.connect_timeout_s, t.read_timeout_s) == ("127.0.0.1", 2575, 3, 4)
    assert t.tls_context is None
