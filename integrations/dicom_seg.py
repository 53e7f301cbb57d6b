"""Segmentation objects (PS3.3 A.51) for the zones and feature maps of one photo.

Per source photo DermNode writes, **each in a series of its own** (OHIF and other viewers
offer one Segmentation per series: the last instance; PS3.3 C.7.3 leaves the grouping to us):

- one **BINARY** Segmentation with a segment per zone (``forehead`` ... ``face``) and per
  binary feature map (spots, wrinkles, pores ...), bit-packed (1 bit per pixel), content
  label ``ZONES``;
- when the photo has continuous maps (melanin, erythema), one **FRACTIONAL** Segmentation
  (type OCCUPANCY, 0-255, RLE Lossless), content label ``MAPS``, for tools that read the
  intensities, because a Segmentation instance holds one Segmentation Type only (PS3.3
  C.8.20.2); and
- beside it one **BINARY** Segmentation with the levels of those maps (``melanin >= 50%``,
  ``melanin >= 75%`` ...; :data:`MAP_LEVELS`), content label ``LEVELS``: OHIF 3.x does not
  draw FRACTIONAL segmentations at all, so this is what a viewer shows of the continuous maps.

Never LABELMAP: Orthanc 1.10 and the Debian dciodvfy reject it.

All are built by :class:`highdicom.seg.Segmentation` on the source VL Photographic Image.
Such a photo has no Frame of Reference, so highdicom aligns the single frame pixel for pixel
with the source and writes no plane position. DermNode adds the Shared Functional Groups
that viewers read (Pixel Measures with the photo's spacing or the flagged estimate, Plane
Orientation of the pixel grid; :func:`_add_shared_geometry`). Segments are coded: zones
with their SNOMED CT site from CID 4029 under category "Anatomical structure" (laterality as
Segmented Property Type Modifier), features with ``99DRMN`` types; each carries the Segment
Algorithm Identification, the algorithm's one-line description in Segment Description, and a
Tracking UID equal to the one of the SR measurement group of the same zone.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

import highdicom as hd
import numpy as np
from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset
from pydicom.pixels.encoders.base import get_encoder
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

from analysis.types import FeatureMap, ImageResult, MapKind, SpacingSource, ZoneMask
from integrations.codes import (
    CONCEPT_FEATURE_CATEGORY,
    CONCEPT_MAP_CATEGORY,
    SCT_ABNORMAL_STRUCTURE,
    SCT_ANATOMICAL_STRUCTURE,
    drmn,
    feature_code,
    zone_site,
)
from integrations.dicom_common import (
    SERIES_NUMBERS,
    Equipment,
    apply_character_set,
    set_series_date_time,
)
from integrations.errors import EncodingError
from integrations.uids import OutputUids, derive_uid, tracking_uid

__all__ = [
    "MAP_LEVELS",
    "use_safe_rle_encoder",
    "SEGMENT_COLOURS",
    "SegOutput",
    "SegmentRef",
    "build_segmentations",
    "segment_colour",
    "level_name",
    "tracking_ids",
    "view_label",
]

logger = logging.getLogger(__name__)

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"

#: Display colour (sRGB) per zone or feature; the PDF legend uses the same colours.
SEGMENT_COLOURS: dict[str, tuple[int, int, int]] = {
    "forehead": (230, 159, 0),
    "glabella": (240, 228, 66),
    "periorbital_left": (86, 180, 233),
    "periorbital_right": (86, 180, 233),
    "nose": (0, 158, 115),
    "cheek_left": (204, 121, 167),
    "cheek_right": (204, 121, 167),
    "perioral": (213, 94, 0),
    "chin": (0, 114, 178),
    "face": (200, 200, 200),
    "skin": (200, 200, 200),
    "t_zone": (255, 255, 255),
    "u_zone": (160, 160, 160),
    "spots": (120, 60, 20),
    "red_areas": (230, 30, 30),
    "red_lesions": (255, 0, 90),
    "pores": (0, 200, 255),
    "wrinkles": (40, 40, 255),
    "fine_lines": (140, 140, 255),
    "shine": (255, 255, 120),
    "melanin": (110, 60, 30),
    "erythema": (220, 20, 60),
}

_FAMILY_OF_FEATURE: dict[str, Any] = {
    "pores": codes.cid7162.MultiScaleResolutionFiltering,
    "wrinkles": codes.cid7162.MultiScaleResolutionFiltering,
    "fine_lines": codes.cid7162.MultiScaleResolutionFiltering,
    "spots": codes.cid7162.NeighborhoodAnalysis,
    "red_lesions": codes.cid7162.NeighborhoodAnalysis,
}


def segment_colour(name: str) -> tuple[int, int, int]:
    """Display colour of a zone or feature (grey for an unknown name)."""
    return SEGMENT_COLOURS.get(name, (128, 128, 128))


def _lab(rgb: tuple[int, int, int]) -> hd.color.CIELabColor:
    """sRGB (D65) to CIE L*a*b* for Recommended Display CIELab Value."""

    def lin(c: float) -> float:
        c /= 255.0
        return c / 12.92 if c <= 0.04045 else float(((c + 0.055) / 1.055) ** 2.4)

    r, g, b = (lin(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return float(t ** (1 / 3)) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    lightness = min(max(116 * fy - 16, 0.0), 100.0)
    a = min(max(500 * (fx - fy), -128.0), 127.0)
    bb = min(max(200 * (fy - fz), -128.0), 127.0)
    return hd.color.CIELabColor(lightness, a, bb)


@dataclass(frozen=True, slots=True)
class SegmentRef:
    """Where a zone or feature lives: for ``ReferencedSegmentationFrame`` in the SR."""

    sop_class_uid: str
    sop_instance_uid: str
    segment_number: int
    frame_number: int


@dataclass(frozen=True, slots=True, eq=False)
class SegOutput:
    """One Segmentation and the segments it holds, keyed ``zone:<region>``/``map:<name>``."""

    dataset: hd.seg.Segmentation
    kind: MapKind
    segments: dict[str, SegmentRef] = field(default_factory=dict)


def tracking_ids(source: Dataset, view: str, name: str) -> tuple[str, str]:
    """Tracking Identifier (text) and Tracking UID of a zone or feature of a patient.

    The identifier is readable (``frontal/cheek_left``); the UID is derived from the patient
    identity, the view and the name, so it is the same in every study of that patient.
    """
    uid = tracking_uid(
        str(source.get("PatientID", "") or ""),
        str(source.get("IssuerOfPatientID", "") or ""),
        view,
        name,
        study_uid=str(source.StudyInstanceUID),
    )
    return f"{view}/{name}", uid


def _algorithm(
    name: str, version: str, family: Any, detail: str
) -> hd.AlgorithmIdentificationSequence:
    return hd.AlgorithmIdentificationSequence(
        name=name,
        family=family,
        version=version,
        parameters={"method": detail[:64]} if detail else None,
    )


def _zone_description(
    number: int,
    zone: ZoneMask,
    source: Dataset,
    view: str,
    algo: hd.AlgorithmIdentificationSequence,
) -> hd.seg.SegmentDescription:
    site = zone_site(zone.region)
    tracking_id, tuid = tracking_ids(source, view, zone.region)
    if site is None:
        category: CodedConcept = CONCEPT_FEATURE_CATEGORY
        prop: CodedConcept = drmn(f"Z-{zone.region.upper()}"[:16], zone.region)
    else:
        # A copy: the modifier sequence below must not leak into the shared constant.
        category, prop = SCT_ANATOMICAL_STRUCTURE, copy.deepcopy(site.site)
    desc = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=zone.region[:64],
        segmented_property_category=category,
        segmented_property_type=prop,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algo,
        tracking_uid=tuid,
        tracking_id=tracking_id,
        display_color=_lab(segment_colour(zone.region)),
    )
    modifiers = [m for m in (site.laterality, site.modifier) if m is not None] if site else []
    if modifiers:
        desc.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
            _code_item(m) for m in modifiers
        ]
    desc.SegmentDescription = f"{zone.region} zone"[:64]
    return desc


def _code_item(code: CodedConcept) -> Dataset:
    item = Dataset()
    item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme_designator
    item.CodeMeaning = code.meaning
    return item


def _map_description(
    number: int,
    fmap: FeatureMap,
    source: Dataset,
    view: str,
    algorithm_name: str,
    algorithm_version: str,
) -> hd.seg.SegmentDescription:
    family = _FAMILY_OF_FEATURE.get(fmap.name, codes.cid7162.MultispectralProcessing)
    tracking_id, tuid = tracking_ids(source, view, f"map:{fmap.name}")
    if fmap.kind is MapKind.BINARY and fmap.name != "shine":
        category = SCT_ABNORMAL_STRUCTURE if fmap.name != "pores" else CONCEPT_FEATURE_CATEGORY
    else:
        category = CONCEPT_MAP_CATEGORY
    desc = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=fmap.name[:64],
        segmented_property_category=category,
        segmented_property_type=feature_code(fmap.name),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=_algorithm(
            algorithm_name, algorithm_version, family, fmap.algorithm
        ),
        tracking_uid=tuid,
        tracking_id=tracking_id,
        display_color=_lab(segment_colour(fmap.name)),
    )
    text = f"{fmap.family}: {fmap.algorithm}" if fmap.algorithm else fmap.family
    if fmap.kind is MapKind.CONTINUOUS:
        text = f"{text} (relative intensity 0-1)"
    desc.SegmentDescription = text[:64]
    return desc


def _frame_numbers(seg: Dataset) -> dict[int, int]:
    """Segment number -> the (single) frame that holds it."""
    out: dict[int, int] = {}
    # With a single segment highdicom puts the Segment Identification Sequence in the shared
    # functional groups (PS3.3 C.7.6.16.2.1), not in each frame's item.
    shared = seg.SharedFunctionalGroupsSequence[0]
    for i, frame in enumerate(seg.PerFrameFunctionalGroupsSequence, start=1):
        item = frame if "SegmentIdentificationSequence" in frame else shared
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        out.setdefault(number, i)
    return out


def _fix_single_frame_references(seg: Dataset) -> None:
    """Drop Referenced Frame Number from references to single-frame source images.

    highdicom writes ``ReferencedFrameNumber = 1`` in the Derivation Image / Source Image
    Sequences even when the referenced photo is a single-frame IOD; PS3.3 C.7.6.16.2.5.1
    (Referenced Frame Number) applies only to multi-frame instances and dciodvfy flags it.
    """
    for frame in seg.get("PerFrameFunctionalGroupsSequence", []):
        for der in frame.get("DerivationImageSequence", []):
            for src in der.get("SourceImageSequence", []):
                if "ReferencedFrameNumber" in src:
                    del src.ReferencedFrameNumber
    for series in seg.get("ReferencedSeriesSequence", []):
        for inst in series.get("ReferencedInstanceSequence", []):
            if "ReferencedFrameNumber" in inst:
                del inst.ReferencedFrameNumber


#: Thresholds of the BINARY level segments made from each continuous map (see module doc).
MAP_LEVELS: tuple[float, ...] = (0.5, 0.75)

_LEVEL_COLOURS: dict[tuple[str, float], tuple[int, int, int]] = {
    ("melanin", 0.5): (200, 150, 100),
    ("melanin", 0.75): (110, 60, 30),
    ("erythema", 0.5): (255, 150, 170),
    ("erythema", 0.75): (220, 20, 60),
}

_VIEW_LABELS = {"frontal": "front", "left": "left", "right": "right"}


def view_label(view: str) -> str:
    """Short view name for Series Descriptions (``front``, ``left``, ``close-up`` ...)."""
    return _VIEW_LABELS.get(view, view)


def level_name(level: float) -> str:
    """``50`` for 0.5: the level as a whole percentage (segment labels, keys)."""
    return f"{round(level * 100):d}"


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where one Segmentation goes: its UID role, source photo, series offset and spacing."""

    uids: OutputUids
    role: str
    source_uid: str
    photo_index: int
    spacing_mm: float


def _pixel_spacing(image: ImageResult) -> tuple[float, str]:
    """Pixel spacing for the Pixel Measures macro, and the note for Content Description.

    The photo's own Pixel Spacing is written as is; an estimate (inter-pupillary distance)
    is written and flagged "spacing estimated"; without either, 1 mm stands for one pixel
    and the description says "spacing unknown". A viewer needs some value to lay the
    frame out; the flag tells a reader whether a ruler on it means anything.
    """
    spacing = image.spacing
    if spacing.value is None or spacing.source is SpacingSource.UNKNOWN:
        return 1.0, " (spacing unknown)"
    if spacing.source is SpacingSource.ESTIMATED:
        return float(spacing.value), " (spacing estimated)"
    return float(spacing.value), ""


def _add_shared_geometry(seg: Dataset, spacing_mm: float) -> None:
    """Shared Functional Groups: Pixel Measures and Plane Orientation (Patient).

    highdicom writes neither for a source without a Frame of Reference (a VL Photographic
    Image), which PS3.3 A.51.5.1 allows (both are Type C, required only with a Frame of
    Reference, "may be present otherwise"). Viewers that read a SEG as a frame stack need
    them: OHIF 3.13.2's segmentation loader (cornerstone adapters ``Segmentation_4X``)
    destructures ``SharedFunctionalGroupsSequence[0].PixelMeasuresSequence`` and takes
    each frame's orientation from ``PlaneOrientationSequence``. The orientation written is
    the image plane itself (rows left to right, columns top to bottom): a photo has no
    patient coordinate system, so this states only the pixel grid, which is what the
    viewer uses it for.
    """
    shared = seg.SharedFunctionalGroupsSequence[0]
    measures = Dataset()
    measures.PixelSpacing = [_ds(spacing_mm), _ds(spacing_mm)]
    measures.SliceThickness = _ds(spacing_mm)
    shared.PixelMeasuresSequence = [measures]
    orientation = Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PlaneOrientationSequence = [orientation]


def _ds(value: float) -> str:
    """A Decimal String of at most 16 characters."""
    text = f"{value:.10g}"
    return text[:16]


def _level_description(
    number: int,
    fmap: FeatureMap,
    level: float,
    source: Dataset,
    view: str,
    algorithm_name: str,
    algorithm_version: str,
) -> hd.seg.SegmentDescription:
    pct = level_name(level)
    tracking_id, tuid = tracking_ids(source, view, f"level:{fmap.name}:{pct}")
    colour = _LEVEL_COLOURS.get((fmap.name, level), segment_colour(fmap.name))
    desc = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=f"{fmap.name} >= {pct}%"[:64],
        segmented_property_category=CONCEPT_MAP_CATEGORY,
        segmented_property_type=feature_code(fmap.name),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=_algorithm(
            algorithm_name,
            algorithm_version,
            codes.cid7162.MultispectralProcessing,
            f"{fmap.algorithm}, thresholded at {level:g}",
        ),
        tracking_uid=tuid,
        tracking_id=tracking_id,
        display_color=_lab(colour),
    )
    desc.SegmentDescription = f"{fmap.family}: {fmap.name} map at or above {level:g} of 1"[:64]
    return desc


def use_safe_rle_encoder() -> None:
    """Never encode RLE Lossless with python-gdcm; pylibjpeg-rle is then the first choice.

    python-gdcm's RLE encoder aborts the whole process (``std::terminate``) on a frame whose
    rows and columns are both odd (e.g. 433 x 577), which the fractional SEG of a photo can
    be. pydicom registers its RLE encoders in the order gdcm, pylibjpeg, pydicom; without
    gdcm it uses pylibjpeg-rle (a dependency: exact, ~0.2 s per 12-megapixel frame) and
    falls back to its own pure-Python encoder (~3 s). Only the gdcm plugin is removed
    (process-wide, once); decoding is unaffected.
    """
    encoder = get_encoder(RLELossless)
    if "gdcm" in encoder.available_plugins:
        encoder.remove_plugin("gdcm")


def build_segmentations(
    image: ImageResult,
    source: Dataset,
    uids: OutputUids,
    equipment: Equipment,
    *,
    instance_number: int = 1,
    photo_index: int = 0,
) -> list[SegOutput]:
    """Build the Segmentation objects of one photo.

    Parameters
    ----------
    image
        The photo's analysis result; its zones and maps must have the source's size.
    source
        The source photo (pixel data not needed).
    uids
        The result's UID factory.
    equipment
        Manufacturer, model (algorithm name) and software version.
    instance_number
        Instance Number of each Segmentation in its own series (1 by default).
    photo_index
        0-based position of the photo in the study's results: it offsets the Series Numbers
        (zones 9002, maps 9005, levels 9006, plus 10 per photo) so every photo's objects sit
        in series of their own.

    Returns
    -------
    list[SegOutput]
        Zero (nothing to segment, e.g. an unusable photo) to three objects: BINARY zones and
        findings, FRACTIONAL intensity maps, BINARY levels of those maps.

    Raises
    ------
    EncodingError
        When a mask does not have the size of the source or highdicom refuses the input.
    """
    use_safe_rle_encoder()
    shape = (int(source.Rows), int(source.Columns))
    sop_uid = str(source.SOPInstanceUID)
    view = str(image.description.view)
    zones = [z for z in image.zones if z.mask.any()]
    binary_maps = [m for m in image.maps if m.kind is MapKind.BINARY and m.data.any()]
    fractional_maps = [m for m in image.maps if m.kind is MapKind.CONTINUOUS and m.data.any()]
    for name, arr in [(z.region, z.mask) for z in zones] + [(m.name, m.data) for m in image.maps]:
        if arr.shape != shape:
            raise EncodingError(f"mask {name!r} has shape {arr.shape}, the source image is {shape}")
    zone_algo = _algorithm(
        equipment.model_name,
        equipment.software_version,
        codes.cid7162.ArtificialIntelligence,
        "facial landmark zones",
    )
    outputs: list[SegOutput] = []
    common: dict[str, Any] = {
        "source_images": [source],
        "manufacturer": equipment.manufacturer,
        "manufacturer_model_name": equipment.model_name,
        "software_versions": equipment.software_version,
        "device_serial_number": equipment.device_serial_number,
        "omit_empty_frames": True,
        "specific_character_set": None,  # set afterwards: highdicom refuses "" as a value
        "content_creator_name": None,
        "instance_number": instance_number,
    }
    spacing, spacing_note = _pixel_spacing(image)
    label = view_label(view)
    if zones or binary_maps:
        descs: list[hd.seg.SegmentDescription] = []
        planes: list[np.ndarray] = []
        keys: list[str] = []
        for zone in zones:
            descs.append(_zone_description(len(descs) + 1, zone, source, view, zone_algo))
            planes.append(zone.mask)
            keys.append(f"zone:{zone.region}")
        for fmap in binary_maps:
            descs.append(
                _map_description(
                    len(descs) + 1,
                    fmap,
                    source,
                    view,
                    equipment.model_name,
                    equipment.software_version,
                )
            )
            planes.append(fmap.data)
            keys.append(f"map:{fmap.name}")
        pixels = np.stack(planes, axis=-1)[np.newaxis].astype(bool)
        outputs.append(
            _make(
                pixels,
                descs,
                keys,
                hd.seg.SegmentationTypeValues.BINARY,
                _Placement(uids, "seg", sop_uid, photo_index, spacing),
                common,
                content_label="ZONES",
                description=f"Zones and findings, {view}{spacing_note}",
                series_description=f"DermNode zones + findings ({label})",
                transfer_syntax=ExplicitVRLittleEndian,
            )
        )
    if fractional_maps:
        descs = [
            _map_description(
                i + 1, m, source, view, equipment.model_name, equipment.software_version
            )
            for i, m in enumerate(fractional_maps)
        ]
        pixels = np.stack([np.clip(m.data, 0.0, 1.0) for m in fractional_maps], axis=-1)
        outputs.append(
            _make(
                pixels[np.newaxis],
                descs,
                [f"map:{m.name}" for m in fractional_maps],
                hd.seg.SegmentationTypeValues.FRACTIONAL,
                _Placement(uids, "seg-fractional", sop_uid, photo_index, spacing),
                common,
                content_label="MAPS",
                description=f"Intensity maps 0-1, {view}{spacing_note}",
                series_description=f"DermNode intensity maps ({label})",
                transfer_syntax=RLELossless,
            )
        )
        level_descs: list[hd.seg.SegmentDescription] = []
        level_planes: list[np.ndarray] = []
        level_keys: list[str] = []
        for fmap in fractional_maps:
            for level in MAP_LEVELS:
                plane = np.asarray(fmap.data) >= level
                if not plane.any():
                    continue
                level_descs.append(
                    _level_description(
                        len(level_descs) + 1,
                        fmap,
                        level,
                        source,
                        view,
                        equipment.model_name,
                        equipment.software_version,
                    )
                )
                level_planes.append(plane)
                level_keys.append(f"level:{fmap.name}:{level_name(level)}")
        if level_planes:
            outputs.append(
                _make(
                    np.stack(level_planes, axis=-1)[np.newaxis],
                    level_descs,
                    level_keys,
                    hd.seg.SegmentationTypeValues.BINARY,
                    _Placement(uids, "seg-levels", sop_uid, photo_index, spacing),
                    common,
                    content_label="LEVELS",
                    description=f"Intensity map levels, {view}{spacing_note}",
                    series_description=f"DermNode map levels ({label})",
                    transfer_syntax=ExplicitVRLittleEndian,
                )
            )
    logger.debug("built %d segmentation(s) for one photo", len(outputs))
    return outputs


def _make(
    pixels: np.ndarray,
    descs: list[hd.seg.SegmentDescription],
    keys: list[str],
    seg_type: hd.seg.SegmentationTypeValues,
    place: _Placement,
    common: dict[str, Any],
    *,
    content_label: str,
    description: str,
    series_description: str,
    transfer_syntax: str,
) -> SegOutput:
    kwargs = dict(common)
    sop_instance_uid = place.uids.instance(place.role, place.source_uid)
    try:
        seg = hd.seg.Segmentation(
            pixel_array=pixels,
            segmentation_type=seg_type,
            segment_descriptions=descs,
            sop_instance_uid=sop_instance_uid,
            series_instance_uid=place.uids.series(f"{place.role}/{place.source_uid}"),
            series_number=SERIES_NUMBERS[place.role] + 10 * place.photo_index,
            series_description=series_description[:64],
            fractional_type=hd.seg.SegmentationFractionalTypeValues.OCCUPANCY,
            max_fractional_value=255,
            content_label=content_label,
            content_description=description[:64],
            transfer_syntax_uid=transfer_syntax,
            **kwargs,
        )
    except (ValueError, TypeError) as exc:
        raise EncodingError(f"segmentation could not be built: {exc}") from exc
    _add_shared_geometry(seg, place.spacing_mm)
    set_series_date_time(seg)
    _fix_single_frame_references(seg)
    # highdicom draws a random Dimension Organization UID; derive it so the object is the
    # same on every retry.
    dim_uid = derive_uid("dimension-organization", sop_instance_uid)
    for item in seg.get("DimensionOrganizationSequence", []):
        item.DimensionOrganizationUID = dim_uid
    for item in seg.get("DimensionIndexSequence", []):
        item.DimensionOrganizationUID = dim_uid
    source = kwargs["source_images"][0]
    apply_character_set(seg, source)
    if "FrameOfReferenceUID" not in seg:
        # General Image: Patient Orientation is Type 2C, required without a Frame of Reference.
        seg.PatientOrientation = source.get("PatientOrientation", "")
    frames = _frame_numbers(seg)
    refs = {
        key: SegmentRef(SEG_SOP_CLASS, sop_instance_uid, number, frames[number])
        for number, key in enumerate(keys, start=1)
        if number in frames
    }
    kind = (
        MapKind.BINARY if seg_type is hd.seg.SegmentationTypeValues.BINARY else MapKind.CONTINUOUS
    )
    return SegOutput(seg, kind, refs)
