"""One delivery attempt of an ORU to one EMR endpoint, with a structured outcome.

The persistent outbox (job store) calls :func:`deliver` for each due HL7 row and acts on the
outcome: ``delivered`` closes the row, ``retry`` schedules the next attempt with backoff,
``dead_letter`` parks it for an administrator. Nothing is raised for a failed delivery; the
reason is in :attr:`Hl7DeliveryResult.detail` (which may quote the EMR's error text: store it,
do not log it). Logged: endpoint name, control ID, ACK code, outcome and duration.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from config.settings import Hl7EndpointSettings
from integrations.errors import EncodingError, Hl7DeliveryError
from integrations.hl7.mllp import MllpClient
from integrations.hl7.oru import OruMessage
from integrations.hl7.transport import FolderSink, Hl7Transport

__all__ = ["DeliveryOutcome", "Hl7DeliveryResult", "deliver", "transport_for"]

logger = logging.getLogger(__name__)


class DeliveryOutcome(StrEnum):
    """What the outbox does next with the row."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True, slots=True)
class Hl7DeliveryResult:
    """The outcome of one attempt.

    ``ack_code`` is MSA-1 when an ACK came back (the folder sink answers ``AA``); ``detail``
    says why a delivery failed (or where a folder sink wrote the file).
    """

    endpoint: str
    control_id: str
    outcome: DeliveryOutcome
    ack_code: str | None
    detail: str
    duration_s: float

    @property
    def delivered(self) -> bool:
        """The EMR accepted the message."""
        return self.outcome is DeliveryOutcome.DELIVERED

    @property
    def retryable(self) -> bool:
        """Another attempt may succeed."""
        return self.outcome is DeliveryOutcome.RETRY


def transport_for(endpoint: Hl7EndpointSettings) -> Hl7Transport:
    """The transport of a configured endpoint: an MLLP client or a folder sink."""
    if endpoint.kind == "folder":
        assert endpoint.folder is not None  # guaranteed by the settings model
        return FolderSink(endpoint.folder)
    return MllpClient.from_endpoint(endpoint)


def deliver(
    message: OruMessage,
    endpoint: Hl7EndpointSettings,
    transport: Hl7Transport | None = None,
) -> Hl7DeliveryResult:
    """Send *message* to *endpoint* once and classify the outcome.

    Parameters
    ----------
    message
        The ORU built for this endpoint (its charset must be the endpoint's).
    endpoint
        The configured EMR endpoint.
    transport
        A transport to use (kept open for the next message; the caller closes it). ``None``
        makes one from *endpoint* and closes it afterwards.

    Returns
    -------
    Hl7DeliveryResult
        ``delivered`` on AA/CA; ``retry`` on AE/CE, timeouts, connection failures, a missing
        ACK or a wrong control ID; ``dead_letter`` on AR/CR or a message that cannot be
        encoded in the endpoint's charset.

    Raises
    ------
    ValueError
        *message* was built for another charset than the endpoint's.
    """
    if message.charset != endpoint.charset:
        raise ValueError(
            f"message charset {message.charset!r} differs from endpoint "
            f"{endpoint.name} charset {endpoint.charset!r}"
        )
    started = time.monotonic()
    own = transport is None
    active = transport_for(endpoint) if transport is None else transport
    try:
        try:
            payload = message.encode()
        except EncodingError as exc:
            return _finish(endpoint, message, DeliveryOutcome.DEAD_LETTER, None, str(exc), started)
        try:
            ack = active.send(payload, message.control_id)
        except Hl7DeliveryError as exc:
            outcome = DeliveryOutcome.RETRY if exc.retryable else DeliveryOutcome.DEAD_LETTER
            detail = f"{exc}: {exc.peer_text}" if exc.peer_text else str(exc)
            return _finish(endpoint, message, outcome, exc.ack_code, detail, started)
        return _finish(
            endpoint, message, DeliveryOutcome.DELIVERED, ack.ack_code, ack.text, started
        )
    finally:
        if own:
            active.close()


def _finish(
    endpoint: Hl7EndpointSettings,
    message: OruMessage,
    outcome: DeliveryOutcome,
    ack_code: str | None,
    detail: str,
    started: float,
) -> Hl7DeliveryResult:
    duration = time.monotonic() - started
    level = logging.INFO if outcome is DeliveryOutcome.DELIVERED else logging.WARNING
    logger.log(
        level,
        "HL7 %s to %s: %s, ACK %s, %.3f s",
        message.control_id,
        endpoint.name,
        outcome.value,
        ack_code or "none",
        duration,
    )
    return Hl7DeliveryResult(
        endpoint=endpoint.name,
        control_id=message.control_id,
        outcome=outcome,
        ack_code=ack_code,
        detail=detail,
        duration_s=duration,
    )
