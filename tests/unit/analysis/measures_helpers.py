"""Helpers shared by the measure tests (phantoms, value lookup)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from analysis.types import Measurement


def value(ms: Iterable[Measurement], key: str, region: str = "skin") -> float:
    """The value of *key* in *region*; fails the test when it is missing."""
    for m in ms:
        if m.key == key and m.region == region:
            return m.value
    raise AssertionError(f"{key} / {region} not measured")


def halves(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Two regions, the left and right half of the image, standing in for two zones."""
    left = np.zeros(shape, dtype=bool)
    left[:, : shape[1] // 2] = True
    return {"cheek_left": left, "cheek_right": ~left}
