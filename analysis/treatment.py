"""Treatment-planning support: the clinic's rules evaluated on one analysis result.

A rule says: *when* these conditions hold, raise this *topic* for the consultation, with this
*priority*, under this *concern*. Conditions look at measurements (per zone), scores (per photo
or per zone), image quality and the changes since earlier visits (MDC-gated verdicts of
:mod:`analysis.progress`). The result lists the concerns ranked by priority, each with its
topics, the ids of the rules that raised them and the values that triggered them.

Everything here is worded as **topics for the clinician to discuss**: a rule never diagnoses
and never prescribes; the clinician decides. The rules are the clinic's own (a YAML file
validated by :mod:`config.rules`); this module only evaluates them, on arrays' results, with no
I/O (it is part of the pure core).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from analysis.keys import CONCERNS, KEYS, key_info
from analysis.mdc import mdc_for
from analysis.progress import ChangeLabel, Comparison, classify, family_factor
from analysis.scores import compute_scores
from analysis.types import AnalysisResult, ImageResult, Measurement

__all__ = [
    "NOTE",
    "Condition",
    "ClinicNorms",
    "ConcernTopics",
    "Course",
    "CourseChange",
    "CourseResponse",
    "Priority",
    "Rule",
    "Topic",
    "TreatmentSupport",
    "Trigger",
    "clinic_norms",
    "course_response",
    "evaluate",
    "zone_scores",
]

logger = logging.getLogger(__name__)

#: Said wherever the support is shown.
NOTE = (
    "Topics for the clinician to discuss, raised by this clinic's own rules from the "
    "measurements; not a diagnosis and not a prescription. The clinician decides."
)

_AGGREGATE = ("face", "skin")


class Priority(IntEnum):
    """A topic's priority (higher value first)."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        """``low`` / ``medium`` / ``high``."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Condition:
    """One test. Exactly one of *measurement*, *score*, *change* or *quality* is set.

    Attributes
    ----------
    measurement
        A measurement key (:mod:`analysis.keys`); compared in *zones*.
    score
        A concern; its 0-100 score, of the photo (no *zones*) or of each zone.
    change
        A measurement key; its change since the *since* visit, in *zones*.
    quality
        ``unusable`` (some photo failed the quality gate) or a quality issue code (``blur``).
    zones
        Regions to look in (any of them may trigger, or all with ``match="all"``); empty means
        the photo level (``face`` for a face photo, else ``skin``).
    above, below
        Thresholds on the value (strictly greater / smaller), or on the change's delta.
    verdict
        For *change*: the MDC-gated verdict required (``improved``, ``worsened``, ``stable``).
    since
        For *change*: ``previous`` (default) or ``baseline``.
    match
        ``any`` (default): one zone meeting the test is enough; ``all``: every listed zone
        that was measured must meet it.
    """

    measurement: str | None = None
    score: str | None = None
    change: str | None = None
    quality: str | None = None
    zones: tuple[str, ...] = ()
    above: float | None = None
    below: float | None = None
    verdict: str | None = None
    since: str = "previous"
    match: str = "any"

    def __post_init__(self) -> None:
        kinds = [k for k in ("measurement", "score", "change", "quality") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(
                "condition: exactly one of measurement, score, change, quality must be set"
            )
        if (
            self.quality is None
            and self.change is None
            and self.above is None
            and (self.below is None)
        ):
            raise ValueError("condition: a measurement or score test needs above or below")
        if (
            self.change is not None
            and self.verdict is None
            and self.above is None
            and (self.below is None)
        ):
            raise ValueError("condition: a change test needs verdict, above or below")
        if self.since not in ("previous", "baseline"):
            raise ValueError("since: must be previous or baseline")
        if self.match not in ("any", "all"):
            raise ValueError("match: must be any or all")

    @property
    def kind(self) -> str:
        """``measurement``, ``score``, ``change`` or ``quality``."""
        for k in ("measurement", "score", "change", "quality"):
            if getattr(self, k):
                return k
        raise AssertionError("unreachable")  # pragma: no cover

    def describe(self) -> str:
        """The condition in words (``pigmentation.spots.area_pct > 2 in cheek_left``)."""
        what = str(getattr(self, self.kind))
        tests = []
        if self.verdict:
            tests.append(f"verdict {self.verdict} since {self.since}")
        if self.above is not None:
            tests.append(f"> {self.above:g}")
        if self.below is not None:
            tests.append(f"< {self.below:g}")
        where = f" in {self.match} of {', '.join(self.zones)}" if self.zones else ""
        return f"{self.kind} {what} {' and '.join(tests)}{where}".strip()


@dataclass(frozen=True, slots=True)
class Rule:
    """A clinic rule: all its conditions hold -> its topic, under its concern and priority."""

    id: str
    concern: str
    topic: str
    priority: Priority
    when: tuple[Condition, ...]

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("id: must not be empty")
        if not self.when:
            raise ValueError(f"rule {self.id}: when must hold at least one condition")


@dataclass(frozen=True, slots=True)
class Trigger:
    """A value that met a condition: where, what, and the test it passed."""

    condition: str  # Condition.describe()
    image: int  # index in AnalysisResult.images
    region: str
    key: str
    value: float | str
    unit: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        value: float | str = round(self.value, 4) if isinstance(self.value, float) else self.value
        return {
            "condition": self.condition,
            "image": self.image,
            "region": self.region,
            "key": self.key,
            "value": value,
            "unit": self.unit,
        }


@dataclass(frozen=True, slots=True)
class Topic:
    """One rule that fired."""

    rule: str
    topic: str
    priority: Priority
    triggers: tuple[Trigger, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "rule": self.rule,
            "topic": self.topic,
            "priority": self.priority.label,
            "triggers": [t.to_json() for t in self.triggers],
        }


@dataclass(frozen=True, slots=True)
class ConcernTopics:
    """The topics raised for one concern; ``priority`` is the highest of them."""

    concern: str
    priority: Priority
    topics: tuple[Topic, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "concern": self.concern,
            "priority": self.priority.label,
            "rules": [t.rule for t in self.topics],
            "topics": [t.to_json() for t in self.topics],
        }


@dataclass(frozen=True, slots=True)
class TreatmentSupport:
    """The rules' result: concerns ranked by priority (then by number of topics, then name)."""

    concerns: tuple[ConcernTopics, ...]
    rules_evaluated: int
    note: str = NOTE
    rule_set: str = ""
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def topics(self) -> tuple[Topic, ...]:
        """All topics, in rank order."""
        return tuple(t for c in self.concerns for t in c.topics)

    def to_json(self) -> dict[str, Any]:
        """The ``treatment_support`` object of the JSON result."""
        return {
            "note": self.note,
            "rule_set": self.rule_set,
            "rules_evaluated": self.rules_evaluated,
            "concerns": [c.to_json() for c in self.concerns],
        }


def zone_scores(image: ImageResult) -> dict[str, dict[str, float]]:
    """Per zone, the concern scores from that zone's own measurements.

    The same documented mapping as the photo's scores (:func:`analysis.scores.compute_scores`),
    applied to one zone's values: ``{zone: {concern: score}}``.
    """
    out: dict[str, dict[str, float]] = {}
    for region in dict.fromkeys(m.region for m in image.measurements):
        if region in _AGGREGATE:
            continue
        own = [
            Measurement(m.key, "skin", m.value, m.unit)
            for m in image.measurements
            if m.region == region
        ]
        scores = compute_scores(own)
        if scores:
            out[region] = scores
    return out


def _passes(value: float, cond: Condition) -> bool:
    if cond.above is not None and not value > cond.above:
        return False
    return not (cond.below is not None and not value < cond.below)


def _regions(cond: Condition, image: ImageResult) -> tuple[str, ...]:
    if cond.zones:
        return cond.zones
    return ("face",) if image.description.view.is_face else ("skin",)


def _combine(
    cond: Condition, found: Sequence[tuple[str, Trigger | None]]
) -> tuple[Trigger, ...] | None:
    """*found*: per region measured, its trigger or None. None when the condition fails."""
    if not found:
        return None
    hits = tuple(t for _, t in found if t is not None)
    if cond.match == "all":
        return hits if len(hits) == len(found) else None
    return hits or None


def _measurement(cond: Condition, i: int, image: ImageResult) -> tuple[Trigger, ...] | None:
    assert cond.measurement is not None
    found: list[tuple[str, Trigger | None]] = []
    for region in _regions(cond, image):
        m = next(
            (x for x in image.measurements if x.key == cond.measurement and x.region == region),
            None,
        )
        if m is None:
            continue
        hit = _passes(m.value, cond)
        trigger = Trigger(cond.describe(), i, region, m.key, float(m.value), m.unit)
        found.append((region, trigger if hit else None))
    return _combine(cond, found)


def _score(
    cond: Condition, i: int, image: ImageResult, per_zone: Mapping[str, Mapping[str, float]]
) -> tuple[Trigger, ...] | None:
    assert cond.score is not None
    found: list[tuple[str, Trigger | None]] = []
    if not cond.zones:
        if cond.score in image.scores:
            v = float(image.scores[cond.score])
            region = _regions(cond, image)[0]
            t = Trigger(cond.describe(), i, region, f"score.{cond.score}", v, "{score}")
            found.append((region, t if _passes(v, cond) else None))
        return _combine(cond, found)
    for region in cond.zones:
        scores = per_zone.get(region, {})
        if cond.score not in scores:
            continue
        v = float(scores[cond.score])
        t = Trigger(cond.describe(), i, region, f"score.{cond.score}", v, "{score}")
        found.append((region, t if _passes(v, cond) else None))
    return _combine(cond, found)


def _change(
    cond: Condition, i: int, image: ImageResult, comparison: Comparison | None
) -> tuple[Trigger, ...] | None:
    assert cond.change is not None
    if comparison is None or not comparison.comparable:
        return None
    found: list[tuple[str, Trigger | None]] = []
    for region in _regions(cond, image):
        ch = comparison.change(cond.change, region)
        if ch is None:
            continue
        base = cond.since == "baseline"
        delta = ch.delta_baseline if base else ch.delta
        label = str(ch.label_baseline if base else ch.label)
        ok = (cond.verdict is None or label == cond.verdict) and _passes(delta, cond)
        t = Trigger(
            cond.describe(), i, region, f"{ch.key}.change_{cond.since}", float(delta), ch.unit
        )
        found.append((region, t if ok else None))
    return _combine(cond, found)


def _quality(cond: Condition, result: AnalysisResult) -> tuple[Trigger, ...] | None:
    hits: list[Trigger] = []
    for i, image in enumerate(result.images):
        if cond.quality == "unusable":
            if not image.quality.usable:
                codes = ", ".join(q.code for q in image.quality.issues if q.blocking)
                hits.append(Trigger(cond.describe(), i, "image", "quality.usable", codes or "no"))
        else:
            for issue in image.quality.issues:
                if issue.code == cond.quality:
                    hits.append(Trigger(cond.describe(), i, "image", "quality.issue", issue.code))
    return tuple(hits) or None


def _holds(
    cond: Condition,
    result: AnalysisResult,
    comparisons: Sequence[Comparison | None],
    per_zone: Sequence[Mapping[str, Mapping[str, float]]],
) -> tuple[Trigger, ...] | None:
    if cond.kind == "quality":
        return _quality(cond, result)
    hits: list[Trigger] = []
    for i, image in enumerate(result.images):
        if not image.quality.usable:
            continue
        if cond.kind == "measurement":
            found = _measurement(cond, i, image)
        elif cond.kind == "score":
            found = _score(cond, i, image, per_zone[i])
        else:
            found = _change(cond, i, image, comparisons[i])
        if found:
            hits.extend(found)
    return tuple(hits) or None


def evaluate(
    rules: Sequence[Rule],
    result: AnalysisResult,
    comparisons: Sequence[Comparison | None] | None = None,
    *,
    rule_set: str = "",
) -> TreatmentSupport:
    """Evaluate the clinic's *rules* on *result*.

    A rule fires when every condition holds in at least one usable photo (each condition may
    be met by a different photo of the study: the study is judged as a whole).

    Parameters
    ----------
    rules
        The clinic's rules (:func:`config.rules.load_rules` builds them from YAML).
    result
        The analysis result.
    comparisons
        Per image of ``result.images`` (same order), the comparison with earlier visits or
        None; change conditions never hold without one.
    rule_set
        A label of the rules (e.g. the file name and its version), echoed in the output.

    Raises
    ------
    ValueError
        When *comparisons* and ``result.images`` differ in length.
    """
    comps: Sequence[Comparison | None] = (
        comparisons if comparisons is not None else [None] * len(result.images)
    )
    if len(comps) != len(result.images):
        raise ValueError(f"comparisons: {len(comps)} entries for {len(result.images)} images")
    per_zone = [zone_scores(img) if img.quality.usable else {} for img in result.images]
    fired: dict[str, list[Topic]] = {}
    for rule in rules:
        triggers: list[Trigger] = []
        for cond in rule.when:
            found = _holds(cond, result, comps, per_zone)
            if found is None:
                break
            triggers.extend(found)
        else:
            topic = Topic(rule.id, rule.topic, rule.priority, tuple(triggers))
            fired.setdefault(rule.concern, []).append(topic)
    concerns = [
        ConcernTopics(
            concern,
            max(t.priority for t in topics),
            tuple(sorted(topics, key=lambda t: (-t.priority, t.rule))),
        )
        for concern, topics in fired.items()
    ]
    concerns.sort(key=lambda c: (-c.priority, -len(c.topics), c.concern))
    logger.debug("treatment rules: %d of %d fired", sum(len(v) for v in fired.values()), len(rules))
    return TreatmentSupport(tuple(concerns), len(rules), rule_set=rule_set)


# --------------------------------------------------------------------------- treatment course


@dataclass(frozen=True, slots=True)
class Course:
    """A treatment course recorded for a patient (by ``dermnode course add``).

    Attributes
    ----------
    name
        What the clinic calls it (``Laser toning``).
    protocol
        Free text (``1064 nm, every 2 weeks``).
    start_date
        The day the course began.
    sessions
        The number of sessions planned (None when open).
    """

    name: str
    protocol: str
    start_date: dt.date
    sessions: int | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("name: must not be empty")
        if self.sessions is not None and self.sessions < 1:
            raise ValueError("sessions: must be >= 1")


@dataclass(frozen=True, slots=True)
class CourseChange:
    """One concern's response since the course began: its key, region, the value at the
    course's baseline visit and now, the change and the MDC-gated verdict."""

    concern: str
    key: str
    region: str
    start_value: float
    current: float
    delta: float
    mdc: float | None
    label: ChangeLabel
    unit: str = ""


@dataclass(frozen=True, slots=True)
class CourseResponse:
    """Each concern's response since *course* began (``reason`` says why there is none)."""

    course: Course
    baseline_date: dt.date | None
    changes: tuple[CourseChange, ...]
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``course`` object of the JSON result."""
        return {
            "name": self.course.name,
            "protocol": self.course.protocol,
            "start_date": self.course.start_date.isoformat(),
            "sessions": self.course.sessions,
            "baseline_date": None if self.baseline_date is None else self.baseline_date.isoformat(),
            "reason": self.reason,
            "changes": [
                {
                    "concern": c.concern,
                    "key": c.key,
                    "region": c.region,
                    "start_value": c.start_value,
                    "current": c.current,
                    "delta": c.delta,
                    "mdc": c.mdc,
                    "label": str(c.label),
                    "unit": c.unit,
                }
                for c in self.changes
            ],
        }


def _concern_key(comparison: Comparison, concern: str, top: str) -> tuple[str, str] | None:
    keys = [k.key for k in KEYS if k.concern == concern]
    current = comparison.current.values
    for key in keys:
        if (top, key) in current:
            return key, top
    for key in keys:
        for region, k in current:
            if k == key:
                return key, region
    return None


def course_response(course: Course, comparison: Comparison, *, top: str = "face") -> CourseResponse:
    """Each concern's change from the course's baseline visit to this visit.

    The baseline is the latest compared visit on or before the course's start date (the
    state before treatment). Per concern, its first key (:data:`analysis.keys.KEYS` order)
    measured in region *top* (else in any region); the change is gated by the key's MDC95 at
    the baseline value, widened family-wise for the number of concerns compared (as
    :func:`analysis.progress.compare` does), so a change inside the measurement noise is
    ``stable``, never an improvement.
    """
    if not comparison.comparable:
        return CourseResponse(course, None, (), comparison.reason or "not compared")
    earlier = [
        v
        for v in comparison.visits
        if v.study_uid != comparison.current.study_uid and v.study_date <= course.start_date
    ]
    if not earlier:
        return CourseResponse(
            course, None, (), "no compared visit on or before the day the course began"
        )
    base = max(earlier, key=lambda v: v.study_date)
    rows: list[tuple[str, str, str, float, float, float | None, str]] = []
    for concern in CONCERNS:
        found = _concern_key(comparison, concern, top)
        if found is None:
            continue
        key, region = found
        if (region, key) not in base.values:
            continue
        start = float(base.values[(region, key)])
        now = float(comparison.current.values[(region, key)])
        m = mdc_for(key, region)
        threshold = None if m is None else m.threshold(start) * m.upper_factor()
        unit = comparison.current.units.get(key, key_info(key).unit)
        rows.append((concern, key, region, start, now, threshold, unit))
    factor = family_factor(sum(1 for r in rows if r[5] is not None))
    changes = []
    for concern, key, region, start, now, threshold, unit in rows:
        mdc = None if threshold is None else threshold * factor
        delta = now - start
        changes.append(
            CourseChange(
                concern, key, region, start, now, delta, mdc, classify(key, delta, mdc), unit
            )
        )
    return CourseResponse(course, base.study_date, tuple(changes))


# --------------------------------------------------------------------------- clinic norms

#: Earlier patients of the same sex and age band needed before percentiles are shown.
NORMS_MINIMUM = 30


@dataclass(frozen=True, slots=True)
class ClinicNorms:
    """Each concern's percentile among this clinic's own earlier patients of the same sex and
    age band (``percentiles`` empty and ``reason`` set when there are not enough)."""

    patient_sex: str
    age_band: str
    patients: int
    percentiles: Mapping[str, float]
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``clinic_norms`` object of the JSON result."""
        return {
            "population": "this clinic's own earlier patients of the same sex and age band",
            "patient_sex": self.patient_sex,
            "age_band": self.age_band,
            "patients": self.patients,
            "percentiles": {k: round(v, 1) for k, v in self.percentiles.items()},
            "reason": self.reason,
        }


def clinic_norms(
    scores: Mapping[str, float],
    cohort: Sequence[Mapping[str, float]],
    *,
    patient_sex: str,
    age_band: str,
    minimum: int = NORMS_MINIMUM,
) -> ClinicNorms:
    """Each concern's percentile of *scores* among *cohort* (one score mapping per earlier
    patient: their latest visit), or the reason there is none.

    The percentile is the mid-rank: ``100 * (below + equal / 2) / n`` over the patients who
    have that concern's score. With fewer than *minimum* patients (or an unknown sex or age
    band) no percentile is given.
    """
    if not patient_sex or not age_band:
        return ClinicNorms(patient_sex, age_band, 0, {}, "the patient's sex or age is unknown")
    n = len(cohort)
    if n < minimum:
        return ClinicNorms(
            patient_sex,
            age_band,
            n,
            {},
            f"not enough earlier patients of the same sex and age band ({n} < {minimum})",
        )
    out: dict[str, float] = {}
    for concern, value in scores.items():
        others = [c[concern] for c in cohort if concern in c]
        if len(others) < minimum:
            continue
        below = sum(1 for o in others if o < value)
        equal = sum(1 for o in others if o == value)
        out[concern] = 100.0 * (below + equal / 2.0) / len(others)
    return ClinicNorms(patient_sex, age_band, n, out)
