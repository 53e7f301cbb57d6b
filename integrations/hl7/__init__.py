"""HL7 v2.5.1 result notices: the ORU^R01 builder, the MLLP client and the folder sink.

See ``docs/hl7-profile.md`` for every segment and field, the result status rule, the charset
rules and the ACK rules.
"""

from __future__ import annotations

from integrations.hl7.endpoints import transport_for
from integrations.hl7.escape import escape, unescape
from integrations.hl7.mllp import MllpClient, check_ack, frame, parse_ack, ssl_context
from integrations.hl7.oru import (
    OruMessage,
    ResultStatus,
    build_notice,
    build_oru,
    derive_control_id,
    new_control_id,
    result_status_for,
)
from integrations.hl7.transport import AckResult, FolderSink, Hl7Transport

__all__ = [
    "AckResult",
    "FolderSink",
    "Hl7Transport",
    "MllpClient",
    "OruMessage",
    "ResultStatus",
    "build_notice",
    "build_oru",
    "check_ack",
    "derive_control_id",
    "escape",
    "frame",
    "new_control_id",
    "parse_ack",
    "result_status_for",
    "ssl_context",
    "transport_for",
    "unescape",
]
