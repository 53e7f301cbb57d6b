"""Library-global flags, set in one place (STYLE.md §5, §7)."""

from __future__ import annotations

from pynetdicom import _config as pynetdicom_config

__all__ = ["apply"]


def apply() -> None:
    """Turn off pynetdicom's logging of identifiers (they hold patient data)."""
    pynetdicom_config.LOG_REQUEST_IDENTIFIERS = False
    pynetdicom_config.LOG_RESPONSE_IDENTIFIERS = False
    pynetdicom_config.LOG_HANDLER_LEVEL = "none"
