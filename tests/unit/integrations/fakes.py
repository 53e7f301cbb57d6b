"""Synthetic source photos and hand-built analysis results for the encoder tests.

Everything is generated in code; the patients are invented. The source photos are VL
Photographic Image Storage objects (RGB, 256 x 320) as a clinic camera or PACS would send them,
with the patient name either in ``ISO 2022 IR 149`` (the PS3.5 Annex I example name) or in
UTF-8 (``ISO_IR 192``). Every value in the analysis results is fixed, so the tests know the
truth the encoders must reproduce.
"""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from analysis.fusion import fused
from analysis.keys import CONCERNS, NOT_ASSESSED
from analysis.types import (
    AnalysisResult,
    FeatureMap,
    HeadPose,
    ImageDescription,
    ImageResult,
    MapKind,
    Measurement,
    NotAssessed,
    QualityIssue,
    QualityResult,
    Spacing,
    SpacingSource,
    View,
    ZoneMask,
)

ROWS, COLS = 256, 320
VL_PHOTO = "1.2.840.10008.5.1.4.1.1.77.1.4"
STUDY_UID = "1.2.826.0.1.3680043.10.1410.1.1"
SERIES_UID = "1.2.826.0.1.3680043.10.1410.1.2"
KOREAN_ISO2022 = "Hong^Gildong=洪^吉洞=홍^길동"
KOREAN_UTF8 = "Kim^Minji=김^민지"


def source_uid(index: int) -> str:
    return f"1.2.826.0.1.3680043.10.1410.1.3.{index + 1}"


def photo_pixels(seed: int = 0) -> np.ndarray:
    """A skin-toned RGB picture with a darker ellipse ("face"): deterministic."""
    yy, xx = np.mgrid[0:ROWS, 0:COLS]
    rgb = np.zeros((ROWS, COLS, 3), np.uint8)
    rgb[..., 0] = 200 - (yy // 8)
    rgb[..., 1] = 160 - (xx // 16)
    rgb[..., 2] = 140 + seed
    face = ((yy - 128) / 110) ** 2 + ((xx - 160) / 90) ** 2 < 1
    rgb[face] = (rgb[face] * 0.9).astype(np.uint8)
    return rgb


def source_dataset(
    index: int = 0,
    *,
    charset: str = "ISO 2022 IR 149",
    view: str = "frontal",
    with_patient_id: bool = True,
) -> Dataset:
    """A VL Photographic Image as received from the PACS, read back from bytes."""
    ds = Dataset()
    if charset == "ISO 2022 IR 149":
        ds.SpecificCharacterSet = ["", "ISO 2022 IR 149"]
        ds.PatientName = KOREAN_ISO2022
    elif charset == "ISO_IR 192":
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.PatientName = KOREAN_UTF8
    else:
        ds.PatientName = "Doe^Jane"
    ds.PatientID = "DRMN-0001" if with_patient_id else ""
    ds.IssuerOfPatientID = "TESTHOSP" if with_patient_id else ""
    ds.PatientBirthDate = "19850412"
    ds.PatientSex = "F"
    ds.StudyInstanceUID = STUDY_UID
    ds.StudyDate = "20250102"
    ds.StudyTime = "101500"
    ds.ReferringPhysicianName = "Lee^Sora"
    ds.StudyID = "S1"
    ds.AccessionNumber = "ACC0001"
    ds.StudyDescription = "Skin photography"
    ds.Modality = "XC"
    ds.SeriesInstanceUID = SERIES_UID
    ds.SeriesNumber = 1
    ds.SeriesDescription = "Face photos"
    ds.Manufacturer = "Synthetic Camera Co"
    ds.InstanceNumber = index + 1
    ds.PatientOrientation = ""
    ds.ContentDate = "20250102"
    ds.ContentTime = "101600"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.AcquisitionContextSequence = []
    ds.LossyImageCompression = "00"
    ds.ImageLaterality = "U"
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows = ROWS
    ds.Columns = COLS
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = photo_pixels(index).tobytes()
    ds.SOPClassUID = VL_PHOTO
    ds.SOPInstanceUID = source_uid(index)
    ds.ImageComments = f"view={view}"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    buf.seek(0)
    return dcmread(buf)


def _ellipse(cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = np.mgrid[0:ROWS, 0:COLS]
    return np.asarray(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0)


#: Zone masks of the synthetic face (the image's left is the patient's right).
ZONE_SHAPES: dict[str, tuple[float, float, float, float]] = {
    "forehead": (45, 160, 22, 60),
    "periorbital_right": (95, 120, 12, 22),
    "periorbital_left": (95, 200, 12, 22),
    "nose": (130, 160, 25, 14),
    "cheek_right": (150, 105, 28, 24),
    "cheek_left": (150, 215, 28, 24),
    "chin": (222, 160, 14, 30),
}

#: key -> value per zone (the ground truth every encoder must carry).
ZONE_VALUES: dict[str, tuple[str, float]] = {
    "pigmentation.spots.count": ("{count}", 3),
    "pigmentation.melanin_index": ("{index}", 41.25),
    "redness.erythema_index": ("{index}", 12.5),
    "pores.count": ("{count}", 57),
    "wrinkles.length_mm": ("mm", 14.75),
}


def zone_value(key: str, zone_index: int) -> float:
    """The value of *key* in the zone at *zone_index* (known truth)."""
    base = ZONE_VALUES[key][1]
    return float(base + zone_index) if float(base).is_integer() else base + 0.5 * zone_index


def image_result(index: int = 0, *, view: View = View.FRONTAL) -> ImageResult:
    """A usable frontal photo with zones, maps, measurements, scores and not-assessed items."""
    zones = tuple(ZoneMask(name, _ellipse(*shape)) for name, shape in ZONE_SHAPES.items())
    face = _ellipse(128, 160, 110, 90)
    zones = (*zones, ZoneMask("face", face))
    measurements: list[Measurement] = []
    for zi, name in enumerate(ZONE_SHAPES):
        for key, (unit, _) in ZONE_VALUES.items():
            measurements.append(Measurement(key, name, zone_value(key, zi), unit))
    measurements += [
        Measurement("pigmentation.ita_deg", "face", 38.2, "deg"),
        Measurement("pores.density_per_cm2", "face", 112.0, "/cm2"),
        Measurement("oil.shine_area_pct", "t_zone", 6.5, "%"),
        Measurement("oil.shine_area_pct", "u_zone", 2.25, "%"),
        Measurement("quality.sharpness", "face", 0.82, "{index}"),
        Measurement("quality.exposure_clipped_pct", "face", 0.4, "%"),
    ]
    spots = np.zeros((ROWS, COLS), bool)
    for cy, cx in ((60, 130), (150, 100), (160, 220)):
        spots |= _ellipse(cy, cx, 4, 4)
    wrinkles = np.zeros((ROWS, COLS), bool)
    wrinkles[40:42, 120:200] = True
    wrinkles[50:52, 125:195] = True
    yy, xx = np.mgrid[0:ROWS, 0:COLS]
    melanin = np.where(face, (xx / COLS).astype(np.float32), np.float32(0)).astype(np.float32)
    erythema = np.where(face, (yy / ROWS).astype(np.float32), np.float32(0)).astype(np.float32)
    maps = (
        FeatureMap("spots", "pigmentation", MapKind.BINARY, spots, "background-subtracted blobs"),
        FeatureMap("wrinkles", "wrinkles", MapKind.BINARY, wrinkles, "Hessian ridge filter"),
        FeatureMap("melanin", "pigmentation", MapKind.CONTINUOUS, melanin, "melanin index map"),
        FeatureMap("erythema", "redness", MapKind.CONTINUOUS, erythema, "erythema index map"),
    )
    quality = QualityResult(
        usable=True,
        issues=(QualityIssue("colour_cast", "slight warm colour cast", blocking=False),),
        sharpness=0.82,
        exposure_clipped_pct=0.4,
        face_found=True,
    )
    return ImageResult(
        description=ImageDescription(source=source_uid(index), view=view, spacing_mm=None),
        image_shape=(ROWS, COLS),
        quality=quality,
        spacing=Spacing(0.25, SpacingSource.ESTIMATED),
        measurements=tuple(measurements),
        scores={c: 10.0 * (i + 1) for i, c in enumerate(CONCERNS)},
        zones=zones,
        maps=maps,
        not_assessed=tuple(NotAssessed(k, r) for k, r in NOT_ASSESSED.items()),
        face_box=(70, 18, 180, 220),
    )


def unusable_result(index: int = 1) -> ImageResult:
    """A blurred photo: quality keys only, no zones, maps or scores."""
    quality = QualityResult(
        usable=False,
        issues=(QualityIssue("blur", "image is out of focus", blocking=True),),
        sharpness=0.05,
        exposure_clipped_pct=0.0,
        face_found=False,
    )
    return ImageResult(
        description=ImageDescription(source=source_uid(index), view=View.LEFT),
        image_shape=(ROWS, COLS),
        quality=quality,
        spacing=Spacing(None, SpacingSource.UNKNOWN),
        measurements=(
            Measurement("quality.sharpness", "face", 0.05, "{index}"),
            Measurement("quality.exposure_clipped_pct", "face", 0.0, "%"),
        ),
        not_assessed=tuple(NotAssessed(k, r) for k, r in NOT_ASSESSED.items()),
    )


def analysis_result(*, with_unusable: bool = True) -> AnalysisResult:
    """One usable frontal photo (and optionally one blurred left view)."""
    images = [image_result(0)]
    if with_unusable:
        images.append(unusable_result(1))
    return AnalysisResult(images=tuple(images))


def sources(*, charset: str = "ISO 2022 IR 149", with_unusable: bool = True) -> list[Dataset]:
    """The source datasets matching :func:`analysis_result`."""
    out = [source_dataset(0, charset=charset)]
    if with_unusable:
        out.append(source_dataset(1, charset=charset, view="left"))
    return out


#: (view, yaw, zone -> view angle) of the three photos of :func:`three_view_result`.
_THREE_VIEWS: tuple[tuple[View, float, dict[str, float]], ...] = (
    (View.FRONTAL, 1.0, {z: 20.0 for z in ZONE_SHAPES} | {"cheek_right": 44.0, "cheek_left": 46.0}),
    (View.LEFT, 44.0, {"cheek_left": 5.0, "periorbital_left": 12.0, "nose": 47.0, "chin": 40.0}),
    (View.RIGHT, -45.0, {"cheek_right": 6.0, "periorbital_right": 13.0, "nose": 48.0}),
)
#: What the side views measured differently (zone, key) -> value; everything else is the truth
#: of :func:`zone_value`. cheek_left's spot count disagrees (8 frontal vs 21 left).
THREE_VIEW_VALUES: dict[int, dict[tuple[str, str], float]] = {
    1: {("cheek_left", "pigmentation.spots.count"): 21.0, ("cheek_left", "pores.count"): 63.0},
    2: {("cheek_right", "pores.count"): 66.0, ("cheek_right", "wrinkles.length_mm"): 17.0},
}


def three_view_result() -> AnalysisResult:
    """Frontal, left and right three-quarter photos of one study, fused (``result.study``):
    cheek_left from the left view (its spot count disagrees with the frontal one), cheek_right
    and periorbital_right from the right view, the other zones and ``face`` from the frontal."""
    images = []
    for index, (view, yaw, angles) in enumerate(_THREE_VIEWS):
        base = image_result(index, view=view)
        changed = THREE_VIEW_VALUES.get(index, {})
        measurements = tuple(
            replace(m, value=changed.get((m.region, m.key), m.value))
            for m in base.measurements
            if m.region in angles or m.region not in ZONE_SHAPES
        )
        images.append(
            replace(
                base,
                measurements=measurements,
                pose=HeadPose(yaw, 0.0, 0.0),
                zone_view_angles=angles,
            )
        )
    return fused(AnalysisResult(images=tuple(images)))
