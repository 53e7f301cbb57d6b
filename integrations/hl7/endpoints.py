"""The transport of a configured EMR endpoint: an MLLP client or a folder sink.

The service's outbox takes a factory of this shape (``TransportFactory``) so tests can pass
their own transports; this is the default one.
"""

from __future__ import annotations

from config.settings import Hl7EndpointSettings
from integrations.hl7.mllp import MllpClient
from integrations.hl7.transport import FolderSink, Hl7Transport

__all__ = ["transport_for"]


def transport_for(endpoint: Hl7EndpointSettings) -> Hl7Transport:
    """The transport of a configured endpoint (kept open by the caller between messages)."""
    if endpoint.kind == "folder":
        assert endpoint.folder is not None  # guaranteed by the settings model
        return FolderSink(endpoint.folder)
    return MllpClient.from_endpoint(endpoint)
