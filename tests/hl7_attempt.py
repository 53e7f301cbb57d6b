"""One HL7 delivery attempt classified as the service's outbox classifies it (for peer tests).

The service (``dicom_node/delivery.py``) sends through an ``Hl7Transport`` and decides from
``Hl7DeliveryError.retryable``; the transport tests against real MLLP peers use this helper
to state the outcome the outbox would record.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from config.settings import Hl7EndpointSettings
from integrations.errors import EncodingError, Hl7DeliveryError
from integrations.hl7.endpoints import transport_for
from integrations.hl7.oru import OruMessage
from integrations.hl7.transport import Hl7Transport


class DeliveryOutcome(StrEnum):
    """What the outbox does next with the row."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one attempt; ``detail`` includes the peer's text (tests only)."""

    outcome: DeliveryOutcome
    ack_code: str | None
    detail: str

    @property
    def delivered(self) -> bool:
        return self.outcome is DeliveryOutcome.DELIVERED


def deliver(
    message: OruMessage, endpoint: Hl7EndpointSettings, transport: Hl7Transport | None = None
) -> Attempt:
    """Send *message* once over *transport* (or a new one for *endpoint*) and classify it."""
    own = transport is None
    active = transport_for(endpoint) if transport is None else transport
    try:
        try:
            payload = message.encode()
        except EncodingError as exc:
            return Attempt(DeliveryOutcome.DEAD_LETTER, None, str(exc))
        try:
            ack = active.send(payload, message.control_id)
        except Hl7DeliveryError as exc:
            outcome = DeliveryOutcome.RETRY if exc.retryable else DeliveryOutcome.DEAD_LETTER
            detail = f"{exc}: {exc.peer_text}" if exc.peer_text else str(exc)
            return Attempt(outcome, exc.ack_code, detail)
        return Attempt(DeliveryOutcome.DELIVERED, ack.ack_code, ack.text)
    finally:
        if own:
            active.close()
