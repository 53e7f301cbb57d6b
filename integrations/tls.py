"""TLS contexts from ``TlsSettings``: client (results delivery by C-STORE SCU and MLLP) and
server (inbound DICOM, ``node.tls``).

One rule for both transports (``docs/dicom-conformance.md`` §9, ``docs/hl7-profile.md``): a
TLS *refusal* — our check of the peer's certificate failed, or the peer sent a fatal alert —
is a configuration problem and is not retried; a cut-off handshake (EOF, reset, timeout) is a
network failure and is retried.
"""

from __future__ import annotations

import ssl

from config.settings import TlsSettings

__all__ = ["TLS_HINT", "client_context", "is_tls_refusal", "server_context"]

TLS_HINT = "check tls.ca_file, tls.cert_file/key_file and the peer's TLS set-up"


def client_context(tls: TlsSettings) -> ssl.SSLContext:
    """A client TLS context for *tls* (TLS 1.2 or later).

    The peer is verified against ``ca_file`` (and its host name) unless ``verify_peer`` is
    false; ``cert_file``/``key_file`` add a client certificate.

    Raises
    ------
    OSError, ssl.SSLError
        ``ca_file``, ``cert_file`` or ``key_file`` cannot be read or is not valid PEM.
    """
    ctx = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca_file) if tls.ca_file else None
    )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not tls.verify_peer:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.cert_file is not None and tls.key_file is not None:
        ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return ctx


def server_context(tls: TlsSettings) -> ssl.SSLContext:
    """A server TLS context for inbound DICOM (TLS 1.2 or later), by the client's rules.

    ``cert_file``/``key_file`` are DermNode's certificate. With ``verify_peer`` (the
    default) every peer must present a certificate that verifies against ``ca_file``
    (PS3.15 B.1, mutual authentication); without it, any client may connect (the AE title
    policy still applies).

    Raises
    ------
    ValueError
        No ``cert_file``/``key_file``.
    OSError, ssl.SSLError
        A file cannot be read or is not valid PEM.
    """
    if tls.cert_file is None or tls.key_file is None:
        raise ValueError("a TLS server needs cert_file and key_file")
    ctx = ssl.create_default_context(
        ssl.Purpose.CLIENT_AUTH, cafile=str(tls.ca_file) if tls.ca_file else None
    )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    ctx.verify_mode = ssl.CERT_REQUIRED if tls.verify_peer else ssl.CERT_NONE
    return ctx


def is_tls_refusal(exc: ssl.SSLError) -> bool:
    """A deliberate refusal that retrying cannot change: our check of the peer's certificate
    failed (unknown CA, host name, expired), or the peer sent a fatal alert (certificate
    required/unknown/bad/expired, unknown CA, handshake failure, protocol version ...). An
    ``internal_error`` alert and a cut-off handshake (EOF, reset, timeout) are not refusals."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True
    reason = str(exc.reason or "").upper()
    return "_ALERT_" in reason and "INTERNAL_ERROR" not in reason
