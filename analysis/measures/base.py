"""The contract between the pipeline and the concern measures.

The pipeline (``analysis/pipeline.py``) prepares one :class:`SkinImage` per photo at the
working resolution, on the chosen ``torch.device``; each measure module
(``analysis/measures/<concern>.py``) exposes ``measure(img: SkinImage) -> ConcernOutput``.
Maps in a :class:`ConcernOutput` are at the working resolution; the pipeline resizes them to
the source image size before they leave the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from analysis.types import FeatureMap, Measurement

__all__ = ["ConcernOutput", "SkinImage"]


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class SkinImage:
    """A photo prepared for measurement.

    Attributes
    ----------
    rgb_linear
        (3, H, W) float32, linear-light sRGB after white balance, nominally in [0, 1].
    lab
        (3, H, W) float32 CIELAB (D65), L* in [0, 100], computed in float from ``rgb_linear``.
    skin
        (H, W) bool: skin pixels (no eyes, brows, lips, nostrils, hair, background).
    regions
        Region name -> (H, W) bool mask, each already intersected with ``skin``. Always holds
        ``face`` (face photos, plus the nine zones) or ``skin`` (close-up / dermoscopy).
    spacing_mm
        mm per working-resolution pixel used for *reported* units; None = report in pixels.
    scale_mm
        mm per working-resolution pixel used to size filters (the reported spacing, or an
        estimate, or a nominal value when nothing is known). Always positive.
    """

    rgb_linear: torch.Tensor
    lab: torch.Tensor
    skin: torch.Tensor
    regions: Mapping[str, torch.Tensor]
    spacing_mm: float | None
    scale_mm: float

    @property
    def device(self) -> torch.device:
        """The torch device every tensor lives on."""
        return self.rgb_linear.device


@dataclass(frozen=True, slots=True, eq=False)
class ConcernOutput:
    """What one concern measure returns."""

    measurements: tuple[Measurement, ...]
    maps: tuple[FeatureMap, ...] = ()
