"""Errors raised when results leave the node (see the tree in :mod:`analysis.errors`)."""

from __future__ import annotations

from analysis.errors import DermNodeError

__all__ = [
    "DeliveryError",
    "EncodingError",
    "Hl7DeliveryError",
    "PacsDeliveryError",
    "PacsQueryError",
]


class EncodingError(DermNodeError):
    """An SR, SEG, PDF or HL7 message could not be built from a result."""


class DeliveryError(DermNodeError):
    """A delivery failed; ``retryable`` says whether trying again can help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class PacsDeliveryError(DeliveryError):
    """C-STORE to a destination failed; ``status`` is the DIMSE status when one came back."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message, retryable=retryable)
        self.status = status


class Hl7DeliveryError(DeliveryError):
    """An ORU was not accepted; ``ack_code`` is MSA-1 (AE, AR, CE, CR) or None (no ACK).

    The message names the control ID and the ACK code only; ``peer_text`` is what the EMR
    wrote (MSA-3, ERR), which may quote patient data: shown to a caller who asks, never
    logged and never stored.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        ack_code: str | None = None,
        peer_text: str = "",
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.ack_code = ack_code
        self.peer_text = peer_text


class PacsQueryError(DermNodeError):
    """A C-FIND / C-GET to the PACS (priors for progress tracking) failed."""
