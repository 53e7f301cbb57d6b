"""0-100 concern scores from raw measurements.

Meaning: a score is a **severity** score. ``0`` means none of the concern was found and the
score rises towards ``100`` as the concern grows (higher = more concern), like the keys of
:mod:`analysis.keys`, which are mostly ``higher_is_worse``. Raw values are always reported
beside the scores; a score is a summary for display, not a diagnosis.

Mapping: each concern uses a few of its keys, taken from region ``face`` (face photos) or
``skin`` (close-up / dermoscopy). Each value ``x`` becomes a sub-score by the monotone,
saturating map ``100 * x / (x + x_half)`` (``x_half`` gives a sub-score of 50); a key whose
lower values are worse (texture uniformity) enters as ``1 - x``. The concern score is the
mean of its available sub-scores. The ``x_half`` anchors are provisional (chosen from
phantoms and typical published ranges, see ``docs/methods/measures.md``) until they are
calibrated on a reference set of graded photographs. Keys in pixel units (no pixel spacing)
are left out of the scores, because pixels are not comparable between photos.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from analysis.keys import CONCERNS
from analysis.types import Measurement

__all__ = ["SCORE_MEANING", "SCORE_TERMS", "ScoreTerm", "compute_scores", "saturating"]

logger = logging.getLogger(__name__)

#: One line for reports and the JSON documentation.
SCORE_MEANING = (
    "Severity score 0-100 per concern: 0 = none found, higher = more of the concern; "
    "derived from the raw measurements by a documented saturating mapping."
)


@dataclass(frozen=True, slots=True)
class ScoreTerm:
    """One key's contribution to a concern score.

    Attributes
    ----------
    key
        The measurement key.
    x_half
        The raw value that maps to a sub-score of 50.
    invert
        Use ``1 - value`` (for keys whose lower values are worse, in [0, 1]).
    units
        Units accepted for this key; a measurement in another unit (pixels) is skipped.
    """

    key: str
    x_half: float
    invert: bool = False
    units: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.x_half > 0:
            raise ValueError(f"x_half must be positive, got {self.x_half!r}")


_T = ScoreTerm
#: The terms of each concern score (see the module docstring and docs/methods/measures.md).
SCORE_TERMS: dict[str, tuple[ScoreTerm, ...]] = {
    "pigmentation": (
        _T("pigmentation.spots.area_pct", 2.0),
        _T("pigmentation.spots.count", 15.0),
        _T("pigmentation.melasma.score", 4.0),
    ),
    "redness": (
        _T("redness.area_pct", 10.0),
        _T("redness.lesions.count", 5.0),
    ),
    "pores": (
        _T("pores.density_per_cm2", 40.0, units=("/cm2",)),
        _T("pores.mean_diameter_mm", 0.25, units=("mm",)),
        _T("pores.enlarged.count", 100.0),
    ),
    "wrinkles": (
        _T("wrinkles.area_pct", 2.0),
        _T("wrinkles.count", 8.0),
        _T("wrinkles.fine_lines.count", 20.0),
        _T("wrinkles.length_mm", 150.0, units=("mm",)),
    ),
    "texture": (
        _T("texture.roughness", 3.0),
        _T("texture.uniformity", 0.25, invert=True),
    ),
    "oil": (_T("oil.shine_area_pct", 5.0),),
}


def saturating(x: float, x_half: float) -> float:
    """Map a non-negative raw value to 0-100: ``100 * x / (x + x_half)`` (negatives -> 0)."""
    x = max(0.0, float(x))
    return 100.0 * x / (x + x_half)


def compute_scores(measurements: Sequence[Measurement]) -> dict[str, float]:
    """Return a 0-100 severity score per concern of :data:`analysis.keys.CONCERNS`.

    Parameters
    ----------
    measurements
        Raw measurements of one photo; only region ``face`` (or ``skin`` when there is no
        ``face``) is used.

    Returns
    -------
    dict
        Concern -> score in [0, 100]; a concern with no usable measurement is absent.
    """
    regions = {m.region for m in measurements}
    region = "face" if "face" in regions else "skin"
    values: dict[str, Measurement] = {m.key: m for m in measurements if m.region == region}
    scores: dict[str, float] = {}
    for concern in CONCERNS:
        subs: list[float] = []
        for term in SCORE_TERMS.get(concern, ()):
            m = values.get(term.key)
            if m is None or (term.units and m.unit not in term.units):
                continue
            x = 1.0 - m.value if term.invert else m.value
            subs.append(saturating(x, term.x_half))
        if subs:
            scores[concern] = sum(subs) / len(subs)
    logger.debug("scores from region %s: %d concerns", region, len(scores))
    return scores
