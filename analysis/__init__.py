"""DermNode's analysis core: arrays in, typed results out (DESIGN.md §1, §3).

``Analyzer`` (the engine, :mod:`analysis.pipeline`) is imported lazily, so importing the
result types does not load torch or MONAI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analysis.keys import CONCERNS, KEYS, NOT_ASSESSED, MeasurementKey, key_info
from analysis.types import (
    ALGORITHM_NAME,
    ALGORITHM_VERSION,
    ZONES,
    AnalysisResult,
    FeatureMap,
    ImageDescription,
    ImageResult,
    MapKind,
    Measurement,
    NotAssessed,
    QualityIssue,
    QualityResult,
    Region,
    Spacing,
    SpacingSource,
    View,
    ZoneMask,
)

if TYPE_CHECKING:
    from analysis.pipeline import Analyzer

__all__ = [
    "ALGORITHM_NAME",
    "ALGORITHM_VERSION",
    "CONCERNS",
    "KEYS",
    "NOT_ASSESSED",
    "ZONES",
    "AnalysisResult",
    "Analyzer",
    "FeatureMap",
    "ImageDescription",
    "ImageResult",
    "MapKind",
    "Measurement",
    "MeasurementKey",
    "NotAssessed",
    "QualityIssue",
    "QualityResult",
    "Region",
    "Spacing",
    "SpacingSource",
    "View",
    "ZoneMask",
    "key_info",
]


def __getattr__(name: str) -> Any:
    if name == "Analyzer":
        from analysis.pipeline import Analyzer

        return Analyzer
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
