"""MLLP client: HL7 v2 messages to an EMR over TCP (optionally TLS), ACK-checked.

Framing (HL7 v2 MLLP release 1, the Minimal Lower Layer Protocol)::

    0x0B <message bytes> 0x1C 0x0D

The client keeps one connection and reuses it while the peer keeps it open. Before each
message it checks whether the idle connection became readable (the peer closed it, or sent
something unasked); if so it reconnects. Some EMR engines close the connection after every
ACK; when the peer closes a reused connection before a single ACK byte came back, the message
is sent once more on a new connection (the receiver can recognise a repeat by MSH-10).

ACK rules (MSA-1, HL7 table 0008; ``docs/hl7-profile.md``):

=============================  =========================================================
``AA`` / ``CA``                delivered: :class:`AckResult`
``AE`` / ``CE``                :class:`Hl7DeliveryError`, ``retryable=True``
``AR`` / ``CR``                :class:`Hl7DeliveryError`, ``retryable=False``, MSA-3/ERR text
no ACK, timeout, closed        :class:`Hl7DeliveryError`, ``retryable=True``
MSA-2 is another control ID    :class:`Hl7DeliveryError`, ``retryable=True``
TLS handshake cut off          :class:`Hl7DeliveryError`, ``retryable=True``
TLS refused, PEM unusable      :class:`Hl7DeliveryError`, ``retryable=False``
=============================  =========================================================

A TLS refusal is configuration, not bad luck: the EMR's certificate fails verification
against ``ca_file`` (unknown CA, wrong host name, expired), the EMR refuses the handshake with
an alert (our client certificate or its absence, protocol version; with TLS 1.3 the client
certificate alert arrives on the first read), or the PEM files cannot be loaded. Retrying
cannot help until an administrator fixes it, so the message is dead-lettered at once (the same
rule as the DICOM delivery). A handshake that is cut off (reset, EOF, timeout, a peer that does
not speak TLS) is retried like any network failure.

After any error the connection is closed, so a late ACK can never be read as the answer to
the next message. Nothing here logs message content: only control IDs, ACK codes and timings.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
import time
from types import TracebackType

from config.settings import Hl7EndpointSettings, TlsSettings
from integrations.errors import Hl7DeliveryError
from integrations.hl7.escape import unescape
from integrations.hl7.oru import codec_for_charset
from integrations.hl7.transport import AckResult
from integrations.tls import TLS_HINT, client_context, is_tls_refusal

__all__ = [
    "END_BLOCK",
    "START_BLOCK",
    "MllpClient",
    "check_ack",
    "frame",
    "parse_ack",
    "ssl_context",
]

logger = logging.getLogger(__name__)

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
_RECV_SIZE = 65536
_MAX_ACK_BYTES = 1 << 20

_ACCEPT = frozenset({"AA", "CA"})
_ERROR = frozenset({"AE", "CE"})
_REJECT = frozenset({"AR", "CR"})


class _PeerClosed(Exception):
    """The peer closed the connection before any ACK byte arrived."""


def frame(message: bytes) -> bytes:
    """Wrap *message* in MLLP start and end blocks.

    Raises
    ------
    ValueError
        The message itself holds a start (0x0B) or end (0x1C) block byte.
    """
    if START_BLOCK in message or b"\x1c" in message:
        raise ValueError("message must not contain the MLLP block characters 0x0B or 0x1C")
    return START_BLOCK + message + END_BLOCK


def ssl_context(tls: TlsSettings) -> ssl.SSLContext | None:
    """The client TLS context for *tls* (:func:`integrations.tls.client_context`), or None
    when TLS is off."""
    return client_context(tls) if tls.enabled else None


def _fields(segment: str, sep: str) -> list[str]:
    return segment.split(sep)


def parse_ack(payload: bytes, *, encoding: str = "utf-8") -> AckResult:
    """Read MSA-1, MSA-2 and the error text (MSA-3, ERR) from an ACK message.

    Parameters
    ----------
    payload
        The message between the MLLP blocks.
    encoding
        Python codec to decode it (undecodable bytes are replaced).

    Raises
    ------
    Hl7DeliveryError
        ``retryable=True``: the answer has no MSH or MSA segment.
    """
    text = payload.decode(encoding, errors="replace")
    segments = [s for s in text.replace("\n", "\r").split("\r") if s.strip()]
    if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 8:
        raise Hl7DeliveryError("the answer is not an HL7 message (no MSH)", retryable=True)
    sep = segments[0][3]
    component = segments[0][4]
    msa = next((s for s in segments if s.startswith("MSA" + sep)), None)
    if msa is None:
        raise Hl7DeliveryError("the answer has no MSA segment", retryable=True)
    fields = _fields(msa, sep)
    code = fields[1].strip().upper() if len(fields) > 1 else ""
    control_id = fields[2].strip() if len(fields) > 2 else ""
    parts: list[str] = []
    if len(fields) > 3 and fields[3].strip():
        parts.append(unescape(fields[3].strip()))
    for err in (s for s in segments if s.startswith("ERR" + sep)):
        ef = _fields(err, sep)
        # v2.5+: ERR-8 user message, ERR-7 diagnostics, ERR-3 error code (CWE: code^text);
        # v2.4 and older: ERR-1 (ELD: segment^sequence^field^code&text).
        for index in (8, 7, 3, 1):
            if len(ef) > index and ef[index].strip():
                value = ef[index]
                if index in (3, 1):
                    comps = value.split(component)
                    value = next((c for c in reversed(comps) if c.strip()), "")
                    value = value.split(segments[0][7] if len(segments[0]) > 7 else "&")[-1]
                parts.append(unescape(value.strip()))
                break
    unique = list(dict.fromkeys(p for p in parts if p))
    return AckResult(code, control_id, "; ".join(unique))


def check_ack(ack: AckResult, control_id: str) -> AckResult:
    """Classify *ack* for the message *control_id* (module table); return it when accepted.

    Raises
    ------
    Hl7DeliveryError
        The ACK is not an acceptance, with ``retryable`` and ``ack_code`` set.
    """
    if ack.control_id != control_id:
        raise Hl7DeliveryError(
            f"ACK for message {ack.control_id or '(none)'} while {control_id} was sent",
            retryable=True,
            ack_code=ack.ack_code or None,
        )
    if ack.ack_code in _ACCEPT:
        return ack
    # The EMR's text may quote the patient: kept apart from the message (peer_text).
    if ack.ack_code in _REJECT:
        raise Hl7DeliveryError(
            f"message {control_id} rejected ({ack.ack_code})",
            retryable=False,
            ack_code=ack.ack_code,
            peer_text=ack.text,
        )
    if ack.ack_code in _ERROR:
        raise Hl7DeliveryError(
            f"message {control_id} not processed ({ack.ack_code})",
            retryable=True,
            ack_code=ack.ack_code,
            peer_text=ack.text,
        )
    raise Hl7DeliveryError(
        f"message {control_id}: unknown acknowledgement code {ack.ack_code!r}",
        retryable=True,
        ack_code=ack.ack_code or None,
    )


class MllpClient:
    """An MLLP connection to one EMR endpoint, reused across messages (thread-safe).

    Parameters
    ----------
    host, port
        The EMR's MLLP listener.
    connect_timeout_s
        Limit for the TCP connect and the TLS handshake.
    read_timeout_s
        Limit for the whole ACK to arrive after the message was sent.
    tls_context
        A client TLS context (:func:`ssl_context`), or None for plain TCP.
    tls
        TLS settings to build the context from at the first connection, when *tls_context*
        is None (so a missing or broken PEM file is a non-retryable delivery error of each
        send, not an exception when the client is made).
    encoding
        Python codec used to decode ACKs (the endpoint's charset).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
        tls: TlsSettings | None = None,
        encoding: str = "utf-8",
    ) -> None:
        if not host:
            raise ValueError("host must not be empty")
        if not 1 <= port <= 65535:
            raise ValueError(f"port must be 1-65535, got {port}")
        if connect_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError("connect_timeout_s and read_timeout_s must be positive")
        self.host = host
        self.port = port
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.tls_context = tls_context
        self.tls = tls if tls is not None and tls.enabled else None
        self.encoding = encoding
        self.connections_opened = 0
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_endpoint(cls, endpoint: Hl7EndpointSettings) -> MllpClient:
        """A client for an ``mllp`` endpoint of the configuration."""
        if endpoint.kind != "mllp" or endpoint.host is None or endpoint.port is None:
            raise ValueError(f"endpoint {endpoint.name} is not an mllp endpoint with host/port")
        return cls(
            endpoint.host,
            endpoint.port,
            connect_timeout_s=endpoint.connect_timeout_s,
            read_timeout_s=endpoint.read_timeout_s,
            tls=endpoint.tls,
            encoding=codec_for_charset(endpoint.charset),
        )

    def __enter__(self) -> MllpClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """Whether a connection is held open."""
        return self._sock is not None

    def close(self) -> None:
        """Close the connection (the next :meth:`send` opens a new one)."""
        with self._lock:
            self._close()

    def send(self, message: bytes, control_id: str) -> AckResult:
        """Send one message and check its ACK (see the module table).

        Parameters
        ----------
        message
            The encoded message (segments terminated by CR), without MLLP framing.
        control_id
            Its MSH-10; the ACK's MSA-2 must match.

        Returns
        -------
        AckResult
            The accepting ACK (``AA`` or ``CA``).

        Raises
        ------
        Hl7DeliveryError
            Not delivered; ``retryable`` says whether to try again later.
        ValueError
            The message holds an MLLP block character.
        """
        framed = frame(message)
        with self._lock:
            payload = self._exchange_with_reconnect(framed, control_id)
            try:
                ack = check_ack(parse_ack(payload, encoding=self.encoding), control_id)
            except Hl7DeliveryError:
                self._close()
                raise
            return ack

    # ----------------------------------------------------------------------- internals

    def _exchange_with_reconnect(self, framed: bytes, control_id: str) -> bytes:
        reused = self._sock is not None and not self._idle_connection_dead()
        if not reused:
            self._close()
            self._connect()
        try:
            return self._exchange(framed)
        except _PeerClosed:
            self._close()
            if not reused:
                raise Hl7DeliveryError(
                    f"peer closed the connection without an ACK for {control_id}",
                    retryable=True,
                ) from None
            logger.debug("MLLP peer closed the reused connection; sending %s again", control_id)
        self._connect()
        try:
            return self._exchange(framed)
        except _PeerClosed:
            self._close()
            raise Hl7DeliveryError(
                f"peer closed the connection without an ACK for {control_id}", retryable=True
            ) from None

    def _idle_connection_dead(self) -> bool:
        """True when the idle connection is readable: closed by the peer, or holding junk."""
        sock = self._sock
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def _connect(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout_s)
        except TimeoutError as exc:
            raise Hl7DeliveryError(
                f"cannot connect to {self.host}:{self.port} within {self.connect_timeout_s} s",
                retryable=True,
            ) from exc
        except OSError as exc:
            raise Hl7DeliveryError(
                f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}",
                retryable=True,
            ) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls_context is None and self.tls is not None:
            try:
                self.tls_context = ssl_context(self.tls)
            except (OSError, ssl.SSLError) as exc:
                sock.close()
                raise Hl7DeliveryError(
                    f"cannot load the TLS ca_file/cert_file/key_file: {exc}", retryable=False
                ) from exc
        if self.tls_context is not None:
            try:
                sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)
            except ssl.SSLError as exc:
                sock.close()
                raise self._tls_error(exc, "handshake") from exc
            except OSError as exc:
                sock.close()
                raise Hl7DeliveryError(
                    f"TLS handshake with {self.host}:{self.port} failed: {exc}", retryable=True
                ) from exc
        self._sock = sock
        self.connections_opened += 1
        logger.debug("MLLP connected to %s:%s", self.host, self.port)

    def _tls_error(self, exc: ssl.SSLError, stage: str) -> Hl7DeliveryError:
        """The delivery error for a TLS failure: a refusal is not retryable."""
        refused = is_tls_refusal(exc)
        logger.warning(
            "MLLP %s:%s: TLS %s: %s",
            self.host,
            self.port,
            "refused" if refused else f"{stage} failed",
            getattr(exc, "verify_message", None) or exc.reason or exc,
        )
        if refused:
            return Hl7DeliveryError(
                f"TLS refused by or for {self.host}:{self.port} ({TLS_HINT}): {exc}",
                retryable=False,
            )
        return Hl7DeliveryError(
            f"TLS {stage} with {self.host}:{self.port} failed: {exc}", retryable=True
        )

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:  # pragma: no cover - close of a broken socket
                pass

    def _exchange(self, framed: bytes) -> bytes:
        """Send *framed* and read one MLLP block back; on any failure the socket is closed."""
        sock = self._sock
        assert sock is not None
        try:
            sock.settimeout(self.read_timeout_s)
            try:
                sock.sendall(framed)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
                raise _PeerClosed from exc
            return self._read_block(sock)
        except _PeerClosed:
            raise
        except TimeoutError as exc:
            self._close()
            raise Hl7DeliveryError(
                f"no ACK within {self.read_timeout_s} s", retryable=True
            ) from exc
        except Hl7DeliveryError:
            self._close()
            raise
        except ssl.SSLError as exc:
            self._close()
            raise self._tls_error(exc, "connection") from exc
        except OSError as exc:
            self._close()
            raise Hl7DeliveryError(
                f"connection error while waiting for the ACK: {exc.strerror or exc}",
                retryable=True,
            ) from exc

    def _read_block(self, sock: socket.socket) -> bytes:
        deadline = time.monotonic() + self.read_timeout_s
        buffer = b""
        while True:
            end = buffer.find(END_BLOCK)
            if end >= 0:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(_RECV_SIZE)
            except (ConnectionResetError, ConnectionAbortedError) as exc:
                if not buffer:
                    raise _PeerClosed from exc
                raise
            if not chunk:
                if not buffer:
                    raise _PeerClosed
                raise Hl7DeliveryError(
                    "peer closed the connection in the middle of the ACK", retryable=True
                )
            buffer += chunk
            if len(buffer) > _MAX_ACK_BYTES:
                raise Hl7DeliveryError("ACK larger than 1 MiB", retryable=True)
        start = buffer.find(START_BLOCK)
        if start < 0 or start > end or buffer[:start].strip():
            raise Hl7DeliveryError("the answer is not MLLP-framed", retryable=True)
        if buffer[end + len(END_BLOCK) :]:
            # More than one block arrived: the stream is out of step; do not reuse it.
            self._close()
        return buffer[start + 1 : end]
