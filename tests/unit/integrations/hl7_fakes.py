"""Hand-built analysis results, studies and endpoints for the HL7 tests (no engine needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from analysis.keys import NOT_ASSESSED
from analysis.types import (
    AnalysisResult,
    ImageDescription,
    ImageResult,
    Measurement,
    NotAssessed,
    QualityIssue,
    QualityResult,
    Spacing,
    SpacingSource,
    View,
)
from config.settings import Hl7EndpointSettings
from integrations.study import StudyInfo

KST = timezone(timedelta(hours=9))
OBSERVED_AT = datetime(2024, 5, 17, 14, 30, 5, tzinfo=KST)

SCORES = {
    "pigmentation": 42.5,
    "redness": 17.0,
    "pores": 63.25,
    "wrinkles": 8.0,
    "texture": 55.5,
    "oil": 30.0,
}

FACE_MEASUREMENTS = (
    Measurement("pores.count", "face", 1234.0, "{count}"),
    Measurement("pigmentation.ita_deg", "face", -12.345678, "deg"),
    Measurement("redness.erythema_index", "face", 0.000012, "{index}"),
    Measurement("wrinkles.length_mm", "face", 87.5, "mm"),
    Measurement("quality.sharpness", "face", 0.8, "{index}"),
)
ZONE_MEASUREMENTS = (Measurement("pores.count", "cheek_left", 321.0, "{count}"),)

NOT_ASSESSED_ROWS = tuple(NotAssessed(k, v) for k, v in NOT_ASSESSED.items())


def quality(
    *, usable: bool = True, warnings: tuple[str, ...] = (), blocking: tuple[str, ...] = ()
) -> QualityResult:
    issues = tuple(QualityIssue(c, f"{c} detected", False) for c in warnings) + tuple(
        QualityIssue(c, f"{c} detected", True) for c in blocking
    )
    return QualityResult(
        usable=usable,
        issues=issues,
        sharpness=0.8 if usable else 0.05,
        exposure_clipped_pct=0.5,
        face_found=usable,
    )


def image(
    source: str = "1.2.826.0.1.3680043.8.498.1",
    *,
    usable: bool = True,
    warnings: tuple[str, ...] = (),
    blocking: tuple[str, ...] = (),
    scores: dict[str, float] | None = None,
) -> ImageResult:
    q = quality(usable=usable, warnings=warnings, blocking=blocking)
    return ImageResult(
        description=ImageDescription(source=source, view=View.FRONTAL),
        image_shape=(64, 48),
        quality=q,
        spacing=Spacing(0.1, SpacingSource.PIXEL_SPACING),
        measurements=(FACE_MEASUREMENTS + ZONE_MEASUREMENTS) if usable else (),
        scores=dict(SCORES if scores is None else scores) if usable else {},
        not_assessed=NOT_ASSESSED_ROWS,
    )


def result(*images: ImageResult) -> AnalysisResult:
    return AnalysisResult(images=images or (image(),))


def study(**changes: object) -> StudyInfo:
    base = StudyInfo(
        patient_id="PAT-0001",
        issuer_of_patient_id="HOSP",
        patient_name="Doe^Jane^Q^Dr^III",
        patient_birth_date="19800229",
        patient_sex="F",
        study_instance_uid="1.2.826.0.1.3680043.8.498.100",
        study_id="S1",
        study_date="20240517",
        study_time="101530.123456",
        accession_number="ACC-42",
        referring_physician_name="",
        study_description="Face photos",
        placer_order_number="PL-7",
        filler_order_number="FI-9",
        specific_character_set=("ISO_IR 192",),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def endpoint(**changes: object) -> Hl7EndpointSettings:
    data: dict[str, object] = {
        "name": "emr",
        "host": "127.0.0.1",
        "port": 2575,
        "sending_application": "DERMNODE",
        "sending_facility": "DERMCLINIC",
        "receiving_application": "EMR",
        "receiving_facility": "HOSPITAL",
    }
    data.update(changes)
    return Hl7EndpointSettings.model_validate(data)
