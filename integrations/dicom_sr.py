"""The TID 1500 Measurement Report of an analysis result (Comprehensive 3D SR).

Why Comprehensive 3D SR and not Enhanced SR: TID 1500 is defined for both, but a measurement
group that points at a segment of a Segmentation (TID 1410 "Referenced Segmentation Frame")
needs IMAGE references with Referenced Segment Number and may carry SCOORD regions; the
Comprehensive 3D SR IOD (PS3.3 A.35.13) is the one that allows every value type and
relationship TID 1500 uses, it is what highdicom's TID 1500 builder targets, and it is the SOP
class of the IHE AI Results profile. Enhanced SR forbids SCOORD3D and by-reference
relationships, which a future 3-D or longitudinal extension would need.

Document structure (one document for all photos of a study)::

    Imaging Measurement Report (TID 1500)
     ├─ language, observer = device (DermNode, algorithm name and version)
     ├─ procedure reported: 99DRMN "Photographic skin analysis"
     ├─ Image Library: the source photos (TID 1600)
     └─ Imaging Measurements
         ├─ group per photo and zone (TID 1410 when the zone is a SEG segment, else TID 1501)
         │    Tracking Identifier "<view>/<zone>" + Tracking UID (patient, view, zone)
         │    Finding Site: SNOMED CT from CID 4029 (+ laterality / topographical modifier)
         │    Referenced Segmentation Frame -> the zone's segment in that photo's SEG
         │    NUM items: one per key measured in the zone, 99DRMN concept, UCUM unit
         ├─ after each group, its outline group (TID 1410, same Tracking Identifier/UID):
         │    SCOORD "Image Region" = closed POLYLINE of the zone on the source photo
         │    (SELECTED FROM the photo); the photo's border where there is no mask.
         │    TID 1410 takes one region per group (Image Region XOR Referenced Segment),
         │    so the outline is a second group of the same tracked finding; viewers that
         │    draw SR regions (OHIF merges groups by Tracking UID) show it with the values.
         ├─ per photo one image-level group ("face" or "skin") that also holds
         │    the concern scores, the quality verdict as qualitative evaluations
         │    (usable yes/no, face found, each warning / failure with its text) and
         │    every concern not assessed (coded "Not assessed" + the reason as TEXT).
         └─ with study-level values (``result.study``, analysis.fusion), one TID 1501 group
              per fused zone, Tracking Identifier "study/<zone>": each NUM inferred from the
              photo it came from, with the spread between the views (VIEW-SPREAD) as a
              property; the zone's view angle; the chosen view (STUDY-VIEW) and each key the
              views disagree about (VIEWS-DISAGREE) as qualitative evaluations.

Progress (only when the photo has a comparison, ``build_sr(progress=...)``)::

    NUM <key> (as above)
     ├─ HAS PROPERTIES NUM  Change since previous visit        [key unit]
     ├─ HAS PROPERTIES NUM  Relative change since previous visit [%] (not when previous = 0)
     ├─ HAS PROPERTIES NUM  Minimum detectable change, previous visit [key unit] (if known)
     ├─ HAS PROPERTIES CODE Change since previous visit verdict = improved / worsened /
     │                      stable / no verdict (99DRMN CHG-*)
     └─ the same four for the baseline (first) visit
    image-level group, qualitative evaluation:
    CODE Compared with earlier visits = Yes / No
     ├─ TEXT Comment: why not compared / how many priors were left out
     ├─ UIDREF previous visit Study Instance UID, UIDREF its SR SOP Instance UID, DATE
     ├─ UIDREF / UIDREF / DATE of the baseline visit
     └─ TEXT Earlier visit not compared: date, view, version and the reason, per prior

Treatment-planning support (only with clinic rules, ``build_sr(treatment=...)``), in the first
photo's image-level group::

    CODE Treatment-planning support (99DRMN TX-SUPPORT) = Yes
     ├─ TEXT Comment: topics for the clinician, not a diagnosis or prescription
     └─ TEXT Comment: the rule set and how many rules were evaluated
    CODE Topic for the consultation (TX-TOPIC) = High / Medium / Low priority (TX-PRI-*),
         one per topic in rank order
     ├─ TEXT Comment: the topic
     ├─ TEXT Clinic rule identifier (TX-RULE): the rule id
     ├─ TEXT Concern of the topic (TX-CONCERN)
     └─ TEXT Value that raised the topic (TX-TRIGGER), per triggering value

The groups keep their Tracking Identifier and Tracking UID, which depend only on the patient,
the view and the zone, so a comparison sits in the group that tracks the same zone in the
earlier SRs.

Tracking. A group holds several keys, so the tracking identity of one number is the pair
(group Tracking UID, measurement concept): the Tracking UID is derived from the patient ID and
issuer, the view and the zone (:func:`integrations.uids.tracking_uid`) and so is the same at
every visit; the concept code of each key never changes. A viewer that follows a Tracking UID
across studies finds the same zone and reads the same keys inside it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import highdicom as hd
import numpy as np
import numpy.typing as npt
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from analysis.fusion import StudyFusion, ZoneSource
from analysis.progress import Change, Comparison, VisitValues
from analysis.treatment import TreatmentSupport
from analysis.types import ZONES, AnalysisResult, ImageResult, Measurement, SpacingSource
from integrations.codes import (
    CONCEPT_BASELINE_DATE,
    CONCEPT_BASELINE_SR,
    CONCEPT_BASELINE_STUDY,
    CONCEPT_CHANGE_BASELINE,
    CONCEPT_CHANGE_BASELINE_PCT,
    CONCEPT_CHANGE_PREVIOUS,
    CONCEPT_CHANGE_PREVIOUS_PCT,
    CONCEPT_COMPARED,
    CONCEPT_EXCLUDED_PRIOR,
    CONCEPT_FACE_FOUND,
    CONCEPT_FINDING_QUALITY,
    CONCEPT_FINDING_STUDY,
    CONCEPT_FINDING_ZONE,
    CONCEPT_HEAD_PITCH,
    CONCEPT_HEAD_ROLL,
    CONCEPT_HEAD_YAW,
    CONCEPT_IMAGE_USABLE,
    CONCEPT_LABEL_BASELINE,
    CONCEPT_LABEL_PREVIOUS,
    CONCEPT_MDC_BASELINE,
    CONCEPT_MDC_PREVIOUS,
    CONCEPT_NOT_ASSESSED,
    CONCEPT_PREVIOUS_DATE,
    CONCEPT_PREVIOUS_SR,
    CONCEPT_PREVIOUS_STUDY,
    CONCEPT_PROCEDURE,
    CONCEPT_QUALITY_BLOCKING,
    CONCEPT_QUALITY_ISSUE,
    CONCEPT_SPACING_ESTIMATED,
    CONCEPT_SPACING_UNKNOWN,
    CONCEPT_STUDY_VIEW,
    CONCEPT_TX_CONCERN,
    CONCEPT_TX_RULE,
    CONCEPT_TX_SUPPORT,
    CONCEPT_TX_TOPIC,
    CONCEPT_TX_TRIGGER,
    CONCEPT_VIEW_ANGLE,
    CONCEPT_VIEW_SPREAD,
    CONCEPT_VIEWS_DISAGREE,
    DRMN_SCHEME,
    SCT_NO,
    SCT_YES,
    TX_PRIORITY_CODES,
    VIEW_CODES,
    change_label_code,
    key_code,
    not_assessed_code,
    quality_issue_code,
    ucum,
    zone_site,
)
from integrations.dicom_common import (
    SERIES_NUMBERS,
    Equipment,
    apply_character_set,
    set_series_date_time,
)
from integrations.dicom_seg import SegmentRef, SegOutput, tracking_ids
from integrations.errors import EncodingError
from integrations.uids import OutputUids, derive_uid

__all__ = [
    "COMPOSITE_REGIONS",
    "COMPREHENSIVE_3D_SR",
    "build_sr",
    "image_level_region",
    "region_order",
    "zone_outline",
]

logger = logging.getLogger(__name__)

COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
_COMMENT = CodedConcept(value="121106", scheme_designator="DCM", meaning="Comment")


def image_level_region(image: ImageResult) -> str:
    """The region that stands for the whole photo: ``face`` on a face view, else ``skin``."""
    return "face" if image.description.view.is_face else "skin"


def region_order(image: ImageResult) -> list[str]:
    """The regions of *image* that get a measurement group, in display order."""
    present: list[str] = []
    for name in [m.region for m in image.measurements] + [z.region for z in image.zones]:
        if name not in present:
            present.append(name)
    top = image_level_region(image)
    known = [str(z) for z in ZONES]
    ordered = [r for r in known if r in present]
    ordered += [r for r in present if r not in ordered and r != top]
    return [*ordered, top]


@dataclass(frozen=True, slots=True)
class _Ctx:
    image: ImageResult
    source: Dataset
    segments: dict[str, SegmentRef]
    algorithm: hd.sr.AlgorithmIdentification
    comparison: Comparison | None = None
    treatment: TreatmentSupport | None = None


def _text(value: str, name: CodedConcept = _COMMENT) -> hd.sr.TextContentItem:
    return hd.sr.TextContentItem(
        name=name,
        value=value[:1024],
        relationship_type=hd.sr.RelationshipTypeValues.HAS_PROPERTIES,
    )


def _evaluation(
    name: CodedConcept, value: CodedConcept, text: str | None = None
) -> hd.sr.QualitativeEvaluation:
    evaluation = hd.sr.QualitativeEvaluation(name=name, value=value)
    if text:
        evaluation[0].ContentSequence = hd.sr.ContentSequence([_text(text)])
    return evaluation


def _measurement(m: Measurement, source: Dataset, *, with_image: bool) -> hd.sr.Measurement:
    refs = (
        [hd.sr.SourceImageForMeasurement(str(source.SOPClassUID), str(source.SOPInstanceUID))]
        if with_image
        else None
    )
    try:
        return hd.sr.Measurement(
            name=key_code(m.key),
            value=float(m.value),
            unit=ucum(m.unit),
            referenced_images=refs,
        )
    except ValueError as exc:
        raise EncodingError(f"measurement {m.key}/{m.region}: {exc}") from exc


_HAS_PROPERTIES = hd.sr.RelationshipTypeValues.HAS_PROPERTIES


def _num(name: CodedConcept, value: float, unit: str) -> hd.sr.NumContentItem:
    return hd.sr.NumContentItem(
        name=name, value=float(value), unit=ucum(unit), relationship_type=_HAS_PROPERTIES
    )


def _change_items(change: Change, unit: str) -> list[hd.sr.ContentItem]:
    """The comparison of one key in one zone, as properties of its NUM item.

    Changes are in the key's unit, relative changes in percent of the earlier value (left
    out when that value is 0), the MDC is the threshold the change was judged against (left
    out when the key has none) and the verdicts are 99DRMN codes.
    """
    items: list[hd.sr.ContentItem] = [_num(CONCEPT_CHANGE_PREVIOUS, change.delta, unit)]
    if change.delta_pct is not None:
        items.append(_num(CONCEPT_CHANGE_PREVIOUS_PCT, change.delta_pct, "%"))
    if change.mdc is not None:
        items.append(_num(CONCEPT_MDC_PREVIOUS, change.mdc, unit))
    items.append(
        hd.sr.CodeContentItem(
            name=CONCEPT_LABEL_PREVIOUS,
            value=change_label_code(str(change.label)),
            relationship_type=_HAS_PROPERTIES,
        )
    )
    items.append(_num(CONCEPT_CHANGE_BASELINE, change.delta_baseline, unit))
    if change.delta_baseline_pct is not None:
        items.append(_num(CONCEPT_CHANGE_BASELINE_PCT, change.delta_baseline_pct, "%"))
    if change.mdc_baseline is not None:
        items.append(_num(CONCEPT_MDC_BASELINE, change.mdc_baseline, unit))
    items.append(
        hd.sr.CodeContentItem(
            name=CONCEPT_LABEL_BASELINE,
            value=change_label_code(str(change.label_baseline)),
            relationship_type=_HAS_PROPERTIES,
        )
    )
    return items


def _append_children(item: Dataset, children: Sequence[hd.sr.ContentItem]) -> None:
    if "ContentSequence" in item:
        for child in children:
            item.ContentSequence.append(child)
    else:
        item.ContentSequence = hd.sr.ContentSequence(list(children))


def _visit_refs(
    visit: VisitValues, study: CodedConcept, sr: CodedConcept, date: CodedConcept
) -> list[hd.sr.ContentItem]:
    items: list[hd.sr.ContentItem] = [
        hd.sr.UIDRefContentItem(
            name=study, value=visit.study_uid, relationship_type=_HAS_PROPERTIES
        )
    ]
    if visit.sr_instance_uid:
        items.append(
            hd.sr.UIDRefContentItem(
                name=sr, value=visit.sr_instance_uid, relationship_type=_HAS_PROPERTIES
            )
        )
    items.append(
        hd.sr.DateContentItem(name=date, value=visit.study_date, relationship_type=_HAS_PROPERTIES)
    )
    return items


def _comparison_evaluation(comparison: Comparison) -> hd.sr.QualitativeEvaluation:
    """Whether this photo was compared with earlier visits, with what and, if not, why.

    CODE "Compared with earlier visits" = Yes / No, with as properties: the reason (TEXT
    Comment) when not compared or when priors were left out, the previous and baseline
    visits (UIDREF Study Instance UID, UIDREF SR SOP Instance UID when known, DATE) and one
    TEXT per earlier visit that was not compared (its date and the reason).
    """
    evaluation = hd.sr.QualitativeEvaluation(
        name=CONCEPT_COMPARED, value=SCT_YES if comparison.comparable else SCT_NO
    )
    children: list[hd.sr.ContentItem] = []
    if comparison.reason:
        children.append(_text(comparison.reason))
    if comparison.previous is not None:
        children += _visit_refs(
            comparison.previous, CONCEPT_PREVIOUS_STUDY, CONCEPT_PREVIOUS_SR, CONCEPT_PREVIOUS_DATE
        )
    if comparison.baseline is not None:
        children += _visit_refs(
            comparison.baseline, CONCEPT_BASELINE_STUDY, CONCEPT_BASELINE_SR, CONCEPT_BASELINE_DATE
        )
    for ex in comparison.excluded:
        children.append(
            _text(
                f"{ex.study_date.isoformat()} ({ex.view}, version {ex.algorithm_version}): "
                f"{ex.reason}",
                CONCEPT_EXCLUDED_PRIOR,
            )
        )
    if children:
        evaluation[0].ContentSequence = hd.sr.ContentSequence(children)
    return evaluation


def _treatment_evaluations(support: TreatmentSupport) -> list[hd.sr.QualitativeEvaluation]:
    """The clinic rules' topics: one CODE "Treatment-planning support" = Yes with the note and
    the rule set as TEXT, then per topic (in rank order) CODE "Topic for the consultation" =
    its priority, with TEXT children: the topic (Comment), the rule id, the concern and each
    triggering value."""
    head = hd.sr.QualitativeEvaluation(name=CONCEPT_TX_SUPPORT, value=SCT_YES)
    notes = [_text(support.note)]
    notes.append(
        _text(
            f"rule set: {support.rule_set or 'clinic rules'}; "
            f"{support.rules_evaluated} rule(s) evaluated"
        )
    )
    head[0].ContentSequence = hd.sr.ContentSequence(notes)
    out = [head]
    for concern in support.concerns:
        for topic in concern.topics:
            ev = hd.sr.QualitativeEvaluation(
                name=CONCEPT_TX_TOPIC, value=TX_PRIORITY_CODES[topic.priority.label]
            )
            children = [
                _text(topic.topic),
                _text(topic.rule, CONCEPT_TX_RULE),
                _text(concern.concern, CONCEPT_TX_CONCERN),
            ]
            for t in topic.triggers:
                value = f"{t.value:g}" if isinstance(t.value, float) else t.value
                unit = f" {t.unit}" if t.unit else ""
                children.append(
                    _text(
                        f"{t.condition}: {t.key} = {value}{unit} ({t.region}, photo {t.image + 1})",
                        CONCEPT_TX_TRIGGER,
                    )
                )
            ev[0].ContentSequence = hd.sr.ContentSequence(children)
            out.append(ev)
    return out


def _pose_measurements(
    image: ImageResult, source: Dataset, *, with_image: bool
) -> list[hd.sr.Measurement]:
    """Head yaw, pitch and roll of the photo (degrees), where the face mesh measured them."""
    if image.pose is None:
        return []
    refs = (
        [hd.sr.SourceImageForMeasurement(str(source.SOPClassUID), str(source.SOPInstanceUID))]
        if with_image
        else None
    )
    pose = image.pose.to_json()
    return [
        hd.sr.Measurement(name=name, value=pose[key], unit=ucum("deg"), referenced_images=refs)
        for name, key in (
            (CONCEPT_HEAD_YAW, "yaw_deg"),
            (CONCEPT_HEAD_PITCH, "pitch_deg"),
            (CONCEPT_HEAD_ROLL, "roll_deg"),
        )
    ]


def _quality_evaluations(image: ImageResult) -> list[hd.sr.QualitativeEvaluation]:
    q = image.quality
    out = [
        _evaluation(CONCEPT_IMAGE_USABLE, SCT_YES if q.usable else SCT_NO),
        _evaluation(CONCEPT_FACE_FOUND, SCT_YES if q.face_found else SCT_NO),
    ]
    for issue in q.issues:
        name = CONCEPT_QUALITY_BLOCKING if issue.blocking else CONCEPT_QUALITY_ISSUE
        out.append(_evaluation(name, quality_issue_code(issue.code), issue.message))
    if image.spacing.source is SpacingSource.ESTIMATED:
        out.append(
            _evaluation(
                CONCEPT_SPACING_ESTIMATED,
                SCT_YES,
                f"lengths and areas use an estimated pixel spacing of {image.spacing.value} mm",
            )
        )
    elif image.spacing.source is SpacingSource.UNKNOWN:
        out.append(
            _evaluation(
                CONCEPT_SPACING_UNKNOWN, SCT_YES, "pixel spacing unknown: lengths are in pixels"
            )
        )
    for na in image.not_assessed:
        out.append(_evaluation(not_assessed_code(na.key), CONCEPT_NOT_ASSESSED, na.reason))
    return out


def _group(
    ctx: _Ctx, region: str, *, top: bool
) -> (
    hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations
    | hd.sr.MeasurementsAndQualitativeEvaluations
):
    image = ctx.image
    view = str(image.description.view)
    identifier, tuid = tracking_ids(ctx.source, view, region)
    site = zone_site(region)
    finding_sites = (
        [
            hd.sr.FindingSite(
                site.site, laterality=site.laterality, topographical_modifier=site.modifier
            )
        ]
        if site is not None
        else None
    )
    segment = ctx.segments.get(f"zone:{region}")
    comparison = ctx.comparison
    measurements = []
    for m in image.measurements:
        if m.region != region:
            continue
        item = _measurement(m, ctx.source, with_image=segment is None)
        change = comparison.change(m.key, region) if comparison is not None else None
        if change is not None:
            try:
                _append_children(item[0], _change_items(change, m.unit))
            except ValueError as exc:
                raise EncodingError(f"change of {m.key}/{region}: {exc}") from exc
        measurements.append(item)
    if top:
        measurements += [
            _measurement(
                Measurement(f"score.{concern}", region, float(score), "{score}"),
                ctx.source,
                with_image=segment is None,
            )
            for concern, score in image.scores.items()
        ]
        measurements += _pose_measurements(image, ctx.source, with_image=segment is None)
    evaluations = _quality_evaluations(image) if top else None
    if top and comparison is not None and evaluations is not None:
        evaluations.append(_comparison_evaluation(comparison))
    if top and ctx.treatment is not None and evaluations is not None:
        evaluations += _treatment_evaluations(ctx.treatment)
    finding_type = CONCEPT_FINDING_QUALITY if top and not image.quality.usable else None
    kwargs: dict[str, Any] = {
        "tracking_identifier": hd.sr.TrackingIdentifier(uid=tuid, identifier=identifier),
        "finding_type": finding_type or CONCEPT_FINDING_ZONE,
        "algorithm_id": ctx.algorithm,
        "finding_sites": finding_sites,
        "measurements": measurements or None,
        "qualitative_evaluations": evaluations or None,
    }
    if segment is not None:
        return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            referenced_segment=hd.sr.ReferencedSegmentationFrame(
                sop_class_uid=segment.sop_class_uid,
                sop_instance_uid=segment.sop_instance_uid,
                frame_number=segment.frame_number,
                segment_number=segment.segment_number,
                source_image=hd.sr.SourceImageForSegmentation(
                    str(ctx.source.SOPClassUID), str(ctx.source.SOPInstanceUID)
                ),
            ),
            **kwargs,
        )
    return hd.sr.MeasurementsAndQualitativeEvaluations(**kwargs)


def _study_group(
    zone: ZoneSource,
    study: StudyFusion,
    source: Dataset,
    number: int,
    algorithm: hd.sr.AlgorithmIdentification,
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """The study-level group of one zone (TID 1501): the fused values, each inferred from the
    photo it came from, with the spread between the views as a property; the chosen view and
    every key the views disagree about as qualitative evaluations."""
    identifier, tuid = tracking_ids(source, "study", zone.region)
    site = zone_site(zone.region)
    finding_sites = (
        [
            hd.sr.FindingSite(
                site.site, laterality=site.laterality, topographical_modifier=site.modifier
            )
        ]
        if site is not None
        else None
    )
    measurements: list[hd.sr.Measurement] = []
    evaluations: list[hd.sr.QualitativeEvaluation] = []
    angle = "" if zone.view_angle_deg is None else f", view angle {zone.view_angle_deg:.0f} deg"
    evaluations.append(
        _evaluation(
            CONCEPT_STUDY_VIEW,
            VIEW_CODES.get(zone.view, VIEW_CODES["frontal"]),
            f"photo {number}{angle}",
        )
    )
    for v in study.values:
        if v.region != zone.region:
            continue
        item = _measurement(Measurement(v.key, v.region, v.value, v.unit), source, with_image=True)
        if v.spread_pct is not None:
            _append_children(item[0], [_num(CONCEPT_VIEW_SPREAD, round(v.spread_pct, 1), "%")])
        measurements.append(item)
        if v.disagreement:
            spread = 0.0 if v.spread_pct is None else v.spread_pct
            evaluations.append(
                _evaluation(
                    CONCEPT_VIEWS_DISAGREE,
                    key_code(v.key),
                    f"spread {spread:.0f} % between {v.n_views} photos "
                    f"(flagged above {study.disagreement_pct:g} %)",
                )
            )
    if zone.view_angle_deg is not None:
        refs = [
            hd.sr.SourceImageForMeasurement(str(source.SOPClassUID), str(source.SOPInstanceUID))
        ]
        measurements.append(
            hd.sr.Measurement(
                name=CONCEPT_VIEW_ANGLE,
                value=float(zone.view_angle_deg),
                unit=ucum("deg"),
                referenced_images=refs,
            )
        )
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=tuid, identifier=identifier),
        finding_type=CONCEPT_FINDING_STUDY,
        algorithm_id=algorithm,
        finding_sites=finding_sites,
        measurements=measurements or None,
        qualitative_evaluations=evaluations,
    )


def _study_groups(
    result: AnalysisResult,
    pairs: Sequence[tuple[ImageResult, Dataset]],
    algorithm: hd.sr.AlgorithmIdentification,
) -> list[
    hd.sr.MeasurementsAndQualitativeEvaluations
    | hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations
]:
    """One study-level group per fused zone whose source photo is in the SR (the photo
    number counts ``result.images``, as in the ORU and the PDF), each followed by the zone's
    outline on that photo under the same Tracking UID (as the per-photo groups are: OHIF
    needs an image region in every group it reads)."""
    study = result.study
    if study is None:
        return []
    numbers = {image.source: n for n, image in enumerate(result.images, start=1)}
    by_source = {image.source: (image, source) for image, source in pairs}
    out: list[
        hd.sr.MeasurementsAndQualitativeEvaluations
        | hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations
    ] = []
    for zone in study.zones:
        if zone.source not in by_source:
            continue
        image, source = by_source[zone.source]
        number = numbers.get(zone.source, 0)
        try:
            out.append(_study_group(zone, study, source, number, algorithm))
        except ValueError as exc:
            raise EncodingError(f"study-level group {zone.region}: {exc}") from exc
        ctx = _Ctx(image, source, {}, algorithm, None, None)
        out.append(
            _region_group(
                ctx, zone.region, top=False, track_as="study", finding=CONCEPT_FINDING_STUDY
            )
        )
    return out


#: Regions measured over several zones: outlined from their union. The same parts as
#: ``analysis.measures.oil.T_ZONE`` / ``U_ZONE`` (a test keeps them equal; not imported here,
#: which would load torch into the encoder).
COMPOSITE_REGIONS: dict[str, tuple[str, ...]] = {
    "t_zone": ("forehead", "glabella", "nose", "chin"),
    "u_zone": ("cheek_left", "cheek_right"),
}

#: Most vertices of one zone outline; more are simplified away (a viewer draws them all).
MAX_OUTLINE_POINTS = 64


def zone_outline(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float32] | None:
    """The closed outline of a zone mask as SCOORD ``POLYLINE`` graphic data.

    The largest outer contour (``cv2.findContours``), simplified with Douglas-Peucker
    (``cv2.approxPolyDP``, tolerance 0.2 % of the perimeter, raised until at most
    :data:`MAX_OUTLINE_POINTS` vertices remain), in image pixel coordinates (column, row)
    of the pixel centres: PS3.3 C.18.6.1.2 puts (0, 0) at the top left corner of the top
    left pixel, so 0.5 is added. The first point is repeated at the end, which makes the
    polyline closed (PS3.3 C.18.6.1.1). None for an empty mask or one without area.
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if not m.any():
        return None
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    perimeter = cv2.arcLength(contour, True)
    epsilon = max(0.002 * perimeter, 0.5)
    simple = cv2.approxPolyDP(contour, epsilon, True)
    while len(simple) > MAX_OUTLINE_POINTS:
        epsilon *= 1.5
        simple = cv2.approxPolyDP(contour, epsilon, True)
    if len(simple) < 3:
        return None
    points = simple.reshape(-1, 2).astype(np.float32) + np.float32(0.5)
    return np.vstack([points, points[:1]])


def _frame_outline(rows: int, columns: int) -> npt.NDArray[np.float32]:
    """The border of the whole photo as a closed polyline (pixel-edge coordinates)."""
    return np.array([[0, 0], [columns, 0], [columns, rows], [0, rows], [0, 0]], dtype=np.float32)


def _region_group(
    ctx: _Ctx,
    region: str,
    *,
    top: bool,
    track_as: str | None = None,
    finding: CodedConcept | None = None,
) -> hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations:
    """The image region of a tracked zone: a TID 1410 group with the zone outline.

    It carries the same Tracking Identifier and Tracking UID as the zone's measurement
    group, which keeps its reference to the SEG segment (TID 1410 allows one region
    representation per group, Row 7 XOR Row 9). A viewer that draws regions, not SEG
    segments (OHIF 3.13.2 merges the groups of one Tracking UID and draws their SCOORD with
    the NUM values), shows the zone outline on the photo. ``t_zone`` / ``u_zone`` are
    outlined by the largest connected part of the union of their zones (forehead, glabella
    and nose; one cheek); any other region without a mask (or the image-level region of a
    photo without one) by the photo's border.
    """
    image = ctx.image
    view = track_as if track_as is not None else str(image.description.view)
    identifier, tuid = tracking_ids(ctx.source, view, region)
    site = zone_site(region)
    finding_sites = (
        [
            hd.sr.FindingSite(
                site.site, laterality=site.laterality, topographical_modifier=site.modifier
            )
        ]
        if site is not None
        else None
    )
    masks = {z.region: z.mask for z in image.zones}
    if region in masks:
        outline = zone_outline(masks[region])
    elif parts := [masks[p] for p in COMPOSITE_REGIONS.get(region, ()) if p in masks]:
        outline = zone_outline(np.logical_or.reduce(parts))
    else:
        outline = None
    if outline is None:
        outline = _frame_outline(int(ctx.source.Rows), int(ctx.source.Columns))
    finding_type = CONCEPT_FINDING_QUALITY if top and not image.quality.usable else None
    try:
        return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=tuid, identifier=identifier),
            referenced_region=hd.sr.ImageRegion(
                graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                graphic_data=outline,
                source_image=hd.sr.SourceImageForRegion(
                    str(ctx.source.SOPClassUID), str(ctx.source.SOPInstanceUID)
                ),
            ),
            finding_type=finding or finding_type or CONCEPT_FINDING_ZONE,
            algorithm_id=ctx.algorithm,
            finding_sites=finding_sites,
        )
    except ValueError as exc:
        raise EncodingError(f"outline of {region}: {exc}") from exc


def _fix_segment_references(items: Sequence[Dataset]) -> None:
    """Keep only Referenced Segment Number in IMAGE references to a Segmentation.

    highdicom writes both Referenced Frame Number and Referenced Segment Number; PS3.3
    C.18.3.1 (Image Reference Macro) allows Referenced Segment Number only when Referenced
    Frame Number is absent, and dciodvfy reports the pair as an error. The segment number
    identifies the frame of a single-frame-per-segment SEG unambiguously.
    """
    for item in items:
        for ref in item.get("ReferencedSOPSequence", []):
            if "ReferencedSegmentNumber" in ref and "ReferencedFrameNumber" in ref:
                del ref.ReferencedFrameNumber
        if "ContentSequence" in item:
            _fix_segment_references(item.ContentSequence)


def _device_observer(equipment: Equipment) -> hd.sr.ObserverContext:
    return hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=derive_uid("device", equipment.manufacturer, equipment.model_name),
            name=f"{equipment.model_name} {equipment.software_version}"[:64],
            manufacturer_name=equipment.manufacturer,
            model_name=equipment.model_name,
            serial_number=equipment.device_serial_number,
        ),
    )


#: TID 1601 row 1 Modality (CID 29) of each accepted photo SOP Class. highdicom's own table
#: lacks Dermoscopic Photography Image Storage (PS3.4 B.5; Modality DMS, PS3.3 C.8.12.1.1.1),
#: so the Image Library is built here and every accepted class gets its code.
_LIBRARY_MODALITY: Mapping[str, Code] = {
    "1.2.840.10008.5.1.4.1.1.77.1.4": codes.cid29.ExternalCameraPhotography,
    "1.2.840.10008.5.1.4.1.1.77.1.4.1": codes.cid29.ExternalCameraPhotography,
    "1.2.840.10008.5.1.4.1.1.77.1.7": codes.cid29.Dermoscopy,
    "1.2.840.10008.5.1.4.1.1.77.1.2": codes.cid29.GeneralMicroscopy,
    "1.2.840.10008.5.1.4.1.1.7": codes.cid32.Other,
    "1.2.840.10008.5.1.4.1.1.7.4": codes.cid32.Other,
}

_CONCEPT_IMAGING_MEASUREMENTS = "126010"


def _library_modality(source: Dataset) -> Code:
    sop_class = str(source.SOPClassUID)
    try:
        return _LIBRARY_MODALITY[sop_class]
    except KeyError:
        raise EncodingError(f"sr: no Image Library modality for SOP Class {sop_class}") from None


def _image_library(sources: Sequence[Dataset]) -> hd.sr.ContainerContentItem:
    """TID 1600 Image Library of the source photos, grouped by modality (TID 1601 entries).

    Same structure as ``hd.sr.ImageLibrary`` (Image Library Group per modality and Frame of
    Reference; Modality, Frame of Reference UID, Pixel Data Rows / Columns per image), for
    every accepted photo class including Dermoscopic Photography.
    """
    has_props = hd.sr.RelationshipTypeValues.HAS_ACQ_CONTEXT
    contains = hd.sr.RelationshipTypeValues.CONTAINS
    pixels = CodedConcept(value="{pixels}", meaning="Pixels", scheme_designator="UCUM")
    groups: dict[tuple[str, ...], list[hd.sr.ImageContentItem]] = {}
    modality_of: dict[tuple[str, ...], Code] = {}
    for ds in sources:
        modality = _library_modality(ds)
        item = hd.sr.ImageContentItem(
            name=CodedConcept(value="260753009", meaning="Source", scheme_designator="SCT"),
            referenced_sop_class_uid=ds.SOPClassUID,
            referenced_sop_instance_uid=ds.SOPInstanceUID,
            relationship_type=contains,
        )
        descriptors: list[hd.sr.ContentItem] = [
            hd.sr.CodeContentItem(
                name=codes.DCM.Modality, value=modality, relationship_type=has_props
            )
        ]
        for_uid = ds.get("FrameOfReferenceUID")
        if for_uid is not None:
            descriptors.append(
                hd.sr.UIDRefContentItem(
                    name=codes.DCM.FrameOfReferenceUID, value=for_uid, relationship_type=has_props
                )
            )
        descriptors += [
            hd.sr.NumContentItem(
                name=codes.DCM.PixelDataRows,
                value=int(ds.Rows),
                unit=pixels,
                relationship_type=has_props,
            ),
            hd.sr.NumContentItem(
                name=codes.DCM.PixelDataColumns,
                value=int(ds.Columns),
                unit=pixels,
                relationship_type=has_props,
            ),
        ]
        item.ContentSequence = hd.sr.ContentSequence(descriptors)
        key = (modality.value, modality.scheme_designator, *([str(for_uid)] if for_uid else []))
        groups.setdefault(key, []).append(item)
        modality_of[key] = modality
    library = hd.sr.ContainerContentItem(name=codes.DCM.ImageLibrary, relationship_type=contains)
    library.ContentSequence = hd.sr.ContentSequence()
    for key, items in groups.items():
        group = hd.sr.ContainerContentItem(
            name=codes.DCM.ImageLibraryGroup, relationship_type=contains
        )
        group.ContentSequence = hd.sr.ContentSequence()
        if len(key) > 2:
            group.ContentSequence.append(
                hd.sr.UIDRefContentItem(
                    name=codes.DCM.FrameOfReferenceUID, value=key[2], relationship_type=has_props
                )
            )
        group.ContentSequence.extend(items)
        library.ContentSequence.append(group)
    return library


def _insert_image_library(root: Dataset, library: hd.sr.ContainerContentItem) -> None:
    """Put the Image Library where TID 1500 has it: just before Imaging Measurements."""
    content = root.ContentSequence
    at = next(
        (
            i
            for i, item in enumerate(content)
            if item.ConceptNameCodeSequence[0].CodeValue == _CONCEPT_IMAGING_MEASUREMENTS
        ),
        len(content),
    )
    content.insert(at, library)


def build_sr(
    result: AnalysisResult,
    pairs: Sequence[tuple[ImageResult, Dataset]],
    segmentations: Mapping[str, Sequence[SegOutput]],
    uids: OutputUids,
    *,
    instance_number: int = 1,
    progress: Sequence[Comparison | None] | None = None,
    treatment: TreatmentSupport | None = None,
) -> hd.sr.Comprehensive3DSR:
    """Build the TID 1500 report.

    Parameters
    ----------
    result
        The analysis result (algorithm name and version).
    pairs
        Each image result with its source dataset (images without a DICOM source are left
        out by the caller).
    segmentations
        Per source SOP Instance UID, the Segmentations written for that photo; their
        segments are referenced from the groups and they are listed as evidence.
    uids
        The UID factory of the result.
    instance_number
        Instance Number of the SR.
    progress
        Per pair (same order), the comparison of that photo with the patient's earlier
        visits, or None. Each compared key gets its changes, MDCs and verdicts as properties
        of its NUM item, and the image-level group the comparison summary (see the module
        docstring). None (default) leaves the report exactly as without progress tracking.
    treatment
        The clinic rules' treatment-planning support: qualitative evaluations in the first
        photo's image-level group (see the module docstring). None leaves the report as is.

    Raises
    ------
    EncodingError
        When there is no source or highdicom refuses the content.
    ValueError
        When *progress* and *pairs* differ in length.
    """
    if not pairs:
        raise EncodingError("sr: no image with a DICOM source to report on")
    if progress is not None and len(progress) != len(pairs):
        raise ValueError(f"progress: {len(progress)} comparisons for {len(pairs)} images")
    equipment = Equipment.of(result)
    algorithm = hd.sr.AlgorithmIdentification(
        name=result.algorithm_name, version=result.algorithm_version
    )
    groups: list[
        hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations
        | hd.sr.MeasurementsAndQualitativeEvaluations
    ] = []
    for index, (image, source) in enumerate(pairs):
        segs = segmentations.get(str(source.SOPInstanceUID), ())
        refs = {k: v for seg in segs for k, v in seg.segments.items()}
        comparison = progress[index] if progress is not None else None
        ctx = _Ctx(image, source, refs, algorithm, comparison, treatment if index == 0 else None)
        regions = region_order(image)
        for region in regions:
            top = region == regions[-1]
            groups.append(_group(ctx, region, top=top))
            groups.append(_region_group(ctx, region, top=top))
    groups += _study_groups(result, pairs, algorithm)
    sources = [s for _, s in pairs]
    try:
        report = hd.sr.MeasurementReport(
            observation_context=hd.sr.ObservationContext(
                observer_person_context=None,
                observer_device_context=_device_observer(equipment),
            ),
            procedure_reported=CONCEPT_PROCEDURE,
            imaging_measurements=groups,
        )
        _insert_image_library(report[0], _image_library(sources))
        sr = hd.sr.Comprehensive3DSR(
            evidence=[*sources, *(o.dataset for segs in segmentations.values() for o in segs)],
            content=report[0],
            series_instance_uid=uids.series("sr"),
            series_number=SERIES_NUMBERS["sr"],
            sop_instance_uid=uids.instance("sr"),
            instance_number=instance_number,
            manufacturer=equipment.manufacturer,
            is_complete=True,
            is_final=False,
            is_verified=False,
            series_description="DermNode measurements",
            manufacturer_model_name=equipment.model_name,
            software_versions=equipment.software_version,
            device_serial_number=equipment.device_serial_number,
            coding_schemes=[DRMN_SCHEME],
            specific_character_set=None,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise EncodingError(f"sr could not be built: {exc}") from exc
    apply_character_set(sr, sources[0])
    set_series_date_time(sr)
    _fix_segment_references(sr.ContentSequence)
    logger.debug("built SR with %d measurement groups", len(groups))
    return sr
