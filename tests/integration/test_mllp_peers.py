"""The MLLP client and the ORU against independent HL7 implementations on 127.0.0.1.

Peers: python-hl7's asyncio MLLP server (``hl7.mllp.start_hl7_server``; keeps connections
open) and hl7apy's ``MLLPServer`` (answers one message per connection, then closes it). The
message is checked with python-hl7's parser, not with the library that built it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import hl7
import hl7.mllp
import pytest
from hl7apy.mllp import AbstractHandler, MLLPServer

from integrations.hl7 import MllpClient, OruMessage, build_oru
from tests.hl7_attempt import DeliveryOutcome, deliver
from tests.hl7_server import Hl7ServerThread
from tests.peers import free_port
from tests.unit.integrations import hl7_fakes as F

pytestmark = pytest.mark.integration

Responder = Callable[[int, hl7.Message], str | None]


class PythonHl7Peer(Hl7ServerThread):
    """python-hl7's asyncio MLLP server in a thread; ``responder`` returns the ACK text or
    None to stay silent."""

    def __init__(self, responder: Responder, **server_kwargs: Any) -> None:
        self.responder = responder
        self.received: list[hl7.Message] = []
        self.connections = 0
        super().__init__(**server_kwargs)

    async def _handle(self, reader: Any, writer: Any) -> None:
        self.connections += 1
        try:
            while True:
                message = await reader.readmessage()
                self.received.append(message)
                reply = self.responder(len(self.received), message)
                if reply is None:
                    continue
                writer.writeblock(reply.encode("utf-8"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def ack_text(message: hl7.Message, code: str, text: str = "") -> str:
    ack = message.create_ack(code, message_id="ACK1")
    out = str(ack)
    if text:
        out = out.replace(
            f"MSA|{code}|{message.segment('MSH')(10)}",
            f"MSA|{code}|{message.segment('MSH')(10)}|{text}",
        )
    return out + "\r"


@pytest.fixture
def python_hl7_peer() -> Iterator[Callable[[Responder], PythonHl7Peer]]:
    peers: list[PythonHl7Peer] = []

    def make(responder: Responder) -> PythonHl7Peer:
        peers.append(PythonHl7Peer(responder))
        return peers[-1]

    yield make
    for p in peers:
        p.close()


NAMES = {
    "korean": "Hong^Gildong=洪^吉洞=홍^길동",
    "delimiters": "O'Neil^Ann&Bo^Jo~Jr",
    "accents": "Müller-Lüdenscheidt^José^Ærø",
}


def oru(control_id: str, name: str = NAMES["korean"], **study: Any) -> OruMessage:
    return build_oru(
        F.result(),
        F.study(patient_name=name, **study),
        F.endpoint(),
        control_id=control_id,
        sr_uid="1.2.826.0.1.3680043.8.498.200",
        seg_uids=("1.2.826.0.1.3680043.8.498.301",),
        pdf=None,
        observed_at=F.OBSERVED_AT,
    )


def endpoint(port: int, read_timeout_s: float = 5.0) -> Any:
    return F.endpoint(port=port, read_timeout_s=read_timeout_s, connect_timeout_s=5.0)


def retry_until_done(message: OruMessage, ep: Any, client: MllpClient, attempts: int = 5) -> Any:
    """What the outbox does (without the backoff delay)."""
    results = []
    for _ in range(attempts):
        results.append(deliver(message, ep, client))
        if results[-1].outcome is not DeliveryOutcome.RETRY:
            break
    return results


def test_message_arrives_and_parses_in_python_hl7(
    python_hl7_peer: Callable[[Responder], PythonHl7Peer],
) -> None:
    peer = python_hl7_peer(lambda _n, m: ack_text(m, "AA"))
    ep = endpoint(peer.port)
    with MllpClient.from_endpoint(ep) as client:
        for i, (case, name) in enumerate(NAMES.items()):
            result = deliver(
                oru(f"N{i}", name, patient_id=f"ID^{case}&x", accession_number="ACC|7"),
                ep,
                client,
            )
            assert result.outcome is DeliveryOutcome.DELIVERED and result.ack_code == "AA"
        assert client.connections_opened == 1
    assert peer.connections == 1
    assert len(peer.received) == len(NAMES)
    for (case, name), got in zip(NAMES.items(), peer.received, strict=True):
        pid = got.segment("PID")
        family, given = name.split("=")[0].split("^")[:2]
        assert got.unescape(str(pid(5)(1)(1))) == family
        assert got.unescape(str(pid(5)(1)(2))) == given
        assert got.unescape(str(pid(3)(1)(1))) == f"ID^{case}&x"
        assert str(pid(3)(1)(4)) == "HOSP"
        assert str(pid(7)) == "19800229"
        assert str(pid(8)) == "F"
        obr = got.segment("OBR")
        assert got.unescape(str(obr(18))) == "ACC|7"
        assert str(obr(2)) == "PL-7" and str(obr(3)) == "FI-9"
        assert str(obr(25)) == "F"
        study_rows = [s for s in got if str(s[0]) == "OBX" and str(s(3)(1)(1)) == "113014"]
        assert [str(s(5)) for s in study_rows] == ["1.2.826.0.1.3680043.8.498.100"]
    korean = peer.received[0].segment("PID")(5)
    assert str(korean[2](1)) + str(korean[2](2)) == "홍길동"
    assert str(korean[1](1)) + str(korean[1](2)) == "洪吉洞"


def test_ae_then_aa_is_retried_then_delivered(
    python_hl7_peer: Callable[[Responder], PythonHl7Peer],
) -> None:
    peer = python_hl7_peer(lambda n, m: ack_text(m, "AE" if n == 1 else "AA", "busy"))
    ep = endpoint(peer.port)
    with MllpClient.from_endpoint(ep) as client:
        results = retry_until_done(oru("AEAA1"), ep, client)
    assert [r.outcome for r in results] == [DeliveryOutcome.RETRY, DeliveryOutcome.DELIVERED]
    assert [r.ack_code for r in results] == ["AE", "AA"]
    assert "busy" in results[0].detail
    assert [str(m.segment("MSH")(10)) for m in peer.received] == ["AEAA1", "AEAA1"]


def test_ar_is_dead_lettered_with_the_text(
    python_hl7_peer: Callable[[Responder], PythonHl7Peer],
) -> None:
    peer = python_hl7_peer(lambda _n, m: ack_text(m, "AR", "Unknown patient identifier"))
    ep = endpoint(peer.port)
    with MllpClient.from_endpoint(ep) as client:
        results = retry_until_done(oru("AR1"), ep, client)
    assert [r.outcome for r in results] == [DeliveryOutcome.DEAD_LETTER]
    assert results[0].ack_code == "AR"
    assert "Unknown patient identifier" in results[0].detail
    assert len(peer.received) == 1


def test_silent_peer_times_out_and_is_retried(
    python_hl7_peer: Callable[[Responder], PythonHl7Peer],
) -> None:
    peer = python_hl7_peer(lambda _n, _m: None)
    ep = endpoint(peer.port, read_timeout_s=0.5)
    with MllpClient.from_endpoint(ep) as client:
        results = retry_until_done(oru("SIL1"), ep, client, attempts=2)
    assert [r.outcome for r in results] == [DeliveryOutcome.RETRY, DeliveryOutcome.RETRY]
    assert all("no ACK within" in r.detail and r.ack_code is None for r in results)
    assert len(peer.received) == 2
    assert peer.connections == 2  # the timed-out connection is not reused


class _Collector:
    """State shared with hl7apy's handler class (it gets only the message)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.lock = threading.Lock()


class _AckHandler(AbstractHandler):  # type: ignore[misc]
    def __init__(self, message: str, collector: _Collector) -> None:
        super().__init__(message)
        self.collector = collector

    def reply(self) -> str:
        with self.collector.lock:
            self.collector.received.append(self.incoming_message)
        parsed = hl7.parse(self.incoming_message)
        return "\x0b" + str(parsed.create_ack("AA", message_id="A1")) + "\r\x1c\x0d"


@pytest.fixture
def hl7apy_peer() -> Iterator[tuple[int, _Collector]]:
    collector = _Collector()
    port = free_port()
    server = MLLPServer("127.0.0.1", port, {"ORU^R01^ORU_R01": (_AckHandler, collector)}, timeout=5)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield port, collector
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_peer_closing_after_each_message_gets_each_exactly_once(
    hl7apy_peer: tuple[int, _Collector],
) -> None:
    port, collector = hl7apy_peer
    ep = endpoint(port)
    ids = [f"CL{i}" for i in range(6)]
    with MllpClient.from_endpoint(ep) as client:
        results = [deliver(oru(cid), ep, client) for cid in ids]
        assert client.connections_opened >= 2  # it really reconnected
    assert [r.outcome for r in results] == [DeliveryOutcome.DELIVERED] * len(ids)
    got = [str(hl7.parse(m).segment("MSH")(10)) for m in collector.received]
    assert got == ids
    last = hl7.parse(collector.received[-1])
    assert hl7.parse(collector.received[0]).unescape(str(last.segment("PID")(5)(3)(1))) == "홍"
