"""Study-level values: each zone from the view that sees it best (DESIGN.md §2 step 4).

A clinic's multi-view protocol (frontal, left and right three-quarter) sees each zone in
several photos, at different angles. For every zone the study-level values come from the
usable photo that measured the zone with the **smallest view angle** (the angle between the
zone's surface normal and the camera, :mod:`analysis.zones`); the whole-face values (region
``face``) come from the photo with the smallest |yaw|. Where two or more photos measured the
same key in the same zone, the study keeps how far apart they were — the spread, ``(max -
min) / mean`` in % — and flags it when it exceeds ``disagreement_pct`` (default 25 %; for
counts below 5 the absolute difference must also exceed 2, so 1 vs 2 spots is not flagged).
A large disagreement means the views do not agree about that zone (lighting, a shadow, an
expression change, or a zone near the edge of one view): a reason to look, not a number to
trust blindly.

Per-photo values stay in ``images[]``; the study-level ones are ``AnalysisResult.study``
(JSON ``"study"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from analysis.types import ZONES, AnalysisResult, ImageResult, Region

__all__ = [
    "DISAGREEMENT_PCT",
    "FusedValue",
    "StudyFusion",
    "ZoneSource",
    "fuse",
    "fused",
]

#: Spread (% of the mean) above which two views' values of one key and zone are flagged.
DISAGREEMENT_PCT = 25.0
_SMALL_COUNT = 5.0
_COUNT_SLACK = 2.0


@dataclass(frozen=True, slots=True)
class ZoneSource:
    """Which photo a zone's study-level values come from."""

    region: str
    source: str
    view: str
    view_angle_deg: float | None


@dataclass(frozen=True, slots=True)
class FusedValue:
    """One study-level value, its photo, and the spread across the photos that measured it."""

    key: str
    region: str
    value: float
    unit: str
    source: str
    n_views: int
    spread_pct: float | None
    disagreement: bool


@dataclass(frozen=True, slots=True)
class StudyFusion:
    """The study-level result: zone sources and values."""

    zones: tuple[ZoneSource, ...]
    values: tuple[FusedValue, ...]
    disagreement_pct: float

    def value(self, key: str, region: str) -> FusedValue | None:
        """The fused value of *key* in *region*, or None."""
        return next((v for v in self.values if v.key == key and v.region == region), None)

    def to_json(self) -> dict[str, Any]:
        """``{"zones": {...}, "measurements": [...], "disagreement_pct": ...}``."""
        return {
            "disagreement_pct": self.disagreement_pct,
            "zones": {
                z.region: {
                    "source": z.source,
                    "view": z.view,
                    "view_angle_deg": None
                    if z.view_angle_deg is None
                    else round(z.view_angle_deg, 1),
                }
                for z in self.zones
            },
            "measurements": [
                {
                    "key": v.key,
                    "region": v.region,
                    "value": round(v.value, 6),
                    "unit": v.unit,
                    "source": v.source,
                    "n_views": v.n_views,
                    "spread_pct": None if v.spread_pct is None else round(v.spread_pct, 1),
                    "disagreement": v.disagreement,
                }
                for v in self.values
            ],
        }


def _usable(images: Sequence[ImageResult]) -> list[ImageResult]:
    return [r for r in images if r.quality.usable and r.face_found]


def _spread(values: list[float], unit: str, threshold: float) -> tuple[float | None, bool]:
    if len(values) < 2:
        return None, False
    lo, hi = min(values), max(values)
    mean = sum(abs(v) for v in values) / len(values)
    if mean == 0.0:
        return 0.0, False
    pct = 100.0 * (hi - lo) / mean
    flagged = pct > threshold
    if unit == "{count}" and hi < _SMALL_COUNT:
        flagged = flagged and (hi - lo) > _COUNT_SLACK
    return pct, flagged


def fuse(images: Sequence[ImageResult], disagreement_pct: float = DISAGREEMENT_PCT) -> StudyFusion:
    """Study-level values from the photos of one study (see the module docstring).

    Raises
    ------
    ValueError
        When ``disagreement_pct`` is not positive.
    """
    if not disagreement_pct > 0:
        raise ValueError(f"disagreement_pct must be positive, got {disagreement_pct}")
    usable = _usable(images)
    sources: list[ZoneSource] = []
    chosen: dict[str, ImageResult] = {}
    for zone in [str(z) for z in ZONES]:
        seen = [
            r
            for r in usable
            if zone in r.zone_view_angles and any(m.region == zone for m in r.measurements)
        ]
        if not seen:
            continue
        best = min(seen, key=lambda r: (r.zone_view_angles[zone], r.source))
        chosen[zone] = best
        sources.append(
            ZoneSource(zone, best.source, str(best.description.view), best.zone_view_angles[zone])
        )
    if usable:
        face = min(usable, key=lambda r: (abs(r.pose.yaw_deg) if r.pose else 0.0, r.source))
        chosen[str(Region.FACE)] = face
        sources.append(ZoneSource(str(Region.FACE), face.source, str(face.description.view), None))
    values: list[FusedValue] = []
    for region, best in chosen.items():
        for m in best.measurements:
            if m.region != region or m.key.startswith("quality."):
                continue
            across = [v for r in usable if (v := r.value(m.key, region)) is not None]
            spread, flagged = _spread(across, m.unit, disagreement_pct)
            values.append(
                FusedValue(
                    m.key, region, m.value, m.unit, best.source, len(across), spread, flagged
                )
            )
    return StudyFusion(tuple(sources), tuple(values), disagreement_pct)


def fused(result: AnalysisResult, disagreement_pct: float = DISAGREEMENT_PCT) -> AnalysisResult:
    """*result* with its study-level values (``result.study``) filled in."""
    return replace(result, study=fuse(result.images, disagreement_pct))
