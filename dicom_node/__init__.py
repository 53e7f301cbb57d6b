"""DermNode's service package: DICOM network (SCP/SCU), spool, job store, CLI.

The heavy modules (pynetdicom, pydicom) are imported lazily through the names below, so
``import dicom_node`` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "DicomNode",
    "InstanceRecord",
    "JobStore",
    "OutboxItem",
    "OutboxKind",
    "OutboxState",
    "RunningNode",
    "Spool",
    "StoreHandler",
    "StudyRecord",
    "StudyState",
    "__version__",
    "start_node",
]

__version__ = "0.1.0"

_LAZY = {
    "DicomNode": "dicom_node.scp",
    "StoreHandler": "dicom_node.scp",
    "InstanceRecord": "dicom_node.store",
    "JobStore": "dicom_node.store",
    "OutboxItem": "dicom_node.store",
    "OutboxKind": "dicom_node.store",
    "OutboxState": "dicom_node.store",
    "StudyRecord": "dicom_node.store",
    "StudyState": "dicom_node.store",
    "Spool": "dicom_node.spool",
    "RunningNode": "dicom_node.node",
    "start_node": "dicom_node.node",
}

if TYPE_CHECKING:
    from dicom_node.node import RunningNode, start_node
    from dicom_node.scp import DicomNode, StoreHandler
    from dicom_node.spool import Spool
    from dicom_node.store import (
        InstanceRecord,
        JobStore,
        OutboxItem,
        OutboxKind,
        OutboxState,
        StudyRecord,
        StudyState,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dicom_node' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
