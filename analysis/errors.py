"""Errors of DermNode.

The tree (the outer packages add their own leaves under :class:`DermNodeError`)::

    DermNodeError
    ├── InputRejected (also ValueError)    analysis/errors.py: an image that cannot be analysed
    ├── AnalysisError                      analysis/errors.py: the engine failed on valid input
    ├── EncodingError                      integrations/errors.py: SR/SEG/PDF/HL7 could not be built
    └── DeliveryError(retryable)           integrations/errors.py
        ├── PacsDeliveryError(status)
        └── Hl7DeliveryError(ack_code)

``config.ConfigError`` is a ``ValueError`` raised before anything starts.
Messages carry job ids, AE titles and SOP class names, never patient data.
"""

from __future__ import annotations

__all__ = ["AnalysisError", "DermNodeError", "InputRejected"]


class DermNodeError(Exception):
    """Base of every DermNode error."""


class InputRejected(DermNodeError, ValueError):
    """The input cannot be analysed (wrong shape or dtype, not an image)."""


class AnalysisError(DermNodeError):
    """The analysis failed on an input it accepted."""
