"""The HL7 v2.5.1 ORU^R01 result notice, built with hl7apy (``docs/hl7-profile.md``).

One message per study and EMR endpoint::

    MSH  sending/receiving application and facility from the endpoint, MSH-18 charset
    PID  patient identity from the DICOM patient module
    PV1  minimal (patient class U)
    ORC  RE, placer/filler order numbers
    OBR  service, observation time, Accession Number (OBR-18), result status (OBR-25)
    OBX  quality per image, concern scores (NM), key raw values (NM), with progress tracking
         the change since the earlier visits (NM) and its verdict (CE), the study-level values
         per zone (the view they come from, NM values, a flag where the views disagree),
         concerns not assessed,
         Study Instance UID (113014^DICOM Study^DCM), SR/SEG SOP Instance UIDs, optional PDF (ED)

Every text value is escaped once by :func:`integrations.hl7.escape.escape` and handed to hl7apy
as ER7; the finished message passes ``Validator.validate`` (hl7apy's strict structure, datatype
and cardinality check) before :func:`build_oru` returns it. hl7apy stays inside this module.

The result status rule (OBR-25 and every OBX-11), implemented by :func:`result_status_for`:

* ``F`` (final) when every image passed the quality gate without warnings, **or** when no
  image was usable at all: nothing more will come from this capture, and the quality rows
  say "not usable" with the reasons (no score is sent);
* ``P`` (preliminary) when the numbers rest on a capture the gate flagged: a usable image has
  a non-blocking warning, or some (not all) images were unusable.

Charsets: the text is Unicode until :meth:`OruMessage.encode`, which encodes it in the
endpoint's MSH-18 charset. For the 8-bit charsets (``8859/1``, ``ASCII``) nothing is
transliterated: a character the charset cannot hold raises :class:`EncodingError` naming the
segment and field (a silently changed name could attach the result to the wrong patient).
The one safe conversion is made at build time: a DICOM name with several component groups
(alphabetic = ideographic = phonetic) is sent as several PID-5 repetitions, and on an 8-bit
endpoint the groups the charset cannot hold are left out when an alphabetic group is there.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Component, Message
from hl7apy.exceptions import HL7apyException, ValidationError

from analysis.fusion import StudyFusion
from analysis.keys import CONCERNS, key_info
from analysis.progress import Change, ChangeLabel, Comparison
from analysis.treatment import CourseResponse, TreatmentSupport
from analysis.types import AnalysisResult, ImageResult, Region
from config.settings import Hl7EndpointSettings
from integrations.errors import EncodingError
from integrations.hl7.escape import escape
from integrations.study import StudyInfo

if TYPE_CHECKING:
    from integrations.outputs import ResultSet

__all__ = [
    "CODING_SCHEME",
    "HL7_VERSION",
    "OruMessage",
    "ResultStatus",
    "build_oru",
    "build_notice",
    "codec_for_charset",
    "derive_control_id",
    "new_control_id",
    "result_status_for",
]

logger = logging.getLogger(__name__)

HL7_VERSION = "2.5.1"
#: Private coding scheme of DermNode's observation identifiers (as in the SR).
CODING_SCHEME = "99DRMN"
#: MSH-10 is an ST of at most 20 characters in HL7 v2.5.1.
_CONTROL_ID_MAX = 20
_CONTROL_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,20}$")
#: hl7apy types a component of a "varies" field (OBX-5) as ST, at most 199 characters.
_ST_MAX = 199
_TX_MAX = 65536

_CODECS = {"UNICODE UTF-8": "utf-8", "8859/1": "latin-1", "ASCII": "ascii"}

_STRICT = VALIDATION_LEVEL.STRICT

_SERVICE = ("DERMNODE", "AI skin photograph analysis")
_STUDY_UID_CODE = ("113014", "DICOM Study", "DCM")
_SR_CODE = ("sr.sop_instance_uid", "Structured report SOP Instance UID", CODING_SCHEME)
_SEG_CODE = ("seg.sop_instance_uid", "Segmentation SOP Instance UID", CODING_SCHEME)
_PDF_CODE = ("report.pdf", "Skin analysis report (PDF)", CODING_SCHEME)
_USABLE_IMAGES_CODE = ("quality.usable_images", "Usable images", CODING_SCHEME)
_USABLE_CODE = ("quality.usable", "Image usable", CODING_SCHEME)
_FACE_CODE = ("quality.face_found", "Face found", CODING_SCHEME)
_ISSUE_CODE = ("quality.issue", "Image quality issue", CODING_SCHEME)
_COMPARED_CODE = ("progress.compared", "Compared with earlier visits", CODING_SCHEME)
_REASON_CODE = ("progress.reason", "Comparison note", CODING_SCHEME)
_EXCLUDED_CODE = ("progress.excluded", "Earlier visit not compared", CODING_SCHEME)
_PREV_STUDY_CODE = ("progress.previous_study", "Previous visit Study Instance UID", CODING_SCHEME)
_PREV_DATE_CODE = ("progress.previous_date", "Previous visit date", CODING_SCHEME)
_BASE_STUDY_CODE = ("progress.baseline_study", "Baseline visit Study Instance UID", CODING_SCHEME)
_BASE_DATE_CODE = ("progress.baseline_date", "Baseline visit date", CODING_SCHEME)
_TX_NOTE_CODE = ("treatment.note", "Treatment-planning support", CODING_SCHEME)
_TX_TOPIC_CODE = ("treatment.topic", "Topic for the consultation", CODING_SCHEME)
_TX_RULE_CODE = ("treatment.rule", "Clinic rule identifier", CODING_SCHEME)
_TX_PRIORITY_CODE = ("treatment.priority", "Topic priority", CODING_SCHEME)
_TX_CONCERN_CODE = ("treatment.concern", "Concern of the topic", CODING_SCHEME)
_TX_TRIGGER_CODE = ("treatment.trigger", "Value that raised the topic", CODING_SCHEME)
_COURSE_NAME_CODE = ("course.name", "Treatment course", CODING_SCHEME)
_COURSE_START_CODE = ("course.start_date", "Treatment course start date", CODING_SCHEME)
_COURSE_BASE_CODE = (
    "course.baseline_date",
    "Visit the course response is measured from",
    CODING_SCHEME,
)
_COURSE_NOTE_CODE = ("course.note", "Treatment course note", CODING_SCHEME)
_STUDY_SOURCE_CODE = ("study.source", "Photo the study-level values come from", CODING_SCHEME)
#: OBX-4 prefix of the study-level rows (``S.<zone>``; OBX-4 is an ST of at most 20).
_STUDY_SUB = "S"
_SCORE_UNIT = ("{score}", "score", "UCUM")
_SCORE_RANGE = "0-100"
#: The aggregate regions whose raw values go into the ORU (zones stay in the SR).
_RAW_REGIONS = (Region.FACE.value, Region.SKIN.value)
_SEX = {"M": "M", "F": "F", "O": "O"}
_TITLES = {"uv_damage": "UV damage"}
_DA_RE = re.compile(r"^\d{4}(\d{2}(\d{2})?)?$")
_TM_RE = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$")


class ResultStatus(StrEnum):
    """OBR-25 / OBX-11 result status (HL7 tables 0123 and 0085)."""

    FINAL = "F"
    PRELIMINARY = "P"
    CORRECTED = "C"


def codec_for_charset(charset: str) -> str:
    """Return the Python codec of an MSH-18 charset; raise ``ValueError`` for an unknown one."""
    try:
        return _CODECS[charset]
    except KeyError:
        raise ValueError(
            f"charset must be one of {', '.join(sorted(_CODECS))}, got {charset!r}"
        ) from None


def new_control_id() -> str:
    """A new random message control ID (MSH-10): 20 hexadecimal characters."""
    return uuid.uuid4().hex[:_CONTROL_ID_MAX]


def derive_control_id(*parts: str) -> str:
    """A deterministic message control ID (MSH-10) from *parts*: 20 hexadecimal characters.

    The service derives it, like its UIDs, from what identifies the notice (Study Instance
    UID, result-set digest, algorithm version, endpoint name): a re-run after a crash builds
    the same notice with the same control ID, so the EMR can recognise a repeat, and no
    side file is needed to keep it.
    """
    if not parts or not all(parts):
        raise ValueError("parts must be non-empty strings")
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()
    return digest[:_CONTROL_ID_MAX]


def result_status_for(result: AnalysisResult) -> ResultStatus:
    """Apply the documented result status rule (module docstring) to *result*."""
    usable = [i for i in result.images if i.quality.usable]
    if not usable:
        return ResultStatus.FINAL
    if len(usable) < len(result.images) or any(i.quality.warnings for i in usable):
        return ResultStatus.PRELIMINARY
    return ResultStatus.FINAL


@dataclass(frozen=True, slots=True)
class OruMessage:
    """A built ORU^R01: its control ID, its ER7 text and the charset it is sent in.

    The text is PHI: store it, send it, never log it.
    """

    control_id: str
    text: str
    charset: str = "UNICODE UTF-8"

    def __post_init__(self) -> None:
        codec_for_charset(self.charset)
        if not _CONTROL_ID_RE.match(self.control_id):
            raise ValueError("control_id must be 1-20 characters of A-Z a-z 0-9 . _ -")
        if not self.text.startswith("MSH|"):
            raise ValueError("text must be an ER7 message starting with MSH|")

    @property
    def segments(self) -> tuple[str, ...]:
        """The segments (without terminators)."""
        return tuple(s for s in self.text.split("\r") if s)

    def encode(self) -> bytes:
        """Encode the message in its MSH-18 charset, segments terminated by CR.

        Raises
        ------
        EncodingError
            A character cannot be represented in the charset; the message names the segment,
            its occurrence and the field/component (e.g. ``PID-5.1``), never the value.
        """
        codec = codec_for_charset(self.charset)
        try:
            return self.text.encode(codec)
        except UnicodeEncodeError:
            where, count = _locate_unencodable(self.segments, codec)
            raise EncodingError(
                f"ORU {self.control_id}: {where} holds {count} character(s) that charset "
                f"{self.charset!r} cannot represent; configure charset 'UNICODE UTF-8' for "
                "this endpoint or correct the source data"
            ) from None


def _locate_unencodable(segments: Sequence[str], codec: str) -> tuple[str, int]:
    seen: dict[str, int] = {}
    for segment in segments:
        fields = segment.split("|")
        name = fields[0]
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 and name != "OBX" else f"{name}[{seen[name]}]"
        # MSH-1 is the field separator itself: the split index is one less than the number.
        offset = 1 if name == "MSH" else 0
        for index, value in enumerate(fields[1:], start=1):
            bad = [ch for ch in value if not _encodable(ch, codec)]
            if not bad:
                continue
            where = f"{label}-{index + offset}"
            for rep in value.split("~"):
                for cidx, comp in enumerate(rep.split("^"), start=1):
                    if any(not _encodable(ch, codec) for ch in comp):
                        return f"{where}.{cidx}", len(bad)
            return where, len(bad)  # pragma: no cover - a bad char is always in a component
    return "the message", 0  # pragma: no cover


def _encodable(ch: str, codec: str) -> bool:
    try:
        ch.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- value helpers


def _text(value: str) -> str:
    """NFC-normalise and escape one leaf value."""
    return escape(unicodedata.normalize("NFC", value))


def _ce(code: tuple[str, str, str]) -> str:
    return "^".join(_text(c) for c in code)


def _nm(value: float) -> str:
    """An HL7 NM: optional sign, digits, optional decimal point; never an exponent."""
    d = Decimal(repr(float(value))).quantize(Decimal("0.000001")).normalize()
    text = format(d, "f")
    if text in ("-0", "-0.0"):
        text = "0"
    if len(text) > 16:
        raise EncodingError(f"value {text} does not fit an HL7 NM (16 characters)")
    return text


def _ts(value: datetime) -> str:
    """An HL7 TS/DTM to the second, with the UTC offset when *value* is aware."""
    text = value.strftime("%Y%m%d%H%M%S")
    offset = value.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        minutes = abs(minutes)
        text += f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    return text


def _study_ts(study: StudyInfo) -> str | None:
    """Study Date + Study Time (DICOM DA/TM) as an HL7 DTM, or None when there is no date."""
    date = study.study_date.strip()
    if not _DA_RE.match(date) or len(date) != 8:
        return None
    time = study.study_time.strip().replace(":", "")
    match = _TM_RE.match(time)
    if not match:
        return date
    hh, mm, ss, frac = match.groups()
    text = date + hh + (mm or "") + (ss or "")
    if mm and ss and frac:
        text += frac[:5]  # DTM allows at most 4 fractional digits
    return text


def _birth_date(study: StudyInfo) -> str:
    value = study.patient_birth_date.strip()
    if value and not _DA_RE.match(value):
        raise EncodingError("PID-7: Patient's Birth Date is not a DICOM DA (YYYYMMDD)")
    return value


# --------------------------------------------------------------------------- names


_REPRESENTATION = ("A", "I", "P")  # HL7 table 0465: alphabetic, ideographic, phonetic


def _xpn(group: str, representation: str | None) -> str:
    """One DICOM PN component group as an XPN (family^given^middle^suffix^prefix)."""
    parts = (group.split("^") + [""] * 5)[:5]
    family, given, middle, prefix, suffix = (p.strip() for p in parts)
    comps = [_text(family), _text(given), _text(middle), _text(suffix), _text(prefix)]
    if representation:
        comps += ["", "", representation]
    return "^".join(comps).rstrip("^")


def patient_name_repetitions(patient_name: str, charset: str) -> list[str]:
    """PID-5 repetitions for a DICOM PN (``alphabetic=ideographic=phonetic``).

    The first repetition is the first non-empty group in DICOM order (alphabetic, else
    ideographic, else phonetic); every other non-empty group follows as a further
    repetition. With more than one group, XPN-8 says which representation each is (A, I, P).
    On an 8-bit charset, a non-alphabetic group the charset cannot hold is left out when an
    alphabetic group is present (it is an alternative spelling of the same name).
    """
    groups = (patient_name.split("=") + ["", "", ""])[:3]
    present = [(g, _REPRESENTATION[i]) for i, g in enumerate(groups) if g.replace("^", "").strip()]
    if not present:
        return ["^^^^^^U"]  # XPN-7 name type U: unspecified (PID-5 is required)
    codec = codec_for_charset(charset)
    if codec != "utf-8" and present[0][1] == "A":
        kept = [present[0]]
        for group, rep in present[1:]:
            if all(_encodable(ch, codec) for ch in unicodedata.normalize("NFC", group)):
                kept.append((group, rep))
        present = kept
    several = len(present) > 1
    return [_xpn(group, rep if several else None) for group, rep in present]


# --------------------------------------------------------------------------- OBX rows


@dataclass(frozen=True, slots=True)
class _Obx:
    """One observation row; ``value`` holds the (already escaped) OBX-5 components."""

    value_type: str
    code: tuple[str, str, str]
    value: tuple[tuple[str, str], ...]  # (escaped text, hl7apy component datatype)
    sub_id: str = ""
    units: tuple[str, str, str] | None = None
    reference_range: str = ""
    method: tuple[str, str, str] | None = None


def _st_row(code: tuple[str, str, str], text: str, sub_id: str = "") -> _Obx:
    value = _text(text)
    value_type = "ST" if len(value) <= _ST_MAX else "TX"
    return _Obx(value_type, code, ((value, value_type),), sub_id)


def _nm_row(
    code: tuple[str, str, str],
    value: float,
    unit: str,
    sub_id: str,
    *,
    reference_range: str = "",
    unit_text: str | None = None,
    method: tuple[str, str, str] | None = None,
) -> _Obx:
    units = (unit, unit_text if unit_text is not None else unit, "UCUM")
    return _Obx("NM", code, ((_nm(value), "NM"),), sub_id, units, reference_range, method=method)


def _yes_no_row(code: tuple[str, str, str], flag: bool, sub_id: str) -> _Obx:
    value = (
        (("Y", "ST"), ("Yes", "ST"), ("HL70136", "ID"))
        if flag
        else (
            ("N", "ST"),
            ("No", "ST"),
            ("HL70136", "ID"),
        )
    )
    return _Obx("CE", code, value, sub_id)


def _image_rows(number: int, image: ImageResult, method: tuple[str, str, str]) -> list[_Obx]:
    rows: list[_Obx] = []
    sub = str(number)
    q = image.quality
    rows.append(_yes_no_row(_USABLE_CODE, q.usable, sub))
    rows.append(_yes_no_row(_FACE_CODE, q.face_found, sub))
    for issue in q.issues:
        kind = "blocking" if issue.blocking else "warning"
        rows.append(_st_row(_ISSUE_CODE, f"{issue.code} ({kind}): {issue.message}", sub))
    for key, value in (
        ("quality.sharpness", q.sharpness),
        ("quality.exposure_clipped_pct", q.exposure_clipped_pct),
    ):
        info = key_info(key)
        rows.append(_nm_row((key, info.meaning, CODING_SCHEME), value, info.unit, sub))
    if not q.usable:
        return rows
    ordered = [c for c in CONCERNS if c in image.scores]
    ordered += sorted(set(image.scores) - set(CONCERNS))
    for concern in ordered:
        code = (f"{concern}.score", f"{concern.capitalize()} score", CODING_SCHEME)
        rows.append(
            _nm_row(
                code,
                image.scores[concern],
                _SCORE_UNIT[0],
                sub,
                reference_range=_SCORE_RANGE,
                unit_text=_SCORE_UNIT[1],
                method=method,
            )
        )
    for m in image.measurements:
        if m.region not in _RAW_REGIONS or m.key.startswith("quality."):
            continue
        try:
            meaning = key_info(m.key).meaning
        except KeyError:
            meaning = m.key
        rows.append(
            _nm_row(
                (m.key, meaning, CODING_SCHEME), m.value, m.unit, f"{sub}.{m.region}", method=method
            )
        )
    return rows


def _study_rows(
    study: StudyFusion, images: Sequence[ImageResult], method: tuple[str, str, str]
) -> list[_Obx]:
    """Study-level values (analysis.fusion): per zone the photo they come from, each value and,
    where the photos disagree, a flag row (docs/hl7-profile.md)."""
    numbers = {image.source: n for n, image in enumerate(images, start=1)}
    rows: list[_Obx] = []
    for zone in study.zones:
        sub = f"{_STUDY_SUB}.{zone.region}"
        angle = "" if zone.view_angle_deg is None else f", view angle {zone.view_angle_deg:.0f} deg"
        number = numbers.get(zone.source)
        photo = f"photo {number}" if number is not None else "photo ?"
        rows.append(_st_row(_STUDY_SOURCE_CODE, f"{zone.view} ({photo}{angle})", sub))
        for v in study.values:
            if v.region != zone.region:
                continue
            try:
                meaning = key_info(v.key).meaning
            except KeyError:
                meaning = v.key
            rows.append(
                _nm_row((v.key, meaning, CODING_SCHEME), v.value, v.unit, sub, method=method)
            )
            if v.disagreement:
                code = (f"{v.key}.views_disagree", f"{meaning}: the views disagree", CODING_SCHEME)
                rows.append(_yes_no_row(code, True, sub))
    return rows


def _label_row(code: tuple[str, str, str], label: str, sub_id: str) -> _Obx:
    try:
        text = ChangeLabel(label).meaning
    except ValueError:
        text = label
    value = ((_text(label), "ST"), (_text(text), "ST"), (CODING_SCHEME, "ID"))
    return _Obx("CE", code, value, sub_id)


def _dt_row(code: tuple[str, str, str], date: str, sub_id: str) -> _Obx:
    return _Obx("DT", code, ((date, "DT"),), sub_id)


def _change_rows(
    change: Change, sub: str, method: tuple[str, str, str], *, full: bool
) -> list[_Obx]:
    """The rows of one change; *full* for the image-level region, else delta and verdict."""
    key = change.key
    try:
        meaning = key_info(key).meaning
    except KeyError:
        meaning = key
    unit = change.unit or "1"
    rows = [
        _nm_row(
            (f"{key}.change", f"{meaning} change since previous visit", CODING_SCHEME),
            change.delta,
            unit,
            sub,
            method=method,
        )
    ]
    if full and change.delta_pct is not None:
        rows.append(
            _nm_row(
                (
                    f"{key}.change_pct",
                    f"{meaning} relative change since previous visit",
                    CODING_SCHEME,
                ),
                change.delta_pct,
                "%",
                sub,
                method=method,
            )
        )
    if full and change.mdc is not None:
        rows.append(
            _nm_row(
                (f"{key}.change_mdc", f"{meaning} minimum detectable change", CODING_SCHEME),
                change.mdc,
                unit,
                sub,
                method=method,
            )
        )
    rows.append(
        _label_row(
            (f"{key}.change_label", f"{meaning} change verdict", CODING_SCHEME),
            str(change.label),
            sub,
        )
    )
    if full:
        rows.append(
            _nm_row(
                (f"{key}.change_baseline", f"{meaning} change since baseline visit", CODING_SCHEME),
                change.delta_baseline,
                unit,
                sub,
                method=method,
            )
        )
        rows.append(
            _label_row(
                (
                    f"{key}.change_baseline_label",
                    f"{meaning} change since baseline verdict",
                    CODING_SCHEME,
                ),
                str(change.label_baseline),
                sub,
            )
        )
    return rows


def _progress_rows(number: int, comparison: Comparison, method: tuple[str, str, str]) -> list[_Obx]:
    """The comparison of image *number* with earlier visits (``docs/hl7-profile.md``).

    Every change of the image-level region (``face`` / ``skin``) gets its delta and verdict,
    plus relative delta, MDC, delta since baseline and that verdict when a verdict (previous
    or baseline) is improved or worsened; a change in a zone gets its delta and verdict only
    when the verdict is improved or worsened (the SR has them all).
    """
    sub = str(number)
    rows = [_yes_no_row(_COMPARED_CODE, comparison.comparable, sub)]
    if comparison.reason:
        rows.append(_st_row(_REASON_CODE, comparison.reason, sub))
    for visit, study_code, date_code in (
        (comparison.previous, _PREV_STUDY_CODE, _PREV_DATE_CODE),
        (comparison.baseline, _BASE_STUDY_CODE, _BASE_DATE_CODE),
    ):
        if visit is not None:
            rows.append(_st_row(study_code, visit.study_uid, sub))
            rows.append(_dt_row(date_code, visit.study_date.strftime("%Y%m%d"), sub))
    for ex in comparison.excluded:
        rows.append(
            _st_row(
                _EXCLUDED_CODE,
                f"{ex.study_date.isoformat()} ({ex.view}, version {ex.algorithm_version}): "
                f"{ex.reason}",
                sub,
            )
        )
    top = [c for c in comparison.changes if c.region in _RAW_REGIONS]
    zones = [
        c
        for c in comparison.changes
        if c.region not in _RAW_REGIONS and str(c.label) in ("improved", "worsened")
    ]
    for change in top:
        # the detail rows only where there is a verdict to explain: a notice for a face with
        # ~20 keys per photo stays a few kB instead of growing six rows per key (SR has all)
        full = {str(change.label), str(change.label_baseline)} & {"improved", "worsened"}
        rows.extend(_change_rows(change, f"{sub}.{change.region}", method, full=bool(full)))
    for change in zones:
        rows.extend(_change_rows(change, f"{sub}.{change.region}", method, full=False))
    return rows


def _treatment_rows(support: TreatmentSupport) -> list[_Obx]:
    """The clinic rules' topics (docs/hl7-profile.md): the note, then per topic (rank order,
    OBX-4 ``tx.N``) its text, rule id, priority (CE), concern and each triggering value."""
    rows = [_st_row(_TX_NOTE_CODE, support.note)]
    for n, (concern, topic) in enumerate(
        ((c, t) for c in support.concerns for t in c.topics), start=1
    ):
        sub = f"tx.{n}"
        label = topic.priority.label
        rows.append(_st_row(_TX_TOPIC_CODE, topic.topic, sub))
        rows.append(_st_row(_TX_RULE_CODE, topic.rule, sub))
        priority = (
            (label, "ST"),
            (f"{label.capitalize()} priority topic", "ST"),
            (CODING_SCHEME, "ID"),
        )
        rows.append(_Obx("CE", _TX_PRIORITY_CODE, priority, sub))
        rows.append(_st_row(_TX_CONCERN_CODE, concern.concern, sub))
        for t in topic.triggers:
            value = f"{t.value:g}" if isinstance(t.value, float) else t.value
            unit = f" {t.unit}" if t.unit else ""
            text = f"{t.condition}: {t.key} = {value}{unit} ({t.region}, photo {t.image + 1})"
            rows.append(_st_row(_TX_TRIGGER_CODE, text, sub))
    return rows


def _course_rows(number: int, response: CourseResponse) -> list[_Obx]:
    """The treatment course of image *number* (docs/hl7-profile.md): its name, start date and
    the course's baseline visit, then per concern the change since then and its verdict."""
    c = response.course
    sub = str(number)
    rows = [
        _st_row(_COURSE_NAME_CODE, f"{c.name} ({c.protocol})" if c.protocol else c.name, sub),
        _dt_row(_COURSE_START_CODE, c.start_date.strftime("%Y%m%d"), sub),
    ]
    if response.baseline_date is None:
        rows.append(_st_row(_COURSE_NOTE_CODE, response.reason, sub))
        return rows
    rows.append(_dt_row(_COURSE_BASE_CODE, response.baseline_date.strftime("%Y%m%d"), sub))
    for ch in response.changes:
        try:
            meaning = key_info(ch.key).meaning
        except KeyError:
            meaning = ch.key
        zone = f"{number}.{ch.region}"
        code = (
            f"{ch.key}.course_change",
            f"{meaning} change since the course began",
            CODING_SCHEME,
        )
        rows.append(_nm_row(code, ch.delta, ch.unit, zone))
        label_code = (f"{ch.key}.course_label", f"{meaning} course response", CODING_SCHEME)
        rows.append(_label_row(label_code, str(ch.label), zone))
    return rows


def _rows(
    result: AnalysisResult,
    study: StudyInfo,
    *,
    sr_uid: str | None,
    seg_uids: Sequence[str],
    pdf: bytes | None,
    include_pdf: bool,
    progress: Sequence[Comparison | None] = (),
    treatment: TreatmentSupport | None = None,
    course: Sequence[CourseResponse | None] = (),
) -> list[_Obx]:
    method = (
        f"{result.algorithm_name}-{result.algorithm_version}",
        f"{result.algorithm_name} {result.algorithm_version}",
        CODING_SCHEME,
    )
    usable = sum(1 for i in result.images if i.quality.usable)
    rows = [_nm_row(_USABLE_IMAGES_CODE, usable, "{count}", "")]
    for number, image in enumerate(result.images, start=1):
        rows.extend(_image_rows(number, image, method))
        comparison = progress[number - 1] if number - 1 < len(progress) else None
        if comparison is not None:
            rows.extend(_progress_rows(number, comparison, method))
        response = course[number - 1] if number - 1 < len(course) else None
        if response is not None:
            rows.extend(_course_rows(number, response))
    if result.study is not None:
        rows.extend(_study_rows(result.study, result.images, method))
    seen: set[str] = set()
    for image in result.images:
        for na in image.not_assessed:
            if na.key in seen:
                continue
            seen.add(na.key)
            title = _TITLES.get(na.key, na.key.replace("_", " ").capitalize())
            rows.append(_st_row((na.key, f"{title} (not assessed)", CODING_SCHEME), na.reason))
    if treatment is not None:
        rows.extend(_treatment_rows(treatment))
    if study.study_instance_uid:
        rows.append(_st_row(_STUDY_UID_CODE, study.study_instance_uid))
    if sr_uid:
        rows.append(_st_row(_SR_CODE, sr_uid))
    for uid in seg_uids:
        rows.append(_st_row(_SEG_CODE, uid))
    if include_pdf and pdf is not None:
        data = base64.b64encode(pdf).decode("ascii")
        value = (("DERMNODE", "ST"), ("AP", "ID"), ("PDF", "ID"), ("Base64", "ID"), (data, "TX"))
        rows.append(_Obx("ED", _PDF_CODE, value))
    return rows


# --------------------------------------------------------------------------- hl7apy adapter


def _set(segment: Any, number: int, er7: str) -> None:
    if er7:
        setattr(segment, f"{segment.name.lower()}_{number}", er7)


def _set_obx_value(obx: Any, value: tuple[tuple[str, str], ...]) -> None:
    field = obx.add_field("OBX_5")
    for index, (text, datatype) in enumerate(value, start=1):
        comp = Component(
            f"VARIES_{index}", datatype=datatype, version=HL7_VERSION, validation_level=_STRICT
        )
        if datatype == "TX" and len(text) > _TX_MAX:
            # hl7apy caps TX at 65536 characters when the value is set in strict mode; an ED
            # payload (a base64 PDF) is longer and HL7 v2 gives OBX-5 no such limit in
            # practice, so the typed TX value object is filled after a strict placeholder.
            comp.value = "-"
            comp.children[0].value.value = text
        else:
            comp.value = text
        field.add(comp)


def _order_numbers(study: StudyInfo) -> tuple[str, str]:
    placer = study.placer_order_number.strip()
    filler = study.filler_order_number.strip()
    if not placer and not filler:
        filler = study.accession_number.strip()
    return placer, filler


def build_oru(
    result: AnalysisResult,
    study: StudyInfo,
    endpoint: Hl7EndpointSettings,
    *,
    control_id: str,
    sr_uid: str | None,
    seg_uids: Sequence[str],
    pdf: bytes | None,
    observed_at: datetime,
    result_status: ResultStatus | str | None = None,
    progress: Sequence[Comparison | None] = (),
    treatment: TreatmentSupport | None = None,
    course: Sequence[CourseResponse | None] = (),
) -> OruMessage:
    """Build the ORU^R01 for one study and one EMR endpoint.

    Parameters
    ----------
    result
        The analysis result of the study.
    study
        Patient and study attributes of the source study (PHI).
    endpoint
        The EMR endpoint: applications, facilities, charset, ``include_pdf``.
    control_id
        MSH-10, 1-20 characters of ``A-Z a-z 0-9 . _ -``; store it with the outbox row, the
        ACK must echo it. :func:`new_control_id` makes one.
    sr_uid
        SOP Instance UID of the SR sent to the PACS, if any.
    seg_uids
        SOP Instance UIDs of the SEG objects sent to the PACS.
    pdf
        The PDF report; sent as an ED OBX when ``endpoint.include_pdf`` is true.
    observed_at
        When the result was produced: MSH-7, ORC-9, OBR-22 and OBX-19. Give an aware datetime
        to send the UTC offset.
    result_status
        OBR-25/OBX-11; ``None`` applies :func:`result_status_for` (``C`` marks a correction).
    progress
        Per image of ``result.images`` (same order; shorter means None for the rest), the
        comparison with the patient's earlier visits, or None. Adds the change rows of
        ``docs/hl7-profile.md``; empty (default) gives exactly the message without them.
    treatment
        The clinic rules' treatment-planning support: adds the ``treatment.*`` rows of
        ``docs/hl7-profile.md`` (topics for the clinician, never a diagnosis); None adds none.
    course
        Per image (same order; shorter means None), the response since the patient's
        treatment course began: adds the ``course.*`` rows of ``docs/hl7-profile.md``.

    Returns
    -------
    OruMessage
        The validated message.

    Raises
    ------
    EncodingError
        The study lacks the Patient ID, a value does not fit its HL7 type, or hl7apy's strict
        validation fails; the message names the field, never its value.
    ValueError
        ``control_id`` or ``result_status`` is not valid, or *progress* is longer than
        ``result.images``.
    """
    if len(progress) > len(result.images):
        raise ValueError(
            f"progress: {len(progress)} comparisons for {len(result.images)} image results"
        )
    if not _CONTROL_ID_RE.match(control_id):
        raise ValueError("control_id must be 1-20 characters of A-Z a-z 0-9 . _ -")
    status = result_status_for(result) if result_status is None else ResultStatus(result_status)
    if not study.patient_id.strip():
        raise EncodingError("PID-3: the study has no Patient ID")
    observed = _ts(observed_at)
    obs_time = _study_ts(study) or observed
    placer, filler = _order_numbers(study)
    rows = _rows(
        result,
        study,
        sr_uid=sr_uid,
        seg_uids=seg_uids,
        pdf=pdf,
        include_pdf=endpoint.include_pdf,
        progress=progress,
        treatment=treatment,
        course=course,
    )
    if len(rows) > 9999:
        raise EncodingError(f"OBX-1: {len(rows)} observations exceed the SI limit of 9999")
    try:
        msg = Message("ORU_R01", version=HL7_VERSION, validation_level=_STRICT)
        msh = msg.msh
        _set(msh, 3, _text(endpoint.sending_application))
        _set(msh, 4, _text(endpoint.sending_facility))
        _set(msh, 5, _text(endpoint.receiving_application))
        _set(msh, 6, _text(endpoint.receiving_facility))
        _set(msh, 7, observed)
        _set(msh, 9, "ORU^R01^ORU_R01")
        _set(msh, 10, control_id)
        _set(msh, 11, "P")
        _set(msh, 12, HL7_VERSION)
        _set(msh, 18, endpoint.charset)

        patient_result = msg.add_group("ORU_R01_PATIENT_RESULT")
        patient = patient_result.add_group("ORU_R01_PATIENT")
        pid = patient.add_segment("PID")
        _set(pid, 1, "1")
        cx = _text(study.patient_id.strip())
        if study.issuer_of_patient_id.strip():
            cx += "^^^" + _text(study.issuer_of_patient_id.strip())
        _set(pid, 3, cx)
        for repetition in patient_name_repetitions(study.patient_name, endpoint.charset):
            pid.add_field("PID_5").value = repetition
        _set(pid, 7, _birth_date(study))
        _set(pid, 8, _SEX.get(study.patient_sex.strip().upper(), "U" if study.patient_sex else ""))
        visit = patient.add_group("ORU_R01_VISIT")
        pv1 = visit.add_segment("PV1")
        _set(pv1, 1, "1")
        _set(pv1, 2, "U")

        order = patient_result.add_group("ORU_R01_ORDER_OBSERVATION")
        orc = order.add_segment("ORC")
        _set(orc, 1, "RE")
        _set(orc, 2, _text(placer))
        _set(orc, 3, _text(filler))
        _set(orc, 5, "CM" if status is not ResultStatus.PRELIMINARY else "A")
        _set(orc, 9, observed)
        obr = order.add_segment("OBR")
        _set(obr, 1, "1")
        _set(obr, 2, _text(placer))
        _set(obr, 3, _text(filler))
        _set(obr, 4, "^".join((*(_text(s) for s in _SERVICE), CODING_SCHEME)))
        _set(obr, 7, obs_time)
        _set(obr, 18, _text(study.accession_number.strip()))
        _set(obr, 22, observed)
        _set(obr, 25, status.value)

        for set_id, row in enumerate(rows, start=1):
            obx = order.add_group("ORU_R01_OBSERVATION").add_segment("OBX")
            _set(obx, 1, str(set_id))
            _set(obx, 2, row.value_type)
            _set(obx, 3, _ce(row.code))
            _set(obx, 4, _text(row.sub_id))
            _set_obx_value(obx, row.value)
            if row.units is not None:
                _set(obx, 6, _ce(row.units))
            _set(obx, 7, _text(row.reference_range))
            _set(obx, 11, status.value)
            _set(obx, 14, obs_time)
            if row.method is not None:
                _set(obx, 17, _ce(row.method))
            _set(obx, 19, observed)
        msg.validate()
        text = msg.to_er7()
    except HL7apyException as exc:
        # Only hl7apy's structural messages are quoted: others (MaxLengthReached ...) echo the
        # value, which may be patient data.
        detail = str(exc) if isinstance(exc, ValidationError) else type(exc).__name__
        raise EncodingError(f"ORU {control_id}: hl7apy rejected the message: {detail}") from exc
    logger.debug("built ORU %s: %d OBX, status %s", control_id, len(rows), status.value)
    return OruMessage(control_id=control_id, text=text + "\r", charset=endpoint.charset)


def build_notice(
    result: AnalysisResult,
    study: StudyInfo,
    endpoint: Hl7EndpointSettings,
    written: ResultSet,
    *,
    result_set: str,
    observed_at: datetime,
    progress: Sequence[Comparison | None] = (),
    treatment: TreatmentSupport | None = None,
    course: Sequence[CourseResponse | None] = (),
) -> OruMessage:
    """The ORU^R01 announcing a written result set to one endpoint (the service's notice).

    The SR and SEG UIDs and the PDF come from *written* (what
    :func:`integrations.outputs.write_result_set` returned); MSH-10 is
    :func:`derive_control_id` of the Study Instance UID, *result_set* (the digest naming the
    set), the algorithm version and the endpoint name. Raises as :func:`build_oru`.
    """
    sr = written.sr
    return build_oru(
        result,
        study,
        endpoint,
        control_id=derive_control_id(
            study.study_instance_uid, result_set, result.algorithm_version, endpoint.name
        ),
        sr_uid=None if sr is None else sr.sop_instance_uid,
        seg_uids=[f.sop_instance_uid for f in written.files if f.kind == "seg"],
        pdf=written.pdf,
        progress=progress,
        treatment=treatment,
        course=course,
        observed_at=observed_at,
    )
