"""Coded concepts of DermNode's DICOM outputs: SNOMED CT sites, UCUM units, private ``99DRMN``.

- Zones map to SNOMED CT concepts of DICOM CID 4029 "Dermatology Anatomic Site" (values checked
  against ``pydicom.sr._cid_dict``, which is generated from PS3.16), with laterality from
  CID 244 where the zone is one-sided. Regions without a CID 4029 concept of their own
  (glabella, T-zone, U-zone) use the nearest CID 4029 parent plus a ``99DRMN`` topographical
  modifier, so a generic viewer still shows a standard site.
- Units are UCUM (PS3.16 §8 "UCUM"); annotations in braces (``{count}``) are valid UCUM.
- Every measurement key of :mod:`analysis.keys`, every concern score, the not-assessed
  concerns, the quality concepts and the feature maps have a private code in the coding scheme
  ``99DRMN`` (PS3.16 §8.2 private schemes start with ``99``). The code values are part of the
  interface: they never change once released (a test pins them); new keys get new codes.
  ``docs/dicom-conformance.md`` has the table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from highdicom.coding_schemes import CodingSchemeIdentificationItem
from highdicom.sr import CodedConcept

from analysis.keys import CONCERNS, KEYS, key_info
from analysis.progress import ChangeLabel

__all__ = [
    "CHANGE_LABEL_CODES",
    "CONCEPT_TX_CONCERN",
    "CONCEPT_TX_RULE",
    "CONCEPT_TX_SUPPORT",
    "CONCEPT_TX_TOPIC",
    "CONCEPT_TX_TRIGGER",
    "TX_PRIORITY_CODES",
    "CONCEPT_BASELINE_DATE",
    "CONCEPT_BASELINE_SR",
    "CONCEPT_BASELINE_STUDY",
    "CONCEPT_CHANGE_BASELINE",
    "CONCEPT_CHANGE_BASELINE_PCT",
    "CONCEPT_CHANGE_PREVIOUS",
    "CONCEPT_CHANGE_PREVIOUS_PCT",
    "CONCEPT_COMPARED",
    "CONCEPT_EXCLUDED_PRIOR",
    "CONCEPT_LABEL_BASELINE",
    "CONCEPT_LABEL_PREVIOUS",
    "CONCEPT_MDC_BASELINE",
    "CONCEPT_MDC_PREVIOUS",
    "CONCEPT_PREVIOUS_DATE",
    "CONCEPT_PREVIOUS_SR",
    "CONCEPT_PREVIOUS_STUDY",
    "CONCEPT_FACE_FOUND",
    "CONCEPT_FEATURE_CATEGORY",
    "CONCEPT_FINDING_QUALITY",
    "CONCEPT_FINDING_STUDY",
    "CONCEPT_FINDING_ZONE",
    "CONCEPT_STUDY_VIEW",
    "CONCEPT_VIEWS_DISAGREE",
    "CONCEPT_VIEW_ANGLE",
    "CONCEPT_VIEW_SPREAD",
    "VIEW_CODES",
    "CONCEPT_IMAGE_USABLE",
    "CONCEPT_MAP_CATEGORY",
    "CONCEPT_NOT_ASSESSED",
    "CONCEPT_PROCEDURE",
    "CONCEPT_QUALITY_BLOCKING",
    "CONCEPT_QUALITY_ISSUE",
    "CONCEPT_SPACING_ESTIMATED",
    "CONCEPT_SPACING_UNKNOWN",
    "SCT_ABNORMAL_STRUCTURE",
    "SCT_ANATOMICAL_STRUCTURE",
    "SCT_NO",
    "SCT_YES",
    "DRMN",
    "DRMN_SCHEME",
    "FEATURE_CODES",
    "KEY_CODES",
    "NOT_ASSESSED_CODES",
    "QUALITY_ISSUE_CODES",
    "SCORE_CODES",
    "UCUM_MEANINGS",
    "ZONE_SITES",
    "ZoneSite",
    "all_drmn_codes",
    "change_label_code",
    "drmn",
    "feature_code",
    "key_code",
    "not_assessed_code",
    "quality_issue_code",
    "sct",
    "ucum",
    "zone_site",
]

DRMN = "99DRMN"

#: Coding Scheme Identification Sequence item for the private scheme (PS3.3 C.12.1).
DRMN_SCHEME = CodingSchemeIdentificationItem(
    designator=DRMN,
    name="DermNode skin analysis concepts",
    responsible_organization="DermNode project",
)


def drmn(value: str, meaning: str) -> CodedConcept:
    """A concept of the private ``99DRMN`` scheme."""
    return CodedConcept(value=value, scheme_designator=DRMN, meaning=meaning)


def sct(value: str, meaning: str) -> CodedConcept:
    """A SNOMED CT concept."""
    return CodedConcept(value=value, scheme_designator="SCT", meaning=meaning)


# --- measurement keys ---------------------------------------------------------------------
#: key -> 99DRMN code value (at most 16 characters, the SH limit of Code Value).
KEY_CODES: dict[str, str] = {
    "pigmentation.ita_deg": "PIG-ITA",
    "pigmentation.melanin_index": "PIG-MI",
    "pigmentation.spots.count": "PIG-SPOT-N",
    "pigmentation.spots.area_pct": "PIG-SPOT-AREA",
    "pigmentation.melasma.score": "PIG-MELASMA",
    "redness.erythema_index": "RED-EI",
    "redness.area_pct": "RED-AREA",
    "redness.lesions.count": "RED-LES-N",
    "pores.count": "POR-N",
    "pores.density_per_cm2": "POR-DENS",
    "pores.mean_diameter_mm": "POR-DIAM",
    "pores.enlarged.count": "POR-ENL-N",
    "wrinkles.count": "WRK-N",
    "wrinkles.length_mm": "WRK-LEN",
    "wrinkles.area_pct": "WRK-AREA",
    "wrinkles.fine_lines.count": "WRK-FINE-N",
    "wrinkles.fine_lines.length_mm": "WRK-FINE-LEN",
    "texture.roughness": "TEX-ROUGH",
    "texture.uniformity": "TEX-UNIF",
    "oil.shine_area_pct": "OIL-SHINE",
    "quality.sharpness": "QA-SHARP",
    "quality.exposure_clipped_pct": "QA-CLIP",
}

#: concern -> 99DRMN code value of its 0-100 score.
SCORE_CODES: dict[str, str] = {c: f"SCORE-{c[:3].upper()}" for c in CONCERNS}

#: concern not assessed -> 99DRMN code value.
NOT_ASSESSED_CODES: dict[str, str] = {
    "hydration": "NA-HYDRATION",
    "uv_damage": "NA-UVDAMAGE",
    # a zone this photo does not measure (seen too obliquely, or the pose beyond the mesh)
    "zone.forehead": "NA-Z-FOREHEAD",
    "zone.glabella": "NA-Z-GLABELLA",
    "zone.periorbital_left": "NA-Z-PERIORB-L",
    "zone.periorbital_right": "NA-Z-PERIORB-R",
    "zone.nose": "NA-Z-NOSE",
    "zone.cheek_left": "NA-Z-CHEEK-L",
    "zone.cheek_right": "NA-Z-CHEEK-R",
    "zone.nasolabial_left": "NA-Z-NASOLAB-L",
    "zone.nasolabial_right": "NA-Z-NASOLAB-R",
    "zone.perioral": "NA-Z-PERIORAL",
    "zone.chin": "NA-Z-CHIN",
}

_NOT_ASSESSED_MEANINGS = {
    "hydration": "Skin hydration",
    "uv_damage": "UV damage",
    **{
        k: f"Zone not measured in this view: {k.removeprefix('zone.').replace('_', ' ')}"
        for k in NOT_ASSESSED_CODES
        if k.startswith("zone.")
    },
}

#: quality issue code (analysis.types.QualityIssue.code) -> 99DRMN code value.
QUALITY_ISSUE_CODES: dict[str, str] = {
    "blur": "QI-BLUR",
    "overexposed": "QI-OVEREXP",
    "underexposed": "QI-UNDEREXP",
    "no_face": "QI-NOFACE",
    "low_resolution": "QI-LOWRES",
    "colour_cast": "QI-CAST",
    "glare": "QI-GLARE",
    "view_mismatch": "QI-VIEW",
    "pose_out_of_range": "QI-POSE",
}

#: feature map name -> (99DRMN code value, meaning).
FEATURE_CODES: dict[str, tuple[str, str]] = {
    "spots": ("F-SPOTS", "Brown spots"),
    "red_areas": ("F-RED-AREA", "Red areas"),
    "red_lesions": ("F-RED-LES", "Inflamed lesions"),
    "pores": ("F-PORES", "Pores"),
    "wrinkles": ("F-WRINKLES", "Wrinkles"),
    "fine_lines": ("F-FINELINES", "Fine lines"),
    "shine": ("F-SHINE", "Shine (specular highlights)"),
    "melanin": ("F-MELANIN", "Melanin map"),
    "erythema": ("F-ERYTHEMA", "Erythema map"),
}

# Fixed concepts of the SR.
CONCEPT_PROCEDURE = drmn("PROC-SKIN", "Photographic skin analysis")
CONCEPT_IMAGE_USABLE = drmn("QA-USABLE", "Image usable for analysis")
CONCEPT_FACE_FOUND = drmn("QA-FACE", "Face found")
CONCEPT_QUALITY_ISSUE = drmn("QA-ISSUE", "Image quality warning")
CONCEPT_QUALITY_BLOCKING = drmn("QA-BLOCKING", "Image quality failure")
CONCEPT_NOT_ASSESSED = drmn("NOT-ASSESSED", "Not assessed")
CONCEPT_SPACING_ESTIMATED = drmn("SPACING-EST", "Pixel spacing estimated")
CONCEPT_SPACING_UNKNOWN = drmn("SPACING-UNK", "Pixel spacing unknown")
CONCEPT_FEATURE_CATEGORY = drmn("F-CATEGORY", "Skin appearance feature")
CONCEPT_MAP_CATEGORY = drmn("F-MAPCAT", "Skin appearance map")
CONCEPT_FINDING_ZONE = drmn("FIND-ZONE", "Skin zone analysis")
CONCEPT_FINDING_QUALITY = drmn("FIND-QA", "Image quality assessment")
#: Head pose of a photo measured from the face mesh (analysis.types.HeadPose), in degrees.
CONCEPT_HEAD_YAW = drmn("POSE-YAW", "Head yaw (patient's left towards camera)")
CONCEPT_HEAD_PITCH = drmn("POSE-PITCH", "Head pitch (chin raised)")
CONCEPT_HEAD_ROLL = drmn("POSE-ROLL", "Head roll (image-right eye lower)")
#: Study-level values (analysis.fusion): one group per zone, from the view that sees it best.
CONCEPT_FINDING_STUDY = drmn("FIND-STUDY", "Study-level zone values (best view)")
CONCEPT_STUDY_VIEW = drmn("STUDY-VIEW", "View the study-level values come from")
CONCEPT_VIEW_ANGLE = drmn("VIEW-ANGLE", "Zone view angle")
CONCEPT_VIEW_SPREAD = drmn("VIEW-SPREAD", "Spread between views")
CONCEPT_VIEWS_DISAGREE = drmn("VIEWS-DISAGREE", "The views disagree about")
#: analysis.types.View value -> 99DRMN concept (the value of STUDY-VIEW).
VIEW_CODES: dict[str, CodedConcept] = {
    "frontal": drmn("VIEW-FRONTAL", "Frontal view"),
    "left": drmn("VIEW-LEFT", "Left three-quarter view (patient's left side)"),
    "right": drmn("VIEW-RIGHT", "Right three-quarter view (patient's right side)"),
    "close-up": drmn("VIEW-CLOSEUP", "Close-up view"),
    "dermoscopy": drmn("VIEW-DERMOSCOPY", "Dermoscopy view"),
}
_FIXED = (
    CONCEPT_FINDING_STUDY,
    CONCEPT_STUDY_VIEW,
    CONCEPT_VIEW_ANGLE,
    CONCEPT_VIEW_SPREAD,
    CONCEPT_VIEWS_DISAGREE,
    *VIEW_CODES.values(),
    CONCEPT_PROCEDURE,
    CONCEPT_IMAGE_USABLE,
    CONCEPT_FACE_FOUND,
    CONCEPT_QUALITY_ISSUE,
    CONCEPT_QUALITY_BLOCKING,
    CONCEPT_NOT_ASSESSED,
    CONCEPT_SPACING_ESTIMATED,
    CONCEPT_SPACING_UNKNOWN,
    CONCEPT_FEATURE_CATEGORY,
    CONCEPT_HEAD_YAW,
    CONCEPT_HEAD_PITCH,
    CONCEPT_HEAD_ROLL,
    CONCEPT_MAP_CATEGORY,
    CONCEPT_FINDING_ZONE,
    CONCEPT_FINDING_QUALITY,
)

# Progress tracking (comparison with earlier visits of the same patient, view and zone).
CONCEPT_COMPARED = drmn("CMP-DONE", "Compared with earlier visits")
CONCEPT_PREVIOUS_STUDY = drmn("CMP-PREV-STUDY", "Previous visit Study Instance UID")
CONCEPT_PREVIOUS_SR = drmn("CMP-PREV-SR", "Previous visit SR SOP Instance UID")
CONCEPT_PREVIOUS_DATE = drmn("CMP-PREV-DATE", "Previous visit date")
CONCEPT_BASELINE_STUDY = drmn("CMP-BASE-STUDY", "Baseline visit Study Instance UID")
CONCEPT_BASELINE_SR = drmn("CMP-BASE-SR", "Baseline visit SR SOP Instance UID")
CONCEPT_BASELINE_DATE = drmn("CMP-BASE-DATE", "Baseline visit date")
CONCEPT_EXCLUDED_PRIOR = drmn("CMP-EXCLUDED", "Earlier visit not compared")
CONCEPT_CHANGE_PREVIOUS = drmn("CHG-PREV", "Change since previous visit")
CONCEPT_CHANGE_PREVIOUS_PCT = drmn("CHG-PREV-PCT", "Relative change since previous visit")
CONCEPT_CHANGE_BASELINE = drmn("CHG-BASE", "Change since baseline visit")
CONCEPT_CHANGE_BASELINE_PCT = drmn("CHG-BASE-PCT", "Relative change since baseline visit")
CONCEPT_MDC_PREVIOUS = drmn("MDC-PREV", "Minimum detectable change, previous visit")
CONCEPT_MDC_BASELINE = drmn("MDC-BASE", "Minimum detectable change, baseline visit")
CONCEPT_LABEL_PREVIOUS = drmn("CHG-PREV-LBL", "Change since previous visit verdict")
CONCEPT_LABEL_BASELINE = drmn("CHG-BASE-LBL", "Change since baseline visit verdict")

#: Treatment-planning support (clinic rules; analysis.treatment): topics, never diagnoses.
CONCEPT_TX_SUPPORT = drmn("TX-SUPPORT", "Treatment-planning support")
CONCEPT_TX_TOPIC = drmn("TX-TOPIC", "Topic for the consultation")
CONCEPT_TX_RULE = drmn("TX-RULE", "Clinic rule identifier")
CONCEPT_TX_CONCERN = drmn("TX-CONCERN", "Concern of the topic")
CONCEPT_TX_TRIGGER = drmn("TX-TRIGGER", "Value that raised the topic")
#: analysis.treatment.Priority label -> 99DRMN concept.
TX_PRIORITY_CODES: dict[str, CodedConcept] = {
    "high": drmn("TX-PRI-HIGH", "High priority topic"),
    "medium": drmn("TX-PRI-MEDIUM", "Medium priority topic"),
    "low": drmn("TX-PRI-LOW", "Low priority topic"),
}
_TREATMENT = (
    CONCEPT_TX_SUPPORT,
    CONCEPT_TX_TOPIC,
    CONCEPT_TX_RULE,
    CONCEPT_TX_CONCERN,
    CONCEPT_TX_TRIGGER,
    *TX_PRIORITY_CODES.values(),
)

#: analysis.progress.ChangeLabel value -> 99DRMN concept of the verdict.
CHANGE_LABEL_CODES: dict[str, CodedConcept] = {
    label.value: drmn(code, label.meaning)
    for label, code in (
        (ChangeLabel.IMPROVED, "CHG-IMPROVED"),
        (ChangeLabel.WORSENED, "CHG-WORSENED"),
        (ChangeLabel.STABLE, "CHG-STABLE"),
        (ChangeLabel.NO_MDC, "CHG-NOMDC"),
    )
}
_PROGRESS = (
    CONCEPT_COMPARED,
    CONCEPT_PREVIOUS_STUDY,
    CONCEPT_PREVIOUS_SR,
    CONCEPT_PREVIOUS_DATE,
    CONCEPT_BASELINE_STUDY,
    CONCEPT_BASELINE_SR,
    CONCEPT_BASELINE_DATE,
    CONCEPT_EXCLUDED_PRIOR,
    CONCEPT_CHANGE_PREVIOUS,
    CONCEPT_CHANGE_PREVIOUS_PCT,
    CONCEPT_CHANGE_BASELINE,
    CONCEPT_CHANGE_BASELINE_PCT,
    CONCEPT_MDC_PREVIOUS,
    CONCEPT_MDC_BASELINE,
    CONCEPT_LABEL_PREVIOUS,
    CONCEPT_LABEL_BASELINE,
)


def change_label_code(label: str) -> CodedConcept:
    """The 99DRMN concept of a change verdict (``improved`` / ``worsened`` / ``stable`` /
    ``no_mdc``).

    Raises
    ------
    ValueError
        When *label* is not a known verdict.
    """
    try:
        return CHANGE_LABEL_CODES[str(label)]
    except KeyError:
        raise ValueError(f"label: unknown change verdict {label!r}") from None


SCT_YES = sct("373066001", "Yes")
SCT_NO = sct("373067005", "No")
SCT_ANATOMICAL_STRUCTURE = sct("91723000", "Anatomical structure")
SCT_ABNORMAL_STRUCTURE = sct("49755003", "Morphologically abnormal structure")

#: UCUM unit -> display meaning.
UCUM_MEANINGS: dict[str, str] = {
    "deg": "degree",
    "{index}": "index",
    "{count}": "count",
    "%": "percent",
    "{score}": "score",
    "/cm2": "per square centimeter",
    "/{kpx}": "per thousand pixels",
    "mm": "millimeter",
    "{px}": "pixels",
    "mm2": "square millimeter",
    "{px2}": "square pixels",
    "1": "no units",
}


def ucum(unit: str) -> CodedConcept:
    """The UCUM concept for *unit* (a unit of :mod:`analysis.keys`).

    Raises
    ------
    ValueError
        When *unit* is not one DermNode reports.
    """
    try:
        meaning = UCUM_MEANINGS[unit]
    except KeyError:
        raise ValueError(f"unit: no UCUM meaning known for {unit!r}") from None
    return CodedConcept(value=unit, scheme_designator="UCUM", meaning=meaning)


def key_code(key: str) -> CodedConcept:
    """The 99DRMN concept of a measurement key or of a concern score (``score.<concern>``)."""
    if key.startswith("score."):
        concern = key.removeprefix("score.")
        if concern not in SCORE_CODES:
            raise ValueError(f"key: unknown concern {concern!r}")
        return drmn(SCORE_CODES[concern], f"{concern.capitalize()} score")
    if key in KEY_CODES:
        return drmn(KEY_CODES[key], key_info(key).meaning)
    # A key added to analysis.keys after this table: a stable code derived from the key, so
    # the SR can still be written; the unit test of this table asks for an explicit entry.
    digest = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:12].upper()
    return drmn(f"K-{digest}", key)


def not_assessed_code(key: str) -> CodedConcept:
    """The 99DRMN concept of a concern DermNode does not assess."""
    value = NOT_ASSESSED_CODES.get(key)
    if value is None:
        # A concern added later still gets a stable code derived from its key.
        value = ("NA-" + key.upper().replace(".", "-").replace("_", ""))[:16]
    meaning = _NOT_ASSESSED_MEANINGS.get(key) or key.replace("_", " ").capitalize()
    return drmn(value, meaning)


def quality_issue_code(code: str) -> CodedConcept:
    """The 99DRMN concept of a quality issue code."""
    value = QUALITY_ISSUE_CODES.get(code) or ("QI-" + code.upper().replace("_", ""))[:16]
    return drmn(value, code.replace("_", " ").capitalize())


def feature_code(name: str) -> CodedConcept:
    """The 99DRMN concept of a feature map (segment property type)."""
    if name in FEATURE_CODES:
        value, meaning = FEATURE_CODES[name]
    else:
        value, meaning = ("F-" + name.upper().replace("_", ""))[:16], name.replace("_", " ")
    return drmn(value, meaning)


# --- zones --------------------------------------------------------------------------------
_LEFT = sct("7771000", "Left")
_RIGHT = sct("24028007", "Right")


@dataclass(frozen=True, slots=True)
class ZoneSite:
    """A region as a coded finding site: CID 4029 concept, laterality, topographical modifier."""

    site: CodedConcept
    laterality: CodedConcept | None = None
    modifier: CodedConcept | None = None


_FOREHEAD = sct("68698007", "Skin of forehead")
_EYE_REGION = sct("362916000", "Skin of eye region")
_CHEEK = sct("36141000", "Skin of cheek")
_FACE = sct("73897004", "Skin of face")
_NASOLABIAL = sct("37108007", "Skin of nasolabial fold")  # CID 4029

#: region (analysis.types.Region value) -> coded site. CID 4029 concepts only.
ZONE_SITES: dict[str, ZoneSite] = {
    "forehead": ZoneSite(_FOREHEAD),
    "glabella": ZoneSite(_FOREHEAD, None, drmn("Z-GLABELLA", "Glabella")),
    "periorbital_left": ZoneSite(_EYE_REGION, _LEFT),
    "periorbital_right": ZoneSite(_EYE_REGION, _RIGHT),
    "nose": ZoneSite(sct("113179006", "Skin of nose")),
    "cheek_left": ZoneSite(_CHEEK, _LEFT),
    "cheek_right": ZoneSite(_CHEEK, _RIGHT),
    "nasolabial_left": ZoneSite(_NASOLABIAL, _LEFT),
    "nasolabial_right": ZoneSite(_NASOLABIAL, _RIGHT),
    "perioral": ZoneSite(sct("110488009", "Skin of perioral region of face")),
    "chin": ZoneSite(sct("23747009", "Skin of chin")),
    "face": ZoneSite(_FACE),
    "skin": ZoneSite(sct("39937001", "Skin")),
    "t_zone": ZoneSite(_FACE, None, drmn("Z-TZONE", "T-zone (forehead, nose, chin)")),
    "u_zone": ZoneSite(_FACE, None, drmn("Z-UZONE", "U-zone (cheeks, jaw line)")),
}


def zone_site(region: str) -> ZoneSite | None:
    """The coded site of *region*, or None for a region DermNode does not know."""
    return ZONE_SITES.get(region)


def all_drmn_codes() -> list[CodedConcept]:
    """Every fixed 99DRMN concept, for the documentation table and the uniqueness test."""
    out = [key_code(k.key) for k in KEYS if k.key in KEY_CODES]
    out += [key_code(f"score.{c}") for c in CONCERNS]
    out += [not_assessed_code(k) for k in NOT_ASSESSED_CODES]
    out += [quality_issue_code(c) for c in QUALITY_ISSUE_CODES]
    out += [feature_code(n) for n in FEATURE_CODES]
    out += [c for c in _FIXED]
    out += [c for c in _PROGRESS]
    out += list(CHANGE_LABEL_CODES.values())
    out += list(_TREATMENT)
    out += [s.modifier for s in ZONE_SITES.values() if s.modifier is not None]
    return out
