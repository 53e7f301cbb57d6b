"""Concern measures: each module exposes ``measure(img: SkinImage) -> ConcernOutput``.

:data:`MEASURES` lists them in the order of :data:`analysis.keys.CONCERNS`.
"""

from __future__ import annotations

from collections.abc import Callable

from analysis.measures import oil, pigmentation, pores, redness, texture, wrinkles
from analysis.measures.base import ConcernOutput, SkinImage

__all__ = ["MEASURES", "ConcernOutput", "SkinImage"]

#: One callable per concern family, in :data:`analysis.keys.CONCERNS` order.
MEASURES: tuple[Callable[[SkinImage], ConcernOutput], ...] = (
    pigmentation.measure,
    redness.measure,
    pores.measure,
    wrinkles.measure,
    texture.measure,
    oil.measure,
)
