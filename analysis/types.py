"""Typed, frozen inputs and results of the analysis core.

These types are the only things that travel between ``dicom_node`` (which decodes DICOM),
``analysis`` (which measures) and ``integrations`` (which encodes SR/SEG/PDF/HL7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from analysis.fusion import StudyFusion

__all__ = [
    "ALGORITHM_NAME",
    "ALGORITHM_VERSION",
    "ZONES",
    "AnalysisResult",
    "FeatureMap",
    "HeadPose",
    "ImageDescription",
    "ImageResult",
    "MapKind",
    "Measurement",
    "NotAssessed",
    "QualityIssue",
    "QualityResult",
    "Region",
    "Spacing",
    "SpacingSource",
    "View",
    "ZoneMask",
]

ALGORITHM_NAME = "dermnode"
ALGORITHM_VERSION = "0.1.0"

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]


class View(StrEnum):
    """How the photo was taken."""

    FRONTAL = "frontal"
    LEFT = "left"
    RIGHT = "right"
    CLOSE_UP = "close-up"
    DERMOSCOPY = "dermoscopy"

    @property
    def is_face(self) -> bool:
        """A whole-face view (zones are built); otherwise the skin mask is region ``skin``."""
        return self in (View.FRONTAL, View.LEFT, View.RIGHT)


class Region(StrEnum):
    """Zones of DESIGN.md §3 plus the aggregate regions."""

    FOREHEAD = "forehead"
    GLABELLA = "glabella"
    PERIORBITAL_LEFT = "periorbital_left"
    PERIORBITAL_RIGHT = "periorbital_right"
    NOSE = "nose"
    CHEEK_LEFT = "cheek_left"
    CHEEK_RIGHT = "cheek_right"
    NASOLABIAL_LEFT = "nasolabial_left"
    NASOLABIAL_RIGHT = "nasolabial_right"
    PERIORAL = "perioral"
    CHIN = "chin"
    FACE = "face"
    SKIN = "skin"
    T_ZONE = "t_zone"  # forehead + glabella + nose (+ chin), for shine
    U_ZONE = "u_zone"  # cheeks + jaw line, for shine


#: The eleven facial zones, in display order. Left/right are the patient's left and right.
ZONES: tuple[Region, ...] = (
    Region.FOREHEAD,
    Region.GLABELLA,
    Region.PERIORBITAL_LEFT,
    Region.PERIORBITAL_RIGHT,
    Region.NOSE,
    Region.CHEEK_LEFT,
    Region.CHEEK_RIGHT,
    Region.NASOLABIAL_LEFT,
    Region.NASOLABIAL_RIGHT,
    Region.PERIORAL,
    Region.CHIN,
)


class SpacingSource(StrEnum):
    """Where the pixel spacing came from."""

    PIXEL_SPACING = "PixelSpacing"
    ESTIMATED = "estimated"
    UNKNOWN = "unknown"


class MapKind(StrEnum):
    """Binary masks become BINARY segments, continuous maps FRACTIONAL ones."""

    BINARY = "binary"
    CONTINUOUS = "continuous"


def _check_positive(name: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


@dataclass(frozen=True, slots=True)
class ImageDescription:
    """What is known about a photo besides its pixels.

    Parameters
    ----------
    source
        A path or SOP Instance UID, echoed in the result (never patient data).
    view
        Frontal, left, right, close-up or dermoscopy.
    spacing_mm
        Physical size of one pixel (row = column spacing) at the skin, if known.
    body_site
        Free-text or coded body site, if known.
    """

    source: str = ""
    view: View = View.FRONTAL
    spacing_mm: float | None = None
    body_site: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "view", View(self.view))
        _check_positive("spacing_mm", self.spacing_mm)


@dataclass(frozen=True, slots=True)
class Spacing:
    """Pixel spacing used for lengths and areas, and where it came from.

    An ``estimated`` spacing names its ``method`` (``iris``: the horizontal visible iris
    diameter; ``ipd``: the inter-pupillary distance) and its relative uncertainty (one
    standard deviation, in %).
    """

    value: float | None
    source: SpacingSource
    method: str | None = None
    uncertainty_pct: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", SpacingSource(self.source))
        _check_positive("value", self.value)
        _check_positive("uncertainty_pct", self.uncertainty_pct)
        if (self.value is None) != (self.source is SpacingSource.UNKNOWN):
            raise ValueError("spacing value is None exactly when its source is unknown")


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Head pose of a photo, in degrees, measured from the face mesh (:mod:`analysis.zones`).

    ``yaw_deg`` is positive when the patient's left side is turned towards the camera (a
    ``left`` view, about +45 on a three-quarter view), ``pitch_deg`` positive with the chin
    raised, ``roll_deg`` positive when the image-right eye is lower.
    """

    yaw_deg: float
    pitch_deg: float
    roll_deg: float

    def __post_init__(self) -> None:
        for name in ("yaw_deg", "pitch_deg", "roll_deg"):
            v = getattr(self, name)
            if not math.isfinite(v) or abs(v) > 180.0:
                raise ValueError(f"{name} must be a finite angle in [-180, 180], got {v!r}")

    def to_json(self) -> dict[str, float]:
        """``{"yaw_deg": .., "pitch_deg": .., "roll_deg": ..}`` rounded to 0.1 deg."""
        return {
            "yaw_deg": round(self.yaw_deg, 1),
            "pitch_deg": round(self.pitch_deg, 1),
            "roll_deg": round(self.roll_deg, 1),
        }


@dataclass(frozen=True, slots=True)
class Measurement:
    """One number: ``key`` (see :mod:`analysis.keys`), ``region``, ``value``, UCUM ``unit``."""

    key: str
    region: str
    value: float
    unit: str

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValueError(f"measurement {self.key}/{self.region} is not finite")


@dataclass(frozen=True, slots=True)
class QualityIssue:
    """A reason a photo is unusable (``blocking``) or usable with a warning."""

    code: str  # blur | overexposed | underexposed | no_face | low_resolution | colour_cast | glare
    message: str
    blocking: bool


@dataclass(frozen=True, slots=True)
class QualityResult:
    """The quality gate's verdict."""

    usable: bool
    issues: tuple[QualityIssue, ...]
    sharpness: float
    exposure_clipped_pct: float
    face_found: bool
    noise_pct: float = 0.0
    lighting_ratio: float = 1.0

    @property
    def warnings(self) -> tuple[QualityIssue, ...]:
        """Non-blocking issues."""
        return tuple(i for i in self.issues if not i.blocking)


@dataclass(frozen=True, slots=True)
class NotAssessed:
    """A concern deliberately given no number, and why."""

    key: str
    reason: str


@dataclass(frozen=True, slots=True, eq=False)
class ZoneMask:
    """A region's boolean mask over the image (H, W)."""

    region: str
    mask: BoolArray


@dataclass(frozen=True, slots=True, eq=False)
class FeatureMap:
    """A visual map: binary mask (H, W) bool, or continuous (H, W) float32 in [0, 1].

    ``family`` is the concern (pigmentation, redness ...); ``name`` the feature (spots,
    red_areas, red_lesions, pores, wrinkles, fine_lines, shine, melanin, erythema);
    ``algorithm`` a one-line description for the SEG segment.
    """

    name: str
    family: str
    kind: MapKind
    data: npt.NDArray[Any]
    algorithm: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", MapKind(self.kind))
        if self.data.ndim != 2:
            raise ValueError(f"map {self.name} must be 2-D, got shape {self.data.shape}")
        if self.kind is MapKind.BINARY and self.data.dtype != np.bool_:
            raise ValueError(f"binary map {self.name} must be bool")
        if self.kind is MapKind.CONTINUOUS and self.data.dtype != np.float32:
            raise ValueError(f"continuous map {self.name} must be float32")


@dataclass(frozen=True, slots=True, eq=False)
class ImageResult:
    """Everything measured on one photo.

    When ``quality.usable`` is false, ``measurements`` holds only quality keys, ``scores`` is
    empty and ``maps`` is empty: a poor photo gets reasons, not numbers.
    """

    description: ImageDescription
    image_shape: tuple[int, int]
    quality: QualityResult
    spacing: Spacing
    measurements: tuple[Measurement, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    zones: tuple[ZoneMask, ...] = ()
    maps: tuple[FeatureMap, ...] = ()
    not_assessed: tuple[NotAssessed, ...] = ()
    face_box: tuple[int, int, int, int] | None = None  # x, y, w, h
    #: Head pose from the face mesh (None without a mesh).
    pose: HeadPose | None = None
    #: Per zone: the angle (deg) at which this photo sees it; past 60 it is not measured.
    zone_view_angles: dict[str, float] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The source path or SOP Instance UID."""
        return self.description.source

    @property
    def face_found(self) -> bool:
        """Whether a face was detected."""
        return self.quality.face_found

    def value(self, key: str, region: str) -> float | None:
        """The value of *key* in *region*, or None when it was not measured."""
        for m in self.measurements:
            if m.key == key and m.region == region:
                return m.value
        return None

    def to_json(self) -> dict[str, Any]:
        """The per-image object of DESIGN.md §5."""
        q = self.quality
        return {
            "source": self.source,
            "view": str(self.description.view),
            "quality": {
                "usable": q.usable,
                "issues": [
                    {"code": i.code, "message": i.message, "blocking": i.blocking} for i in q.issues
                ],
                "sharpness": round(q.sharpness, 4),
                "exposure_clipped_pct": round(q.exposure_clipped_pct, 4),
            },
            "face_found": q.face_found,
            "spacing_mm": _spacing_json(self.spacing),
            "pose": None if self.pose is None else self.pose.to_json(),
            "zone_view_angles_deg": {k: round(v, 1) for k, v in self.zone_view_angles.items()},
            "measurements": [
                {"key": m.key, "region": m.region, "value": _num(m.value), "unit": m.unit}
                for m in self.measurements
            ],
            "scores": {k: round(v, 1) for k, v in self.scores.items()},
            "not_assessed": [{"key": n.key, "reason": n.reason} for n in self.not_assessed],
        }


def _spacing_json(s: Spacing) -> dict[str, Any]:
    out: dict[str, Any] = {"value": s.value, "source": str(s.source)}
    if s.method is not None:
        out["method"] = s.method
    if s.uncertainty_pct is not None:
        out["uncertainty_pct"] = round(s.uncertainty_pct, 2)
    return out


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(float(v), 6)


@dataclass(frozen=True, slots=True, eq=False)
class AnalysisResult:
    """The result for a set of photos analysed together (one study)."""

    images: tuple[ImageResult, ...]
    algorithm_name: str = ALGORITHM_NAME
    algorithm_version: str = ALGORITHM_VERSION
    #: Study-level values, each zone from the view that sees it best (:mod:`analysis.fusion`).
    study: StudyFusion | None = None

    def to_json(self, outputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON document of DESIGN.md §5 (plus ``study`` when the views were fused)."""
        out: dict[str, Any] = {
            "schema": "dermnode.analysis/1",
            "algorithm": {"name": self.algorithm_name, "version": self.algorithm_version},
            "images": [i.to_json() for i in self.images],
        }
        if self.study is not None:
            out["study"] = self.study.to_json()
        out["outputs"] = outputs or {}
        return out
