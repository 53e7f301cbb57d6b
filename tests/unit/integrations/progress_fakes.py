"""Three visits of the synthetic patient of :mod:`fakes`, with known changes and verdicts.

The current visit is :func:`fakes.image_result` (study date 2025-01-02). The previous visit
(2024-06-01) and the baseline (2024-01-10) equal it except for the rows of :data:`TRUTH`; a
fourth visit was made by another algorithm version and must be excluded. The MDCs are plain
numbers (``family_wise=False``), so every verdict follows from |delta| vs the MDC by hand.
"""

from __future__ import annotations

import datetime as dt

from analysis.progress import Comparison, VisitValues, compare
from analysis.types import ALGORITHM_VERSION
from tests.unit.integrations import fakes

CURRENT_DATE = dt.date(2025, 1, 2)
PREVIOUS_DATE = dt.date(2024, 6, 1)
BASELINE_DATE = dt.date(2024, 1, 10)
OLD_DATE = dt.date(2023, 3, 5)
PREVIOUS_STUDY = "1.2.826.0.1.3680043.10.1410.2.1"
PREVIOUS_SR = "1.2.826.0.1.3680043.10.1410.2.9"
BASELINE_STUDY = "1.2.826.0.1.3680043.10.1410.3.1"
BASELINE_SR = "1.2.826.0.1.3680043.10.1410.3.9"
OLD_STUDY = "1.2.826.0.1.3680043.10.1410.4.1"
OLD_VERSION = "0.0.9"

#: Absolute MDC per key (keys not listed have none: verdict no_mdc).
MDC: dict[str, float] = {
    "pores.count": 2.0,
    "pigmentation.melanin_index": 1.0,
    "redness.erythema_index": 1.0,
    "pigmentation.spots.count": 1.5,
    "pigmentation.ita_deg": 1.0,
}

#: (region, key) -> (previous, baseline, current, verdict vs previous, verdict vs baseline).
TRUTH: dict[tuple[str, str], tuple[float, float, float, str, str]] = {
    # 62 now: -8 since previous and -18 since baseline, beyond MDC 2: improved (fewer pores)
    ("cheek_left", "pores.count"): (70.0, 80.0, 62.0, "improved", "improved"),
    # 15 now: +5 beyond MDC 1 (worse); -0.5 since baseline inside the MDC: stable
    ("cheek_left", "redness.erythema_index"): (10.0, 15.5, 15.0, "worsened", "stable"),
    # +0.5 inside MDC 1: stable; -2.25 since baseline: improved
    ("nose", "pigmentation.melanin_index"): (42.25, 45.0, 42.75, "stable", "improved"),
    # ITA: higher is better (lighter): +2.2 improved; +0.2 stable
    ("face", "pigmentation.ita_deg"): (36.0, 38.0, 38.2, "improved", "stable"),
    # a decrease inside the MDC is NOT an improvement
    ("forehead", "pigmentation.spots.count"): (3.5, 3.5, 3.0, "stable", "stable"),
    # no MDC for wrinkle length: no verdict
    ("chin", "wrinkles.length_mm"): (12.0, 10.0, 17.75, "no_mdc", "no_mdc"),
}


def current_visit() -> VisitValues:
    """The visit of :func:`fakes.image_result` (frontal)."""
    return VisitValues.from_measurements(
        fakes.image_result(0).measurements,
        study_date=CURRENT_DATE,
        study_uid=fakes.STUDY_UID,
        algorithm_version=ALGORITHM_VERSION,
        view="frontal",
    )


def priors() -> list[VisitValues]:
    """Previous, baseline and an excluded visit of another algorithm version."""
    cur = current_visit()
    prev, base = dict(cur.values), dict(cur.values)
    for rk, (p, b, _, _, _) in TRUTH.items():
        prev[rk], base[rk] = p, b
    return [
        VisitValues(
            PREVIOUS_DATE,
            PREVIOUS_STUDY,
            ALGORITHM_VERSION,
            "frontal",
            prev,
            cur.units,
            PREVIOUS_SR,
        ),
        VisitValues(
            BASELINE_DATE,
            BASELINE_STUDY,
            ALGORITHM_VERSION,
            "frontal",
            base,
            cur.units,
            BASELINE_SR,
        ),
        VisitValues(OLD_DATE, OLD_STUDY, OLD_VERSION, "frontal", base, cur.units),
    ]


def comparison() -> Comparison:
    """The comparable comparison of the current visit with :func:`priors`."""
    return compare(current_visit(), priors(), MDC, family_wise=False)


def not_comparable() -> Comparison:
    """Only a prior of another algorithm version: not compared, with the reason."""
    return compare(current_visit(), priors()[2:], MDC, family_wise=False)
