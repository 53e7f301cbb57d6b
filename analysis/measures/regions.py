"""Per-region iteration and the measurement builder shared by the concern measures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from analysis.keys import key_info
from analysis.measures.base import SkinImage
from analysis.types import Measurement

__all__ = ["RegionInfo", "measurement", "region_fraction", "region_items", "region_mean"]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class RegionInfo:
    """A region's mask on the device and on the CPU, and its area in px."""

    name: str
    mask: torch.Tensor
    mask_np: BoolArray
    area_px: int


def region_items(img: SkinImage) -> Iterator[RegionInfo]:
    """Yield the regions of *img* that hold at least one pixel."""
    for name, m in img.regions.items():
        mask_np = m.detach().cpu().numpy().astype(bool)
        area = int(mask_np.sum())
        if area > 0:
            yield RegionInfo(name, m.to(torch.bool), mask_np, area)


def region_mean(x: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean of *x* over *mask* (0.0 for an empty mask)."""
    n = int(mask.sum().item())
    if n == 0:
        return 0.0
    return float((x * mask).sum().item()) / n


def region_fraction(feature: BoolArray, region: BoolArray) -> float:
    """Percentage of *region* covered by *feature*."""
    area = int(region.sum())
    if area == 0:
        return 0.0
    return 100.0 * float(np.count_nonzero(feature & region)) / area


def measurement(key: str, region: str, value: float, img: SkinImage) -> Measurement:
    """Build a :class:`Measurement` in the key's unit (its pixel unit without spacing)."""
    info = key_info(key)
    unit = info.unit_px if (img.spacing_mm is None and info.unit_px) else info.unit
    return Measurement(key, region, float(value), unit)
