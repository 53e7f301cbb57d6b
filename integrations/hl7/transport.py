"""The transport interface HL7 deliveries go through, its ACK value, and the folder sink.

:class:`Hl7Transport` is the small seam (as httpx's ``BaseTransport``): the MLLP client
(:class:`integrations.hl7.mllp.MllpClient`) implements it for EMRs, :class:`FolderSink` for
demos (``kind: folder`` endpoints), and tests inject fakes that fail on purpose.

Contract of :meth:`Hl7Transport.send`: return an :class:`AckResult` when the message was
accepted (MSA-1 ``AA`` or ``CA``), otherwise raise
:class:`integrations.errors.Hl7DeliveryError` with ``retryable`` set as in
``docs/hl7-profile.md`` (``AE``/``CE``, no ACK, timeout, wrong control ID: retryable;
``AR``/``CR``: not retryable).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from integrations.errors import Hl7DeliveryError

__all__ = ["AckResult", "FolderSink", "Hl7Transport"]

logger = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True, slots=True)
class AckResult:
    """An accepted delivery: MSA-1 ``ack_code``, MSA-2 ``control_id`` and the peer's text.

    ``text`` is MSA-3 plus any ERR text, unescaped; it comes from the EMR and may hold patient
    data, so it is stored with the delivery, never logged.
    """

    ack_code: str
    control_id: str
    text: str = ""


@runtime_checkable
class Hl7Transport(Protocol):
    """Sends one encoded HL7 message and reports the peer's acknowledgement."""

    def send(self, message: bytes, control_id: str) -> AckResult:
        """Send *message* (MSH-10 = *control_id*); return the ACK or raise Hl7DeliveryError."""
        ...

    def close(self) -> None:
        """Release the connection, if any; the transport may be used again afterwards."""
        ...


class FolderSink:
    """Writes each message to ``<folder>/<control_id>.hl7`` (the ``kind: folder`` endpoint).

    The file holds the message bytes exactly as they would go over MLLP, without the framing.
    It is written to a temporary file, flushed, and renamed, so a reader never sees half a
    message; sending the same control ID again replaces the file (a retry is not a duplicate).

    Parameters
    ----------
    folder
        The target folder; created when missing.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def send(self, message: bytes, control_id: str) -> AckResult:
        """Write *message*; answer ``AA``. An I/O error is a retryable Hl7DeliveryError."""
        if not _SAFE_NAME.match(control_id):
            raise ValueError("control_id must be 1-64 characters of A-Z a-z 0-9 . _ -")
        target = self.folder / f"{control_id}.hl7"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".hl7", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(message)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise Hl7DeliveryError(
                f"cannot write HL7 message {control_id} to folder: {exc.strerror}",
                retryable=True,
            ) from exc
        logger.debug("wrote HL7 message %s to %s", control_id, self.folder)
        return AckResult("AA", control_id, f"written to {target.name}")

    def close(self) -> None:
        """Nothing to release."""
