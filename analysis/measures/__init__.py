"""Concern measures: each module exposes ``measure(img: SkinImage) -> ConcernOutput``.

:data:`MEASURES` lists them in the order of :data:`analysis.keys.CONCERNS`.
"""

from __future__ import annotations

from collections.abc import Callable

from analysis.measures import oil, pigmentation, pores, redness, texture, wrinkles
from analysis.measures.base import ConcernOutput, SkinImage

__all__ = ["MEASURES", "ConcernOutput", "SkinImage", "unresolved"]

#: One callable per concern family, in :data:`analysis.keys.CONCERNS` order.
MEASURES: tuple[Callable[[SkinImage], ConcernOutput], ...] = (
    pigmentation.measure,
    redness.measure,
    pores.measure,
    wrinkles.measure,
    texture.measure,
    oil.measure,
)


def unresolved(scale_mm: float) -> dict[str, str]:
    """Feature families too small to be resolved at *scale_mm* mm per working pixel.

    The measures leave these keys out (they never report a made-up zero); the pipeline can
    list them as not assessed with the returned reason. Keys: ``pores``,
    ``wrinkles.fine_lines``, ``wrinkles``, ``texture``.
    """
    out: dict[str, str] = {}
    for key, limit, what in (
        ("pores", pores.MAX_SCALE_MM, "pores (0.1-0.5 mm)"),
        ("wrinkles.fine_lines", wrinkles.FINE_MAX_SCALE_MM, "fine lines (< 0.6 mm wide)"),
        ("wrinkles", wrinkles.WRINKLE_MAX_SCALE_MM, "wrinkles"),
        ("texture", texture.MAX_SCALE_MM, "skin texture (0.2-2 mm)"),
    ):
        if scale_mm > limit:
            out[key] = (
                f"The image resolution ({scale_mm:.2f} mm per pixel at the working size) is "
                f"too coarse to resolve {what}; it needs {limit:.2f} mm per pixel or finer."
            )
    return out
