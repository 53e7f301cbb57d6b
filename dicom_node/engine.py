"""The seam between the service and the analysis engine.

:class:`analysis.pipeline.Analyzer` implements :class:`AnalysisEngine`; the service takes any
object that does (tests pass an engine held behind a gate, or one that fails on purpose).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy.typing as npt

from analysis.types import ImageDescription, ImageResult

__all__ = ["AnalysisEngine"]


class AnalysisEngine(Protocol):
    """What the worker and the progress linker need of the analysis engine."""

    @property
    def device(self) -> Any:
        """Where it runs (a ``torch.device``), for the logs."""
        ...

    def analyze(self, image: npt.NDArray[Any], description: ImageDescription) -> ImageResult:
        """Analyse one photo (raises ``InputRejected`` for one it cannot take)."""
        ...
