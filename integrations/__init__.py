"""Results leaving the node: DICOM SR / SEG / PDF encoders, PACS export, HL7.

The names below are imported lazily (PEP 562), so ``import integrations.hl7`` does not load
highdicom and reportlab.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from integrations.dicom_seg import SegOutput, build_segmentations
    from integrations.dicom_sr import build_sr
    from integrations.errors import (
        DeliveryError,
        EncodingError,
        Hl7DeliveryError,
        PacsDeliveryError,
        PacsQueryError,
    )
    from integrations.outputs import (
        OutputFile,
        OutputKind,
        ResultSet,
        write_outputs,
        write_result_set,
    )
    from integrations.pacs_export import SendResult, send_files
    from integrations.priors import fetch_pacs_priors, read_visit_values
    from integrations.progress_view import PriorView
    from integrations.report import encapsulated_pdf, render_report
    from integrations.study import StudyInfo
    from integrations.uids import OutputUids, derive_uid, tracking_uid

__all__ = [
    "DeliveryError",
    "EncodingError",
    "Hl7DeliveryError",
    "OutputFile",
    "OutputKind",
    "OutputUids",
    "PacsDeliveryError",
    "PacsQueryError",
    "PriorView",
    "ResultSet",
    "SegOutput",
    "SendResult",
    "StudyInfo",
    "build_segmentations",
    "build_sr",
    "derive_uid",
    "encapsulated_pdf",
    "fetch_pacs_priors",
    "read_visit_values",
    "render_report",
    "send_files",
    "tracking_uid",
    "write_outputs",
    "write_result_set",
]

_WHERE = {
    "DeliveryError": "integrations.errors",
    "EncodingError": "integrations.errors",
    "Hl7DeliveryError": "integrations.errors",
    "PacsDeliveryError": "integrations.errors",
    "PacsQueryError": "integrations.errors",
    "PriorView": "integrations.progress_view",
    "fetch_pacs_priors": "integrations.priors",
    "read_visit_values": "integrations.priors",
    "OutputUids": "integrations.uids",
    "derive_uid": "integrations.uids",
    "tracking_uid": "integrations.uids",
    "SegOutput": "integrations.dicom_seg",
    "build_segmentations": "integrations.dicom_seg",
    "build_sr": "integrations.dicom_sr",
    "SendResult": "integrations.pacs_export",
    "send_files": "integrations.pacs_export",
    "encapsulated_pdf": "integrations.report",
    "render_report": "integrations.report",
    "StudyInfo": "integrations.study",
    "write_outputs": "integrations.outputs",
    "write_result_set": "integrations.outputs",
    "OutputFile": "integrations.outputs",
    "OutputKind": "integrations.outputs",
    "ResultSet": "integrations.outputs",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'integrations' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
