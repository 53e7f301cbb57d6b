"""Progress tracking: compare a visit's measurements with the same patient's earlier visits.

Pure functions over small frozen value types; no storage, no DICOM. The service builds one
:class:`VisitValues` per (study, view) from its results index (or from an SR read back from
the PACS) and calls :func:`compare`.

For every (region, key) present in the current visit and in the priors this gives

* the change since the **previous** visit (the latest prior by study date) and since the
  **baseline** (the earliest prior): absolute ``delta`` and relative ``delta_pct``;
* a label, :class:`ChangeLabel` ``improved`` / ``worsened`` / ``stable``, decided against the
  key's minimum detectable change (:mod:`analysis.mdc`, MDC95 = 1.96·√2·SEM, measured by
  ``benchmarks/repeatability.py``): a change whose magnitude is not *greater* than the
  threshold is ``stable`` whatever its sign, so a change inside the measurement noise is never
  called an improvement. The direction of "improved" follows
  :attr:`analysis.keys.MeasurementKey.higher_is_worse`. A key without a measured MDC gets
  ``no_mdc`` (never improved / worsened).
* multiplicity: a visit has ~160 (region, key) rows; at MDC95 each row of a pure re-capture
  is flagged with 5 % probability, so about eight rows would be. By default the threshold is
  MDC95 x :func:`family_factor` (m) over the m rows (Bonferroni) x the SEM's upper
  confidence factor (the benchmark's SEM is an estimate): a re-capture gets *any*
  non-stable label with <= 5 % probability. The threshold is never below MDC95.

Only visits of the **same algorithm version** and the **same view** are compared. A prior of
another version is not used for numbers: it is listed in :attr:`Comparison.excluded` with its
reason, and when no prior is left :attr:`Comparison.comparable` is false with a
``reason`` that says so (for the SR/PDF/HL7 text).

Quality keys (``quality.*``) describe the capture, not the skin, and are not compared.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import NormalDist
from typing import Protocol

from analysis.keys import key_info
from analysis.mdc import Mdc, mdc_for, region_class

__all__ = [
    "ChangeLabel",
    "Comparison",
    "Change",
    "ExcludedPrior",
    "MeasurementLike",
    "TrendPoint",
    "VisitValues",
    "classify",
    "compare",
    "family_factor",
    "trend",
]

logger = logging.getLogger(__name__)


class ChangeLabel(StrEnum):
    """The verdict on one change."""

    IMPROVED = "improved"
    WORSENED = "worsened"
    STABLE = "stable"  # |delta| <= MDC: within measurement noise
    NO_MDC = "no_mdc"  # the key has no measured MDC: no verdict

    @property
    def text(self) -> str:
        """The short wording, for table cells and chart labels (``no MDC``)."""
        return _LABEL_WORDING[self][0]

    @property
    def meaning(self) -> str:
        """The full wording: the meaning of the SR code and the ORU CE text."""
        return _LABEL_WORDING[self][1]


#: The one place the verdicts are worded (the PDF, the SR codes and the ORU read it here).
_LABEL_WORDING: dict[ChangeLabel, tuple[str, str]] = {
    ChangeLabel.IMPROVED: ("improved", "Improved"),
    ChangeLabel.WORSENED: ("worsened", "Worsened"),
    ChangeLabel.STABLE: ("stable", "Stable (within minimum detectable change)"),
    ChangeLabel.NO_MDC: ("no MDC", "No verdict (no minimum detectable change known)"),
}


class MeasurementLike(Protocol):
    """Anything with ``key``, ``region`` and ``value``, e.g. :class:`analysis.types.Measurement`."""

    @property
    def key(self) -> str: ...  # noqa: D102

    @property
    def region(self) -> str: ...  # noqa: D102

    @property
    def value(self) -> float: ...  # noqa: D102


@dataclass(frozen=True, slots=True)
class VisitValues:
    """The measurements of one view of one study.

    Parameters
    ----------
    study_date
        Study Date of the visit.
    study_uid
        Study Instance UID (echoed, never logged above DEBUG).
    algorithm_version
        The version of the algorithm that produced the values.
    view
        ``frontal``, ``left``, ``right``, ``close-up`` ... (:class:`analysis.types.View` value).
    values
        ``{(region, key): value}``.
    units
        ``{key: UCUM unit}`` as reported (optional; lengths may be in px when the spacing
        was unknown, in which case values are not comparable with mm values).
    sr_instance_uid
        SOP Instance UID of the SR the values were written to / read from, if known.
    """

    study_date: dt.date
    study_uid: str
    algorithm_version: str
    view: str
    values: Mapping[tuple[str, str], float]
    units: Mapping[str, str] = field(default_factory=dict)
    sr_instance_uid: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.study_date, dt.date):
            raise TypeError(f"study_date must be a datetime.date, got {self.study_date!r}")
        if not self.algorithm_version:
            raise ValueError("algorithm_version must not be empty")
        vals: dict[tuple[str, str], float] = {}
        for rk, v in self.values.items():
            if not (isinstance(rk, tuple) and len(rk) == 2):
                raise ValueError(f"values keys must be (region, key) pairs, got {rk!r}")
            fv = float(v)
            if not math.isfinite(fv):
                raise ValueError(f"values[{rk!r}] is not finite")
            vals[(str(rk[0]), str(rk[1]))] = fv
        object.__setattr__(self, "values", vals)
        object.__setattr__(self, "units", dict(self.units))
        object.__setattr__(self, "view", str(self.view))

    @classmethod
    def from_measurements(
        cls,
        measurements: Iterable[MeasurementLike],
        *,
        study_date: dt.date,
        study_uid: str,
        algorithm_version: str,
        view: str,
        sr_instance_uid: str | None = None,
    ) -> VisitValues:
        """Build from measurement rows (``key``, ``region``, ``value`` and optional ``unit``)."""
        values: dict[tuple[str, str], float] = {}
        units: dict[str, str] = {}
        for m in measurements:
            values[(m.region, m.key)] = float(m.value)
            unit = getattr(m, "unit", None)
            if isinstance(unit, str):
                units[m.key] = unit
        return cls(study_date, study_uid, algorithm_version, view, values, units, sr_instance_uid)


@dataclass(frozen=True, slots=True)
class Change:
    """The change of one key in one region.

    ``previous`` is the latest prior visit's value, ``baseline`` the earliest prior's (the
    same visit when there is one prior). ``delta = current - previous`` and
    ``delta_pct = 100 * delta / |previous|`` (None when ``previous`` is 0);
    ``delta_baseline`` / ``delta_baseline_pct`` likewise against the baseline. ``label`` is
    the verdict on ``delta``, ``label_baseline`` on ``delta_baseline``; ``mdc`` /
    ``mdc_baseline`` are the thresholds the changes were compared with, in the key's units:
    MDC95 of :mod:`analysis.mdc` at the earlier value, times :func:`family_factor` when the
    comparison is family-wise (None without an MDC).
    """

    key: str
    region: str
    previous: float
    current: float
    delta: float
    delta_pct: float | None
    baseline: float
    delta_baseline: float
    delta_baseline_pct: float | None
    label: ChangeLabel
    label_baseline: ChangeLabel
    mdc: float | None
    mdc_baseline: float | None
    unit: str = ""


@dataclass(frozen=True, slots=True)
class ExcludedPrior:
    """A prior visit that was not compared, and why."""

    study_uid: str
    study_date: dt.date
    algorithm_version: str
    view: str
    reason: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """The result of :func:`compare`.

    ``comparable`` is false when no prior of the same algorithm version and view exists
    (``reason`` says why, e.g. the priors were made by another version); ``changes`` is then
    empty. ``previous`` / ``baseline`` are the visits the changes refer to.
    """

    current: VisitValues
    comparable: bool
    reason: str
    previous: VisitValues | None
    baseline: VisitValues | None
    changes: tuple[Change, ...]
    excluded: tuple[ExcludedPrior, ...]
    visits: tuple[VisitValues, ...]  # the compared priors and the current visit, by date

    def change(self, key: str, region: str) -> Change | None:
        """The change of *key* in *region*, or None."""
        for c in self.changes:
            if c.key == key and c.region == region:
                return c
        return None

    def summary(self) -> dict[str, int]:
        """Count of labels (``improved`` / ``worsened`` / ``stable`` / ``no_mdc``)."""
        out = {str(lab): 0 for lab in ChangeLabel}
        for c in self.changes:
            out[str(c.label)] += 1
        return out


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One visit's value of a key in a region, for a trend chart."""

    study_date: dt.date
    study_uid: str
    value: float


MdcLookup = Mapping[tuple[str, str], Mdc] | Mapping[str, float] | None


def family_factor(m: int, alpha: float = 0.05) -> float:
    """The factor on MDC95 that makes *m* labels family-wise (1 - *alpha*) (Bonferroni).

    ``z(1 - alpha / (2 m)) / z(1 - alpha / 2)``: 1.0 for one comparison, ~1.84 for 160.
    """
    if m < 1:
        return 1.0
    nd = NormalDist()
    return nd.inv_cdf(1.0 - alpha / (2.0 * m)) / nd.inv_cdf(1.0 - alpha / 2.0)


def _threshold(
    key: str, region: str, reference: float, mdc: MdcLookup
) -> tuple[float | None, float]:
    """MDC95 of *key* in *region* at *reference* (from *mdc* or the built-in table) and the
    SEM-uncertainty factor of its table row (1.0 for a plain number)."""
    got: Mdc | float | None = None
    if mdc is None:
        got = mdc_for(key, region)
    else:
        try:
            scope = region_class(region)
        except ValueError:
            scope = region
        for k in ((key, region), (key, scope), key):
            if k in mdc:
                got = mdc[k]  # type: ignore[index]
                break
    if got is None:
        return None, 1.0
    if isinstance(got, Mdc):
        return got.threshold(reference), got.upper_factor()
    return float(got), 1.0


def classify(key: str, delta: float, mdc: float | None) -> ChangeLabel:
    """Label a change of *key* by *delta* against the minimum detectable change *mdc*.

    ``|delta| <= mdc`` is ``stable``; beyond it the sign and the key's ``higher_is_worse``
    decide. Without an MDC the label is ``no_mdc``.

    Raises
    ------
    KeyError
        *key* is not a known measurement key.
    """
    info = key_info(key)
    if mdc is None or not math.isfinite(mdc):
        return ChangeLabel.NO_MDC
    if mdc < 0:
        raise ValueError(f"mdc must be >= 0, got {mdc}")
    if abs(delta) <= mdc:
        return ChangeLabel.STABLE
    worse = (delta > 0) == info.higher_is_worse
    return ChangeLabel.WORSENED if worse else ChangeLabel.IMPROVED


def _pct(delta: float, ref: float) -> float | None:
    return None if ref == 0 else 100.0 * delta / abs(ref)


def _exclusion(current: VisitValues, prior: VisitValues) -> str | None:
    if prior.study_uid == current.study_uid:
        return "same study as the current visit"
    if prior.view != current.view:
        return f"different view ({prior.view} vs {current.view})"
    if prior.algorithm_version != current.algorithm_version:
        return (
            f"made by algorithm version {prior.algorithm_version}, current is "
            f"{current.algorithm_version}: values of different versions are not compared"
        )
    if prior.study_date > current.study_date:
        return "later than the current visit"
    return None


def compare(
    current: VisitValues,
    priors: Sequence[VisitValues],
    mdc: MdcLookup = None,
    *,
    family_wise: bool = True,
) -> Comparison:
    """Compare *current* with the *priors* of the same patient.

    Parameters
    ----------
    current
        The visit just analysed.
    priors
        Earlier visits (any order, any view, any version: unusable ones are excluded with a
        reason).
    mdc
        Minimum detectable changes: a table like :data:`analysis.mdc.TABLE`
        (``{(key, region or region class): Mdc}``), or ``{key: float}`` (one absolute MDC
        per key), or None (default) for the benchmark table of :mod:`analysis.mdc`.
    family_wise
        True (default): the thresholds are MDC95 x :func:`family_factor` (m) over the m
        labelled rows of the visit x the table row's :meth:`~analysis.mdc.Mdc.upper_factor`
        (the SEM at its 95 % upper confidence limit), so a pure re-capture gets *any*
        non-stable label with <= 5 % probability (Bonferroni). False: plain MDC95 per row
        (each row 5 %, so about one row in twenty of a re-capture is flagged by chance).
        Either way a change inside MDC95 is never labelled improved or worsened.

    Returns
    -------
    Comparison
        ``comparable`` false (with ``reason``) when no usable prior is left.
    """
    usable: list[VisitValues] = []
    excluded: list[ExcludedPrior] = []
    for p in priors:
        why = _exclusion(current, p)
        if why is None:
            usable.append(p)
        else:
            excluded.append(
                ExcludedPrior(p.study_uid, p.study_date, p.algorithm_version, p.view, why)
            )
    usable.sort(key=lambda v: (v.study_date, v.study_uid))
    if not usable:
        if excluded and all(e.reason.startswith("made by algorithm") for e in excluded):
            versions = sorted({e.algorithm_version for e in excluded})
            reason = (
                f"earlier results were made by algorithm version(s) {', '.join(versions)}, "
                f"this visit by {current.algorithm_version}: not compared"
            )
        elif excluded:
            reason = "no earlier visit of the same view and algorithm version: " + "; ".join(
                sorted({e.reason for e in excluded})
            )
        else:
            reason = "no earlier visit"
        logger.debug("comparison not possible: %s", reason)
        return Comparison(current, False, reason, None, None, (), tuple(excluded), (current,))
    baseline, previous = usable[0], usable[-1]
    rows: list[tuple[str, str, float, float, float, str, float | None, float | None]] = []
    for (region, key), cur in sorted(current.values.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if key.startswith("quality."):
            continue
        try:
            key_info(key)
        except KeyError:
            continue
        if (region, key) not in previous.values or (region, key) not in baseline.values:
            continue
        unit = current.units.get(key, "")
        if previous.units.get(key, unit) != unit or baseline.units.get(key, unit) != unit:
            continue  # e.g. mm now, px then: not comparable
        prev, base = previous.values[(region, key)], baseline.values[(region, key)]
        t, u = _threshold(key, region, prev, mdc)
        tb, ub = _threshold(key, region, base, mdc)
        if family_wise:  # the SEM's upper confidence limit, see Mdc.upper_factor
            t = None if t is None else t * u
            tb = None if tb is None else tb * ub
        rows.append((key, region, cur, prev, base, unit, t, tb))
    factor = family_factor(sum(1 for r in rows if r[6] is not None)) if family_wise else 1.0
    factor_b = family_factor(sum(1 for r in rows if r[7] is not None)) if family_wise else 1.0
    changes: list[Change] = []
    for key, region, cur, prev, base, unit, t, tb in rows:
        d, db = cur - prev, cur - base
        t = None if t is None else t * factor
        tb = None if tb is None else tb * factor_b
        changes.append(
            Change(
                key=key,
                region=region,
                previous=prev,
                current=cur,
                delta=d,
                delta_pct=_pct(d, prev),
                baseline=base,
                delta_baseline=db,
                delta_baseline_pct=_pct(db, base),
                label=classify(key, d, t),
                label_baseline=classify(key, db, tb),
                mdc=t,
                mdc_baseline=tb,
                unit=unit,
            )
        )
    reason = ""
    if excluded:
        reason = f"{len(excluded)} earlier visit(s) not compared (see excluded)"
    logger.debug("compared with %d prior visit(s), %d changes", len(usable), len(changes))
    return Comparison(
        current,
        True,
        reason,
        previous,
        baseline,
        tuple(changes),
        tuple(excluded),
        (*usable, current),
    )


def trend(visits: Sequence[VisitValues], key: str, region: str) -> tuple[TrendPoint, ...]:
    """The values of *key* in *region* over *visits*, by study date (for a trend chart).

    Pass :attr:`Comparison.visits` so that only comparable visits (same version and view)
    are plotted; visits without the value are skipped.
    """
    pts = [
        TrendPoint(v.study_date, v.study_uid, v.values[(region, key)])
        for v in visits
        if (region, key) in v.values
    ]
    return tuple(sorted(pts, key=lambda p: (p.study_date, p.study_uid)))
