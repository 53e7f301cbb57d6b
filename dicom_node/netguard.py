"""Bounded network input for DermNode's listener: deadlines and size limits on every PDU.

pynetdicom reads a PDU (PS3.8 §9.3) as a 6-byte header then ``length`` bytes, each with a
blocking ``recv`` on a socket that has no timeout; it advertises the Maximum Length
(PS3.8 D.1) but never checks it on receive; and it counts a TCP connection that has not yet
sent its A-ASSOCIATE-RQ against ``maximum_associations``. So a peer that sends three bytes
held a thread and a slot forever, and a peer that declared a 4 GB PDU made the node buffer it.
This module replaces pynetdicom's server seam (``AssociationServer.get_request`` /
``verify_request``, ``RequestHandler._create_association``) and its socket wrapper
(``AssociationSocket.ready`` / ``recv``) with bounded versions:

====================================  ==============================================
Limit                                  What happens when it is exceeded
====================================  ==============================================
``association_request_timeout_s``      TLS handshake, then the whole A-ASSOCIATE-RQ, must
                                       arrive within this time of the connection; else the
                                       connection is closed (no slot is ever taken: only
                                       associations that passed the policy count against
                                       ``max_associations``, see ``DicomNode``)
``pdu_timeout_s``                      every PDU, from its first byte to its last, within
                                       this time (slow-loris, truncated P-DATA); else the
                                       connection is closed (an established association
                                       is aborted)
``maximum_pdu_size``                   a P-DATA-TF PDU declaring more is refused after its
                                       6-byte header, before any of its body is read
:data:`MAX_CONTROL_PDU`                any other PDU (A-ASSOCIATE-RQ ...) declaring more
                                       than 1 MiB is refused the same way
``max_associations`` +                 connections beyond this number are closed at once
``max_pending_connections``            (TCP accepted, then closed; nothing read)
====================================  ==============================================

Idle time *between* PDUs is not bounded here: pynetdicom's own ``network_timeout`` (the
DUL idle timer) and ``acse_timeout`` (ARTIM) handle it, because the reactor only reads once
``select`` says that data is waiting.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
import threading
import time
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from pynetdicom import evt
from pynetdicom._globals import MODE_ACCEPTOR
from pynetdicom.transport import (
    AssociationSocket,
    RequestHandler,
    ThreadedAssociationServer,
)

if TYPE_CHECKING:  # pragma: no cover
    from pynetdicom.association import Association

__all__ = ["MAX_CONTROL_PDU", "GuardedServer", "GuardedSocket", "NetLimits"]

logger = logging.getLogger(__name__)

#: Largest A-ASSOCIATE-RQ/AC/RJ, A-RELEASE or A-ABORT PDU accepted (bytes). A request with
#: 128 presentation contexts of 12 transfer syntaxes each is about 50 kB.
MAX_CONTROL_PDU = 1024 * 1024
_P_DATA_TF = 0x04
_PDU_TYPES = frozenset(range(0x01, 0x08))
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class NetLimits:
    """The limits of the module docstring (seconds, bytes, counts)."""

    association_request_timeout_s: float = 5.0
    pdu_timeout_s: float = 60.0
    maximum_pdu_size: int = 1024 * 1024
    max_associations: int = 10
    max_pending_connections: int = 20

    def __post_init__(self) -> None:
        if self.association_request_timeout_s <= 0 or self.pdu_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if self.maximum_pdu_size < 1 or self.max_associations < 1:
            raise ValueError("maximum_pdu_size and max_associations must be positive")
        if self.max_pending_connections < 1:
            raise ValueError("max_pending_connections must be positive")

    @property
    def max_connections(self) -> int:
        """Open connections (associations and pending requests) at most."""
        return self.max_associations + self.max_pending_connections


def _peer(sock: socket.socket | None) -> str:
    try:
        return str(sock.getpeername()[0]) if sock is not None else "?"
    except OSError:
        return "?"


class GuardedSocket(AssociationSocket):
    """An acceptor's :class:`~pynetdicom.transport.AssociationSocket` with deadlines and limits.

    Parameters
    ----------
    assoc
        The association (acceptor).
    client_socket
        The accepted (and, with TLS, handshaken) socket.
    limits
        The limits.
    opened
        ``time.monotonic()`` when the connection was accepted.
    """

    def __init__(
        self,
        assoc: Association,
        client_socket: socket.socket,
        limits: NetLimits,
        opened: float | None = None,
    ) -> None:
        super().__init__(assoc, client_socket=client_socket)
        self.limits = limits
        self.request_deadline = (
            time.monotonic() if opened is None else opened
        ) + limits.association_request_timeout_s
        self.request_received = False  # the first complete PDU (the A-ASSOCIATE-RQ) is in
        self._body: tuple[int, float] | None = None  # (PDU type, deadline) of a body to read
        self._given_up = False
        self.closed_reason: str | None = None
        client_socket.settimeout(limits.pdu_timeout_s)

    def _give_up(self, reason: str) -> None:
        """Log once and let the state machine close the connection (Evt17)."""
        if self._given_up:
            return
        self._given_up = True
        self.closed_reason = reason
        logger.warning("connection from %s closed: %s", _peer(self.socket), reason)

    @property
    def ready(self) -> bool:
        """Data waiting; a request not complete by its deadline closes the connection."""
        if self._given_up:
            return False
        if not self.request_received and time.monotonic() > self.request_deadline:
            self._give_up(
                "no complete A-ASSOCIATE-RQ within "
                f"{self.limits.association_request_timeout_s:g} s of connecting"
            )
            self.event_queue.put("Evt17")
            return False
        return bool(super().ready)

    def recv(self, nr_bytes: int) -> bytearray:
        """Read a PDU header (6 bytes) or body, within its deadline and length limit.

        A short result makes pynetdicom's DUL report the transport closed (Evt17): a header
        that declares too long a PDU, or data that did not arrive in time, returns short.
        """
        if self._given_up:
            return bytearray()
        if self._body is None:
            deadline = time.monotonic() + self.limits.pdu_timeout_s
            if not self.request_received:
                deadline = min(deadline, self.request_deadline)
            data = self._read(nr_bytes, deadline)
            if len(data) != 6 or nr_bytes != 6:
                return data
            pdu_type, _, length = struct.unpack(">BBL", data)
            if pdu_type not in _PDU_TYPES:
                return data  # pynetdicom reports it (Evt19, A-ABORT)
            limit = self.limits.maximum_pdu_size if pdu_type == _P_DATA_TF else MAX_CONTROL_PDU
            if length > limit:
                self._give_up(
                    f"PDU type 0x{pdu_type:02X} declares {length} bytes, more than the "
                    f"{limit} accepted"
                )
                return bytearray()
            self._body = (pdu_type, deadline)
            return data
        _, deadline = self._body
        self._body = None
        data = self._read(nr_bytes, deadline)
        if len(data) == nr_bytes:
            self.request_received = True
        return data

    def _read(self, nr_bytes: int, deadline: float) -> bytearray:
        sock = cast(socket.socket, self.socket)
        out = bytearray()
        try:
            while len(out) < nr_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                chunk = sock.recv(min(_CHUNK, nr_bytes - len(out)))
                if not chunk:
                    break  # closed by the peer: pynetdicom sees a short read
                out.extend(chunk)
        except TimeoutError:
            what = "A-ASSOCIATE-RQ" if not self.request_received else "PDU"
            self._give_up(f"{what} not received in time ({len(out)} of {nr_bytes} bytes)")
            return bytearray()
        except OSError:
            return bytearray()
        finally:
            try:
                sock.settimeout(self.limits.pdu_timeout_s)  # also bounds each send
            except OSError:
                pass
        return out


class GuardedRequestHandler(RequestHandler):
    """Per connection: TLS handshake within the request deadline, then a guarded association.

    Runs in the connection's own thread (the TLS handshake is never done by the accept loop).
    """

    server: GuardedServer

    def handle(self) -> None:
        """Finish TLS, build the association on a :class:`GuardedSocket`, start it."""
        opened = time.monotonic()
        sock = cast(socket.socket, self.request)
        limits = self.server.limits
        try:
            if isinstance(sock, ssl.SSLSocket):
                sock.settimeout(limits.association_request_timeout_s)
                try:
                    sock.do_handshake()
                except (ssl.SSLError, OSError) as exc:
                    reason = getattr(exc, "reason", None) or type(exc).__name__
                    logger.warning(
                        "TLS handshake from %s failed: %s", self.client_address[0], reason
                    )
                    self.server.shutdown_request(sock)
                    return
            assoc = self._create_guarded_association(opened)
            evt.trigger(assoc, evt.EVT_CONN_OPEN, {"address": self.client_address})
            assoc.start()
        finally:
            self.server.connection_done()

    def _create_guarded_association(self, opened: float) -> Association:
        """As pynetdicom's ``RequestHandler._create_association``, on a :class:`GuardedSocket`."""
        from pynetdicom.association import Association

        limits = self.server.limits
        assoc = Association(self.ae, MODE_ACCEPTOR)
        assoc._server = self.server
        assoc.name = f"AcceptorThread@{datetime.now():%Y%m%d%H%M%S}"
        # Waiting for the A-ASSOCIATE-RQ (and ARTIM) is bounded by the request deadline; the
        # node puts the configured ACSE timeout back once the request passed its policy.
        assoc.acse_timeout = limits.association_request_timeout_s
        sock = GuardedSocket(assoc, cast(socket.socket, self.request), limits, opened)
        assoc.set_socket(sock)
        _contain_protocol_errors(assoc, sock)
        assoc.acceptor.maximum_length = self.ae.maximum_pdu_size
        assoc.acceptor.ae_title = self.server.ae_title
        assoc.acceptor.address_info = self.local
        assoc.acceptor.implementation_class_uid = self.ae.implementation_class_uid
        assoc.acceptor.implementation_version_name = self.ae.implementation_version_name
        assoc.acceptor.supported_contexts = deepcopy(self.server.contexts)
        assoc.requestor.address_info = self.remote
        handlers = cast(dict[Any, Any], self.server._handlers)
        for event, bound in handlers.items():
            if event.is_intervention and bound:
                assoc.bind(event, *bound)
            elif isinstance(event, evt.NotificationEvent):
                for handler in bound:
                    assoc.bind(event, handler[0], handler[1])
        return assoc


def _contain_protocol_errors(assoc: Association, sock: GuardedSocket) -> None:
    """End the connection instead of crashing the DUL thread on an invalid state event.

    A peer that sends garbage right after its A-ASSOCIATE-RQ gets an A-ABORT (Sta13) while
    the acceptor's answer is still queued (Evt7): pynetdicom's state machine then raises
    ``InvalidEventError`` in the DUL thread, which dies with a traceback on stderr. Here the
    error is logged as a protocol error and the DUL stopped; the association sees its DUL
    gone and ends, and the socket is closed (PS3.8 §9.2: the connection is dropped).
    """
    from pynetdicom.fsm import InvalidEventError

    fsm = assoc.dul.state_machine
    do_action = fsm.do_action

    def guarded(event: str) -> None:
        try:
            do_action(event)
        except InvalidEventError:
            logger.warning(
                "protocol error from %s (%s in %s): connection closed",
                _peer(sock.socket),
                event,
                fsm.current_state,
            )
            sock._given_up = True
            with contextlib.suppress(Exception):  # already closed
                sock.close()
            assoc.dul.kill_dul()

    fsm.do_action = guarded  # type: ignore[method-assign]


class GuardedServer(ThreadedAssociationServer):
    """pynetdicom's threaded server with :class:`NetLimits` and a deferred TLS handshake.

    Parameters
    ----------
    ae, address, ae_title, contexts, evt_handlers
        As :class:`pynetdicom.transport.AssociationServer`.
    limits
        The limits.
    tls_context
        A server :class:`ssl.SSLContext` for inbound TLS, or ``None``.
    """

    daemon_threads = True

    def __init__(
        self,
        ae: Any,
        address: tuple[str, int],
        ae_title: str,
        contexts: list[Any],
        ssl_context: ssl.SSLContext | None = None,
        evt_handlers: list[Any] | None = None,
        *,
        limits: NetLimits,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.limits = limits
        self.tls_context = tls_context
        self._pending = 0
        self._lock = threading.Lock()
        self.refused = 0
        super().__init__(
            ae,
            address,
            ae_title,
            contexts,
            None,
            evt_handlers=evt_handlers,
            request_handler=GuardedRequestHandler,
        )

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        """Accept; with TLS wrap the socket but leave the handshake to the connection thread."""
        sock = cast(socket.socket, self.socket)
        client, address = sock.accept()
        if self.tls_context is not None:
            client = self.tls_context.wrap_socket(
                client, server_side=True, do_handshake_on_connect=False
            )
        return client, address

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Refuse a connection beyond ``max_associations + max_pending_connections``."""
        acceptors = sum(1 for a in self.ae.active_associations if a.is_acceptor)
        with self._lock:
            if acceptors + self._pending >= self.limits.max_connections:
                self.refused += 1
                refuse = True
            else:
                self._pending += 1
                refuse = False
        if refuse:
            logger.warning(
                "connection from %s refused: %d connections open (limit %d)",
                client_address[0],
                acceptors + self._pending,
                self.limits.max_connections,
            )
        return not refuse

    def connection_done(self) -> None:
        """The connection thread handed over to its association thread (or gave up)."""
        with self._lock:
            self._pending = max(0, self._pending - 1)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log an error of a connection thread by type only (no traceback, no data)."""
        import sys

        exc = sys.exc_info()[1]
        logger.error(
            "connection from %s failed: %s",
            client_address[0] if client_address else "?",
            type(exc).__name__,
        )
