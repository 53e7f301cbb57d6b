"""Deliver DICOM objects to a destination: C-STORE SCU (PS3.4 B.2) or a local folder.

One association per call. The SCU proposes exactly the presentation contexts the objects need:
one per (SOP Class, Transfer Syntax) pair actually present, each with the object's own transfer
syntax (no transcoding, so a SEG stays bit-packed and an RLE SEG stays RLE). Comprehensive 3D SR
is therefore proposed by its own SOP Class UID, never through a generic "SR" context.

Outcomes (the outbox decides from ``retryable`` whether to try again):

=============================================  =========  ============================
what happened                                  retryable  ``PacsDeliveryError.status``
=============================================  =========  ============================
connection refused / timeout / aborted          yes        None
TLS handshake cut off (reset, EOF, timeout)     yes        None
TLS refused (certificate, alert), PEM unusable  no         None
association rejected, transient (PS3.8 9.3.4)  yes        None
association rejected, permanent                 no         None
presentation context not accepted               no         None
C-STORE status 0xA7xx (out of resources)        yes        the status
C-STORE status 0xA9xx, 0xCxxx, 0x01xx, other    no         the status
C-STORE warning 0x0001, 0xB000, 0xB006, 0xB007  success    -
no C-STORE response (DIMSE timeout, abort)      yes        None
=============================================  =========  ============================

TLS: when ``dest.tls.enabled``, the association runs over TLS with the CA, client certificate
and peer verification of the destination's settings (pynetdicom ``tls_args``). The TCP connect
and the handshake are bounded by ``acse_timeout_s``. A TLS refusal is configuration, not bad
luck: the server's certificate fails verification against ``ca_file`` (unknown CA, wrong host
name, expired), the server refuses the handshake with an alert (our client certificate or its
absence, protocol version), or the PEM files cannot be loaded. That is ``retryable=False``: the
outbox dead-letters the objects at once for an administrator to fix and re-queue. A handshake
that is cut off (reset, EOF, timeout, a peer that does not speak TLS) is retryable like any
network failure. With TLS 1.3 the server checks the client certificate after the client has
finished its handshake; the refusal is then read with the first answer, and a server that
drops the connection without sending its alert looks like a network failure (retried).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.presentation import build_context

from config.settings import DestinationSettings, TlsSettings
from integrations.errors import PacsDeliveryError
from integrations.tls import TLS_HINT, client_context, is_tls_refusal

__all__ = [
    "SendResult",
    "is_retryable_status",
    "is_success_status",
    "send_files",
    "ssl_context",
]

logger = logging.getLogger(__name__)

_WARNING_STATUSES = frozenset({0x0001, 0xB000, 0xB006, 0xB007})


def is_success_status(status: int) -> bool:
    """Success or warning: the object is stored (PS3.4 Table B.2-1)."""
    return status == 0x0000 or status in _WARNING_STATUSES


def is_retryable_status(status: int) -> bool:
    """A refusal that may pass later: out of resources (0xA7xx).

    Everything else that is a failure (data set does not match 0xA9xx, cannot understand
    0xCxxx, SOP class not supported 0x0122, not authorised 0x0124 ...) will fail the same way
    again, so it must not be retried forever.
    """
    return (status & 0xFF00) == 0xA700


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome for one object."""

    sop_class_uid: str
    sop_instance_uid: str
    status: int | None
    error: PacsDeliveryError | None = None
    path: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the destination stored the object."""
        return self.error is None


def ssl_context(tls: TlsSettings) -> ssl.SSLContext:
    """A client TLS context for *tls* (see :func:`integrations.tls.client_context`)."""
    return client_context(tls)


@dataclass(slots=True)
class _TlsTrace:
    """The TLS sockets of one association and the TLS errors seen on them."""

    sockets: list[ssl.SSLSocket] = field(default_factory=list)
    errors: list[ssl.SSLError] = field(default_factory=list)


def _recording_context(dest: DestinationSettings) -> tuple[ssl.SSLContext, _TlsTrace]:
    """The client context of *dest* and the trace its sockets write to.

    pynetdicom logs a failed handshake and reports only "not established"; the socket class
    records the handshake error (and a TLS 1.3 alert that arrives with the first read, which is
    how a refused client certificate shows up) so the outcome can name it. It also keeps the
    socket, which pynetdicom may leave open after a failed association.
    """
    try:
        ctx = ssl_context(dest.tls)
    except (OSError, ssl.SSLError) as exc:
        raise PacsDeliveryError(
            f"destination {dest.name}: cannot load the TLS ca_file/cert_file/key_file: {exc}",
            retryable=False,
        ) from exc
    trace = _TlsTrace()

    class _RecordingSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            trace.sockets.append(self)
            try:
                super().do_handshake(block)
            except ssl.SSLError as exc:
                trace.errors.append(exc)
                raise

        def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
            try:
                return super().recv(buflen, flags)
            except ssl.SSLError as exc:
                trace.errors.append(exc)
                raise

    ctx.sslsocket_class = _RecordingSocket
    return ctx, trace


def _close_transport(assoc: Association, trace: _TlsTrace | None) -> None:
    """Close the socket of an association that failed.

    pynetdicom's abort path shuts the socket down before closing it; when the peer already
    closed the connection the shutdown raises and the socket is left open (a leaked file
    descriptor per failed attempt), sometimes after dropping its reference to it.
    """
    transport = assoc.dul.socket
    sockets: list[socket.socket] = list(trace.sockets) if trace is not None else []
    if transport is not None and transport.socket is not None:
        sockets.append(transport.socket)
    for sock in sockets:
        try:
            sock.close()
        except OSError:  # pragma: no cover - close of a broken socket
            pass


def _load(item: Path | str | Dataset) -> tuple[Dataset, str | None]:
    if isinstance(item, Dataset):
        return item, None
    path = Path(item)
    try:
        return dcmread(path), str(path)
    except (OSError, ValueError) as exc:
        raise PacsDeliveryError(
            f"cannot read {path.name}: {exc}", retryable=False, status=None
        ) from exc


def _transfer_syntax(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(ts) if ts else str(ExplicitVRLittleEndian)


def _class_name(uid: str) -> str:
    return UID(uid).name or uid


def _to_folder(
    dest: DestinationSettings, datasets: list[tuple[Dataset, str | None]]
) -> list[SendResult]:
    assert dest.folder is not None  # guaranteed by DestinationSettings validation
    folder = Path(dest.folder)
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for ds, path in datasets:
        sop_uid = str(ds.SOPInstanceUID)
        target = folder / f"{sop_uid}.dcm"
        fd, tmp = tempfile.mkstemp(prefix=".incoming.", dir=folder)
        os.close(fd)
        try:
            if path is not None:
                shutil.copyfile(path, tmp)
            else:
                ds.save_as(tmp, enforce_file_format=True)
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise PacsDeliveryError(
                f"destination {dest.name}: cannot write to folder: {exc.strerror}",
                retryable=True,
            ) from exc
        results.append(SendResult(str(ds.SOPClassUID), sop_uid, 0x0000, None, str(target)))
    logger.info("destination %s: copied %d object(s) to folder", dest.name, len(results))
    return results


def send_files(
    dest: DestinationSettings,
    items: Sequence[Path | str | Dataset],
    calling_ae: str,
    *,
    acse_timeout_s: float = 30.0,
    dimse_timeout_s: float = 60.0,
    network_timeout_s: float = 60.0,
    raise_on_failure: bool = True,
) -> list[SendResult]:
    """Send *items* (files or datasets) to *dest* over one association.

    Parameters
    ----------
    dest
        The destination (``kind`` ``dicom`` or ``folder``).
    items
        DICOM files or datasets (a dataset keeps its ``file_meta`` transfer syntax).
    calling_ae
        DermNode's AE title.
    acse_timeout_s, dimse_timeout_s, network_timeout_s
        pynetdicom timeouts.
    raise_on_failure
        Raise when any object was not stored (default). With False, failures are returned
        in :attr:`SendResult.error` and only association-level failures raise.

    Returns
    -------
    list[SendResult]
        One per item, in order.

    Raises
    ------
    PacsDeliveryError
        Association failure (``retryable`` per the table in the module docstring), or, with
        ``raise_on_failure``, the first refused object (``retryable`` only when every
        failure was retryable; ``status`` of the first failure).
    """
    datasets = [_load(i) for i in items]
    if not datasets:
        return []
    if dest.kind == "folder":
        return _to_folder(dest, datasets)
    assert dest.host is not None and dest.port is not None and dest.ae_title is not None
    pairs: list[tuple[str, str]] = []
    for ds, _ in datasets:
        pair = (str(ds.SOPClassUID), _transfer_syntax(ds))
        if pair not in pairs:
            pairs.append(pair)
    if len(pairs) > 128:
        raise PacsDeliveryError(
            "more than 128 presentation contexts needed", retryable=False, status=None
        )
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = acse_timeout_s
    ae.dimse_timeout = dimse_timeout_s
    ae.network_timeout = network_timeout_s
    # TCP connect and TLS handshake; pynetdicom's default (None) waits forever on a peer that
    # accepts the connection but never answers the ClientHello.
    ae.connection_timeout = acse_timeout_s
    ae.requested_contexts = [build_context(sop, [ts]) for sop, ts in pairs]
    tls_args = None
    trace: _TlsTrace | None = None
    if dest.tls.enabled:
        ctx, trace = _recording_context(dest)
        tls_args = (ctx, dest.host)
    try:
        assoc = ae.associate(dest.host, dest.port, ae_title=dest.ae_title, tls_args=tls_args)
    except (OSError, ssl.SSLError) as exc:
        raise PacsDeliveryError(
            f"destination {dest.name}: cannot connect: {exc}", retryable=True
        ) from exc
    if not assoc.is_established:
        _close_transport(assoc, trace)
        if trace is not None and trace.errors:
            tls_exc = trace.errors[0]
            refused = is_tls_refusal(tls_exc)
            logger.warning(
                "destination %s (%s): TLS %s: %s",
                dest.name,
                dest.ae_title,
                "refused" if refused else "failed",
                getattr(tls_exc, "verify_message", None) or tls_exc.reason or tls_exc,
            )
            raise PacsDeliveryError(
                f"destination {dest.name} ({dest.ae_title}): "
                + (f"TLS refused ({TLS_HINT}): " if refused else "TLS failed: ")
                + str(tls_exc),
                retryable=not refused,
            ) from tls_exc
        if assoc.is_rejected:
            primitive = assoc.acceptor.primitive
            permanent = primitive is not None and getattr(primitive, "result", None) == 0x01
            raise PacsDeliveryError(
                f"destination {dest.name} ({dest.ae_title}) rejected the association"
                f"{' permanently' if permanent else ''}",
                retryable=not permanent,
            )
        if assoc.rejected_contexts and not assoc.accepted_contexts:
            names = sorted({_class_name(str(cx.abstract_syntax)) for cx in assoc.rejected_contexts})
            raise PacsDeliveryError(
                f"destination {dest.name} did not accept any presentation context "
                f"({', '.join(names)})",
                retryable=False,
            )
        raise PacsDeliveryError(
            f"destination {dest.name} ({dest.ae_title}) unreachable or aborted the association",
            retryable=True,
        )
    accepted = {
        (str(cx.abstract_syntax), str(cx.transfer_syntax[0])) for cx in assoc.accepted_contexts
    }
    results: list[SendResult] = []
    err: PacsDeliveryError | None
    try:
        for ds, path in datasets:
            sop_class, sop_uid = str(ds.SOPClassUID), str(ds.SOPInstanceUID)
            name = _class_name(sop_class)
            if (sop_class, _transfer_syntax(ds)) not in accepted:
                err = PacsDeliveryError(
                    f"destination {dest.name} did not accept {name} in transfer syntax "
                    f"{_class_name(_transfer_syntax(ds))}",
                    retryable=False,
                )
                results.append(SendResult(sop_class, sop_uid, None, err, path))
                continue
            rsp = assoc.send_c_store(ds)
            status = int(rsp.Status) if rsp is not None and "Status" in rsp else None
            if status is None:
                err = PacsDeliveryError(
                    f"destination {dest.name}: no C-STORE response for {name}", retryable=True
                )
            elif is_success_status(status):
                err = None
                if status != 0:
                    logger.info(
                        "destination %s stored %s with warning 0x%04X", dest.name, name, status
                    )
            else:
                err = PacsDeliveryError(
                    f"destination {dest.name} refused {name}: status 0x{status:04X}",
                    retryable=is_retryable_status(status),
                    status=status,
                )
                logger.warning("destination %s refused %s: status 0x%04X", dest.name, name, status)
            results.append(SendResult(sop_class, sop_uid, status, err, path))
            logger.debug("C-STORE %s -> 0x%04X", sop_uid, status if status is not None else 0xFFFF)
    finally:
        if assoc.is_established:
            assoc.release()
        if assoc.is_aborted:  # the connection broke while sending
            _close_transport(assoc, trace)
    stored = sum(r.ok for r in results)
    logger.info(
        "destination %s (%s): stored %d of %d object(s)",
        dest.name,
        dest.ae_title,
        stored,
        len(results),
    )
    failures = [r.error for r in results if r.error is not None]
    if failures and raise_on_failure:
        first = failures[0]
        raise PacsDeliveryError(
            f"{len(failures)} of {len(results)} object(s) not stored; first: {first}",
            retryable=all(f.retryable for f in failures),
            status=first.status,
        ) from first
    return results
