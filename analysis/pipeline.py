"""The analysis engine: one photo in, an :class:`~analysis.types.ImageResult` out.

The work is a MONAI ``Compose`` (``log_stats=False``) of dictionary transforms, each a thin
wrapper over an array transform (MONAI style)::

    DetectFaced       face detector + 468-point mesh + irises (learned, analysis.models),
                      head pose from the mesh                         (analysis.face)
    WorkingFramed     crop to the face (+ margin) and resample to the working size
    ToLinearRGBd      sRGB -> linear light, float32, on the chosen torch device
    WhiteBalanced     grey-pixel gains (re-selected after balancing) from the scene
                      around the face, in linear light
    ToLabd            CIELAB (D65) in float
    FaceZonesd        skin mask + zone polygons over the mesh, zones seen past 60 deg left
                      out (or region ``skin`` on a close-up)          (analysis.zones)
    QualityGated      sharpness, clipping, face size, colour cast, glare
    ViewCheckd        the claimed view against the measured yaw (warning), a pose beyond
                      the mesh's range (blocking)
    PixelSpacingd     pixel spacing: given, estimated from the iris, or unknown
    DetailPland       which families go to the source pixels (the working frame coarser
                      than 0.1 mm/px and the source finer); prepares their tile jobs
    Measured          the six concern measures (skipped for an unusable photo), minus the
                      pores when they are measured on source tiles
    CameraDetaild     pores (source tiles at <= 0.1 mm/px) and fine lines (the source at
                      0.1 mm/px, one response map filled tile by tile) from the camera's
                      pixels (:class:`CameraDetail`)

Working resolution: a face photo is cropped to the face template's extent and resampled
(down only) so that the face box is ``working_face_px`` (default 800) pixels wide, about
0.19 mm per pixel on an adult face; a close-up is resampled so its long side is at most
``working_long_side`` (default 1600). This bounds the measures' work to ~1-2.5 megapixels
whatever the camera, which is what makes 12 MP in <= 4 s on two CPU cores possible. Maps
and zone masks are resized back to the source size (nearest neighbour for masks, bilinear
for continuous maps) and pasted into the full frame before they leave.

The torch device is chosen once, when the :class:`Analyzer` is built: ``"auto"`` means CUDA
when available, else CPU. On the CPU the six measures and the camera-detail tiles run
concurrently on one pool of ``cpu_workers`` threads while PyTorch's intra-op threads are set
to 1 (see :class:`Analyzer`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import torch
from monai.transforms.compose import Compose
from monai.transforms.transform import MapTransform, Transform

from analysis.color import (
    D65_WHITE,
    RGB_TO_XYZ,
    iterative_grey_gains,
    linear_rgb_to_lab,
    srgb_to_linear,
    to_unit_float,
)
from analysis.errors import AnalysisError, InputRejected
from analysis.face import (
    MAX_YAW_DEG,
    FaceDetector,
    FaceGeometry,
    estimate_spacing,
    face_regions,
    skin_regions,
)
from analysis.fusion import fused
from analysis.keys import NOT_ASSESSED
from analysis.measures import pores, unresolved, wrinkles
from analysis.measures.base import ConcernOutput, SkinImage
from analysis.measures.blobs import Blobs
from analysis.measures.filters import inner_mask
from analysis.measures.regions import measurement, region_fraction, region_items
from analysis.quality import (
    QualityThresholds,
    assess_quality,
    exposure_stats,
    lighting_ratio,
    noise_level,
    noisy_families,
    sharpness_index,
)
from analysis.types import (
    AnalysisResult,
    FeatureMap,
    ImageDescription,
    ImageResult,
    MapKind,
    Measurement,
    NotAssessed,
    QualityIssue,
    QualityResult,
    Region,
    Spacing,
    SpacingSource,
    View,
    ZoneMask,
)

__all__ = [
    "Analyzer",
    "DetectFace",
    "DetectFaced",
    "FaceZones",
    "FaceZonesd",
    "Frame",
    "Measure",
    "MeasureStartd",
    "Measured",
    "PixelSpacing",
    "PixelSpacingd",
    "CameraDetail",
    "CameraDetaild",
    "DetailPlan",
    "DetailPland",
    "QualityGate",
    "QualityGated",
    "ToLab",
    "ToLabd",
    "ToLinearRGB",
    "ToLinearRGBd",
    "ViewCheck",
    "ViewCheckd",
    "WhiteBalance",
    "WhiteBalanced",
    "WorkingFrame",
    "WorkingFramed",
    "lightness",
    "merge_fine_lines",
    "resolve_device",
]

logger = logging.getLogger(__name__)

MeasureFn = Callable[[SkinImage], ConcernOutput]
ScoreFn = Callable[[Sequence[Measurement]], dict[str, float]]

#: Nominal field of view (mm, long side) when a close-up has no spacing: sizes filters only.
NOMINAL_FOV_MM = {View.CLOSE_UP: 100.0, View.DERMOSCOPY: 25.0}
_WB_THUMB_SIDE = 512


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as torch understands it."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device is 'cuda' but CUDA is not available")
    return dev


@dataclass(frozen=True, slots=True)
class Frame:
    """The working crop ``[y0:y1, x0:x1]`` of the source, resampled by ``scale`` (<= 1)."""

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float
    source_shape: tuple[int, int]

    @property
    def crop_shape(self) -> tuple[int, int]:
        """``(h, w)`` of the crop in source pixels."""
        return (self.y1 - self.y0, self.x1 - self.x0)


# ------------------------------------------------------------------ array transforms


class DetectFace(Transform):
    """``(H, W, 3)`` RGB -> :class:`FaceGeometry` or None (non-face views: always None).

    Parameters
    ----------
    detector
        The face model with its thresholds (default: one shared CPU instance).
    """

    def __init__(self, detector: FaceDetector | None = None) -> None:
        self.detector = detector

    def _detector(self) -> FaceDetector:
        if self.detector is None:
            self.detector = _shared_detector("cpu")
        return self.detector

    def __call__(self, image: npt.NDArray[Any], view: View = View.FRONTAL) -> FaceGeometry | None:
        """Detect the face for a face view."""
        return self.batch([image], [view])[0]

    def batch(
        self, images: Sequence[npt.NDArray[Any]], views: Sequence[View]
    ) -> list[FaceGeometry | None]:
        """All face views of a study through the model as one batch."""
        out: list[FaceGeometry | None] = [None] * len(images)
        idx = [i for i, v in enumerate(views) if View(v).is_face]
        if idx:
            found = self._detector()([images[i] for i in idx])
            for i, f in zip(idx, found, strict=True):
                out[i] = f
        return out


def _shared_detector(device: str) -> FaceDetector:
    """One detector per device for the process (the weights are loaded once)."""
    det = _DETECTORS.get(device)
    if det is None:
        det = _DETECTORS[device] = FaceDetector(device)
    return det


_DETECTORS: dict[str, FaceDetector] = {}


class WorkingFrame(Transform):
    """Crop and resample a source image to the working resolution."""

    def __init__(self, working_face_px: int = 800, working_long_side: int = 1600) -> None:
        if working_face_px < 64:
            raise ValueError(f"working_face_px must be >= 64, got {working_face_px}")
        if working_long_side < 128:
            raise ValueError(f"working_long_side must be >= 128, got {working_long_side}")
        self.working_face_px = working_face_px
        self.working_long_side = working_long_side

    def frame(self, shape: tuple[int, int], face: FaceGeometry | None) -> Frame:
        """The crop and scale for an image of *shape* with *face*."""
        h, w = shape
        if face is None:
            x0, y0, x1, y1 = 0, 0, w, h
            scale = min(1.0, self.working_long_side / max(h, w))
        else:
            ex0, ey0, ex1, ey1 = face.extent()
            x0, y0 = max(0, math.floor(ex0)), max(0, math.floor(ey0))
            x1, y1 = min(w, math.ceil(ex1)), min(h, math.ceil(ey1))
            scale = min(1.0, self.working_face_px / max(face.box[2], 1.0))
            # the crop alone must also respect the long-side bound
            scale = min(scale, self.working_long_side * 1.25 / max(x1 - x0, y1 - y0))
        return Frame(x0, y0, x1, y1, scale, (h, w))

    def __call__(  # type: ignore[override]
        self, image: npt.NDArray[Any], face: FaceGeometry | None
    ) -> tuple[npt.NDArray[Any], Frame]:
        """Return the working image (same dtype) and its :class:`Frame`."""
        fr = self.frame((int(image.shape[0]), int(image.shape[1])), face)
        crop = np.ascontiguousarray(image[fr.y0 : fr.y1, fr.x0 : fr.x1])
        if fr.scale < 1.0:
            hw = max(1, round(crop.shape[0] * fr.scale)), max(1, round(crop.shape[1] * fr.scale))
            crop = cv2.resize(crop, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
        return crop, fr


class ToLinearRGB(Transform):
    """``(H, W, 3)`` uint8/uint16 sRGB -> ``(3, H, W)`` float32 linear light on *device*."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __call__(self, image: npt.NDArray[Any]) -> torch.Tensor:
        """Decode the sRGB transfer function (IEC 61966-2-1)."""
        return srgb_to_linear(to_unit_float(image, self.device))


class WhiteBalance(Transform):
    """Grey-pixel white balance in linear light (:func:`analysis.color.iterative_grey_gains`).

    The gains come from a thumbnail of the whole scene *outside* the face, so the skin's own
    colour (which carries the pigmentation and redness information) never drives them. A
    photo with too little non-skin surround (a close-up) is left unbalanced.
    """

    def __init__(self, min_reference_fraction: float = 0.15, max_gain: float = 2.0) -> None:
        self.min_reference_fraction = min_reference_fraction
        self.max_gain = max_gain

    def gains(self, thumb_linear: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Gains ``(3,)`` from the reference pixels of a linear thumbnail."""
        if float(reference.float().mean()) < self.min_reference_fraction:
            return torch.ones(3, dtype=thumb_linear.dtype, device=thumb_linear.device)
        return iterative_grey_gains(thumb_linear, reference, self.max_gain)

    def scene_gains(
        self, source: npt.NDArray[Any], face: FaceGeometry | None, device: torch.device
    ) -> torch.Tensor:
        """Gains ``(3,)`` from a thumbnail of the source photo (sRGB) outside the *face*."""
        h, w = source.shape[:2]
        f = min(1.0, _WB_THUMB_SIDE / max(h, w))
        thumb = (
            cv2.resize(source, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else source
        )
        thumb_lin = srgb_to_linear(to_unit_float(np.ascontiguousarray(thumb), device))
        reference = torch.zeros(thumb_lin.shape[1:], dtype=torch.bool, device=device)
        if face is not None:
            reference[:] = True
            x0, y0, x1, y1 = face.extent()
            reference[
                max(0, math.floor(y0 * f)) : math.ceil(y1 * f),
                max(0, math.floor(x0 * f)) : math.ceil(x1 * f),
            ] = False
        return self.gains(thumb_lin, reference)

    def __call__(  # type: ignore[override]
        self, rgb_linear: torch.Tensor, gains: torch.Tensor
    ) -> torch.Tensor:
        """Apply per-channel *gains*."""
        return rgb_linear * gains.to(rgb_linear.device).view(3, 1, 1)


class ToLab(Transform):
    """Linear ``(3, H, W)`` -> CIELAB (D65) in float."""

    def __call__(self, rgb_linear: torch.Tensor) -> torch.Tensor:
        """Convert (values above 1 from white balance are clamped first)."""
        return linear_rgb_to_lab(rgb_linear.clamp(0.0, 1.0))


class FaceZones(Transform):
    """CIELAB + face (working coordinates) -> skin mask and region masks.

    Zones seen more obliquely than ``max_view_angle_deg`` are left out of the regions.
    """

    def __init__(self, max_view_angle_deg: float = 60.0) -> None:
        if not 0.0 < max_view_angle_deg <= 90.0:
            raise ValueError(f"max_view_angle_deg must be in (0, 90], got {max_view_angle_deg}")
        self.max_view_angle_deg = max_view_angle_deg

    def __call__(  # type: ignore[override]
        self, lab: torch.Tensor, face: FaceGeometry | None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Zones on a face, else the skin mask as region ``skin``."""
        if face is None:
            return skin_regions(lab)
        return face_regions(lab, face, self.max_view_angle_deg)


#: Yaw (deg) that separates a frontal from a three-quarter/lateral photo for the view check.
VIEW_YAW_DEG = 20.0


class ViewCheck(Transform):
    """Quality issues from the head pose: the claimed view vs the measured yaw, and a pose
    beyond the mesh's range.

    A ``frontal`` photo should have ``|yaw| <= 20``; a ``left`` one ``yaw >= 20`` (the
    patient's left side towards the camera), a ``right`` one ``yaw <= -20``. A mismatch is a
    warning (``view_mismatch``): the label may be wrong, or the photo mirrored. ``|yaw| > 65``
    is beyond the range the mesh was validated on (a full profile): blocking
    (``pose_out_of_range``), the zones are not assessed.
    """

    def __call__(  # type: ignore[override]
        self, quality: QualityResult, face: FaceGeometry | None, view: View
    ) -> QualityResult:
        """*quality* with the pose issues added."""
        if face is None:
            return quality
        view = View(view)
        yaw = face.pose.yaw_deg
        issues: list[QualityIssue] = []
        if abs(yaw) > MAX_YAW_DEG:
            issues.append(
                QualityIssue(
                    "pose_out_of_range",
                    f"The head is turned {yaw:+.0f} deg: beyond the face mesh's range "
                    f"(+/-{MAX_YAW_DEG:.0f} deg, a near profile); zones are not assessed.",
                    True,
                )
            )
        seen = View.FRONTAL if abs(yaw) <= VIEW_YAW_DEG else (View.LEFT if yaw > 0 else View.RIGHT)
        if view.is_face and seen is not view:
            issues.append(
                QualityIssue(
                    "view_mismatch",
                    f"The photo is labelled '{view}' but the measured head yaw is {yaw:+.0f} deg "
                    f"(a '{seen}' view); check the view label or whether the photo is mirrored.",
                    False,
                )
            )
        if not issues:
            return quality
        all_issues = tuple(quality.issues) + tuple(issues)
        return QualityResult(
            usable=quality.usable and not any(i.blocking for i in issues),
            issues=all_issues,
            sharpness=quality.sharpness,
            exposure_clipped_pct=quality.exposure_clipped_pct,
            face_found=quality.face_found,
        )


class QualityGate(Transform):
    """Run the quality checks of :mod:`analysis.quality`."""

    def __init__(self, thresholds: QualityThresholds | None = None) -> None:
        self.thresholds = thresholds or QualityThresholds()

    def __call__(  # type: ignore[override]
        self,
        source: npt.NDArray[Any],
        work: npt.NDArray[Any],
        face_src: FaceGeometry | None,
        view: View,
        skin: torch.Tensor,
        gains: torch.Tensor,
    ) -> QualityResult:
        """The verdict for one photo."""
        box = None
        if face_src is not None:
            bx, by, bw, bh = face_src.box
            box = (round(bx), round(by), round(bw), round(bh))
        sharp = sharpness_index(source, box, self.thresholds)
        # judged over the working crop: on a face photo that is the face's extent
        expo = exposure_stats(work)
        skin_np = skin.cpu().numpy()
        top = 65535 if work.dtype == np.uint16 else 255
        glare = (work.min(axis=2) >= top * 250 / 255) & skin_np
        glare_pct = 100.0 * float(glare.sum()) / max(int(skin_np.sum()), 1)
        g = gains.cpu()
        # noise and lighting as the measures see them: the working image, over the skin
        noise = noise_level(work, skin_np)
        lighting = lighting_ratio(work, skin_np)
        return assess_quality(
            face_view=View(view).is_face,
            face_found=face_src is not None,
            face_width_px=None if face_src is None else face_src.box[2],
            sharpness=sharp,
            exposure=expo,
            cast_ratio=float(g.max() / g.min()),
            glare_pct=glare_pct,
            noise_pct=noise,
            lighting=lighting,
            thresholds=self.thresholds,
        )


class Measure(Transform):
    """Run each concern measure on a :class:`SkinImage`.

    On the CPU with ``workers > 1`` the measures run concurrently in a thread pool (they
    are independent, and PyTorch, OpenCV and NumPy release the GIL in their kernels); the
    outputs keep the measures' order, so the result does not depend on the scheduling.
    """

    def __init__(self, measures: Sequence[MeasureFn], workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.measures = tuple(measures)
        self.workers = workers

    def _run(self, m: MeasureFn, img: SkinImage) -> ConcernOutput:
        name = getattr(m, "__module__", "") + "." + getattr(m, "__name__", repr(m))
        try:
            return m(img)
        except Exception as exc:
            raise AnalysisError(f"measure {name} failed") from exc

    def __call__(
        self,
        img: SkinImage,
        pool: Executor | None = None,
        then: Callable[[], None] | None = None,
    ) -> list[ConcernOutput]:
        """All measures' outputs, in order (on *pool*, a shared one, when given; *then* is
        called once the measures are queued on it, e.g. to queue more work behind them)."""
        if not self.concurrent(img):
            if then is not None and pool is not None:
                then()
            return [self._run(m, img) for m in self.measures]
        if pool is not None:
            futures = self.submit(img, pool)
            if then is not None:
                then()
            return [f.result() for f in futures]
        with ThreadPoolExecutor(max_workers=self.workers) as own:
            return [f.result() for f in self.submit(img, own)]

    def concurrent(self, img: SkinImage) -> bool:
        """Whether the measures of *img* run on threads (CPU, ``workers > 1``, several)."""
        return self.workers > 1 and img.device.type == "cpu" and len(self.measures) > 1

    def submit(self, img: SkinImage, pool: Executor) -> list[Future[ConcernOutput]]:
        """Queue every measure of *img* on *pool*, in order."""

        def run(m: MeasureFn) -> ConcernOutput:
            with torch.inference_mode():  # a mode is per thread: re-enter it in the worker
                return self._run(m, img)

        return [pool.submit(run, m) for m in self.measures]


#: Resolution (mm per pixel) at which pores and fine lines are measured when the photo has it.
DETAIL_MM = 0.1
#: Pores are detected at ``max(source spacing, PORE_FLOOR * detail_mm)``: 0.07 mm/px, where the
#: detector's smallest scale (0.7 px) resolves pores of 0.14 mm and up (0.05 mm/px, the floor
#: before, resolved 0.10 mm but cost twice the pixels on a 24 MP close-up).
PORE_FLOOR = 0.7


@dataclass(frozen=True, slots=True)
class DetailPlan:
    """mm per detail pixel of each family measured on the source pixels (None: the working
    frame is used for it)."""

    pores: float | None = None
    fine_lines: float | None = None

    def scales(self) -> dict[str, float]:
        """``{key: mm_per_px}`` of the families measured at detail resolution."""
        out: dict[str, float] = {}
        if self.pores is not None:
            out["pores"] = self.pores
        if self.fine_lines is not None:
            out["wrinkles.fine_lines"] = self.fine_lines
        return out


def _srgb_lut() -> npt.NDArray[np.float32]:
    """sRGB uint8 -> linear light, the 256 values of :func:`analysis.color.srgb_to_linear`."""
    global _SRGB_LUT
    if _SRGB_LUT is None:
        codes = torch.arange(256, dtype=torch.float32) / 255.0
        _SRGB_LUT = srgb_to_linear(codes).numpy().astype(np.float32)
    return _SRGB_LUT


_SRGB_LUT: npt.NDArray[np.float32] | None = None
_Y_ROW = np.asarray(RGB_TO_XYZ[1], dtype=np.float32) / np.float32(D65_WHITE[1])
_LAB_EPS = 216.0 / 24389.0
_LAB_KAPPA = 24389.0 / 27.0


def lightness(rgb: npt.NDArray[Any], gains: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """CIELAB L* ``(H, W)`` float32 of an sRGB ``(H, W, 3)`` uint8/uint16 image, white
    balanced by *gains* (linear light, clamped to [0, 1] as :class:`ToLab` does).

    Only L* is computed (the detail measures read nothing else). uint8 goes through one
    256-entry table per channel (:func:`analysis.color.srgb_to_linear` x gain, clamped)
    and OpenCV's channel mix; the result equals :class:`ToLab`'s L* to float rounding.
    """
    g = np.asarray(gains, dtype=np.float32).reshape(3)
    if rgb.dtype == np.uint8:
        lut = np.minimum(_srgb_lut()[:, None] * g[None, :], np.float32(1.0))
        lin = cv2.LUT(np.ascontiguousarray(rgb), lut.reshape(1, 256, 3))
    else:
        t = srgb_to_linear(to_unit_float(rgb, torch.device("cpu")))
        lin = (t * torch.from_numpy(g).view(3, 1, 1)).clamp(0.0, 1.0).permute(1, 2, 0).numpy()
    y = cv2.transform(np.ascontiguousarray(lin, dtype=np.float32), _Y_ROW.reshape(1, 3))
    y = y.reshape(rgb.shape[:2])
    f = np.cbrt(y)
    dark = y <= _LAB_EPS  # CIE's linear segment near black
    if dark.any():
        f[dark] = (_LAB_KAPPA * y[dark] + 16.0) / 116.0
    f *= np.float32(116.0)
    f -= np.float32(16.0)
    out: npt.NDArray[np.float32] = f.astype(np.float32, copy=False)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class _Grid:
    """A detail grid: source box ``[y0:y1, x0:x1]`` resampled to ``shape``; the working
    pixel under each grid row/column (nearest)."""

    y0: int
    y1: int
    x0: int
    x1: int
    shape: tuple[int, int]
    work_rows: npt.NDArray[np.int64]
    work_cols: npt.NDArray[np.int64]

    @property
    def fy(self) -> float:
        """Grid rows per source row."""
        return self.shape[0] / (self.y1 - self.y0)

    @property
    def fx(self) -> float:
        """Grid columns per source column."""
        return self.shape[1] / (self.x1 - self.x0)

    @staticmethod
    def make(
        frame: Frame, work_shape: tuple[int, int], box: tuple[int, int, int, int], f: float
    ) -> _Grid:
        """The grid of *box* (source ``y0, y1, x0, x1``) at *f* grid px per source px."""
        y0, y1, x0, x1 = box
        shape = (max(1, round((y1 - y0) * f)), max(1, round((x1 - x0) * f)))
        fy, fx = shape[0] / (y1 - y0), shape[1] / (x1 - x0)
        fs = frame.scale
        wy = ((np.arange(shape[0]) + 0.5) / fy + y0 - frame.y0) * fs
        wx = ((np.arange(shape[1]) + 0.5) / fx + x0 - frame.x0) * fs
        return _Grid(
            y0,
            y1,
            x0,
            x1,
            shape,
            np.clip(wy.astype(np.int64), 0, work_shape[0] - 1),
            np.clip(wx.astype(np.int64), 0, work_shape[1] - 1),
        )

    def sample(self, work: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """A working-grid array sampled (nearest) on this grid."""
        out: npt.NDArray[Any] = work[self.work_rows[:, None], self.work_cols[None, :]]
        return out

    def image(self, source: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """The source box resampled to this grid (area averaging, uint8/uint16 kept)."""
        crop = np.ascontiguousarray(source[self.y0 : self.y1, self.x0 : self.x1])
        if crop.shape[:2] == self.shape:
            return crop
        return cv2.resize(crop, (self.shape[1], self.shape[0]), interpolation=cv2.INTER_AREA)


def _submit(pool: Executor | None, job: Callable[[], Any]) -> Future[Any]:
    """*job* on *pool* under ``torch.inference_mode`` (a mode is per thread), or run now."""

    def run() -> Any:
        with torch.inference_mode():
            return job()

    if pool is not None:
        return pool.submit(run)
    done: Future[Any] = Future()
    done.set_result(run())
    return done


@dataclass(eq=False)
class DetailJobs:
    """The tile jobs of :meth:`CameraDetail.start`, for :meth:`CameraDetail.finish`."""

    plan: DetailPlan
    work_img: SkinImage
    pore_jobs: list[Callable[[], Any]] = field(default_factory=list)
    lines: _FineLines | None = None
    pores: list[Future[Any]] = field(default_factory=list)
    line_tiles: list[Future[Any]] = field(default_factory=list)
    submitted: bool = False
    prepare: Callable[[], None] | None = None

    def submit(self, pool: Executor | None) -> None:
        """Queue the jobs on *pool* (None: run them now): the line tiles first, whose
        extraction can then overlap the last pore tiles. Jobs made lazily
        (:meth:`CameraDetail.start` with ``lazy``) are prepared here first."""
        if self.submitted:
            return
        self.submitted = True
        if self.prepare is not None:
            prepare, self.prepare = self.prepare, None
            prepare()
        if self.lines is not None:
            self.line_tiles = [_submit(pool, t) for t in self.lines.jobs]
        self.pores = [_submit(pool, t) for t in self.pore_jobs]

    def cancel(self) -> None:
        """Drop the queued jobs and wait for those already running (an unusable photo)."""
        _drop(self.line_tiles + self.pores)


def _drop(futures: Sequence[Future[Any] | None]) -> None:
    """Cancel *futures* not yet started and wait for the running ones (results and errors
    discarded): nothing of a dropped photo keeps the engine's threads busy afterwards."""
    live = [f for f in futures if f is not None and not f.cancel()]
    wait_futures(live)


class CameraDetail(Transform):
    """Pores and fine lines from the SOURCE pixels when the working frame is too coarse.

    The working frame caps a face at ``working_face_px`` (~0.19 mm/px), too coarse for
    pores (0.1-0.5 mm) and for the finest lines (the 0.12 mm line scale needs <= 0.17
    mm/px). When the source is finer than the working frame and the working pixel is
    coarser than ``detail_mm``:

    * **pores** are detected on tiles of the skin's bounding box at
      ``max(source spacing, 0.7 detail_mm)`` (the camera's own pixels up to 0.07 mm/px, where
      the detector's 0.7 px smallest scale resolves pores from 0.14 mm; at 0.1 mm/px it would
      miss those under 0.2 mm; :data:`PORE_FLOOR`): tiles of
      ``tile_px`` detail pixels plus a ``margin_px`` overlap that covers the filters, each
      white-balanced with the photo's gains and converted to L*, run through
      :func:`analysis.measures.pores.detect_pores` with the working skin mask sampled onto
      it. A blob is kept by the tile whose core holds its centre; centres and diameters are
      mapped to working pixels and summarised per region by
      :func:`analysis.measures.pores.summarise`.
    * **fine lines**: the skin's bounding box is resampled once to
      ``max(source spacing, detail_mm)`` (at 0.1 mm/px the three fine scales, 0.12-0.3 mm,
      are 1.2-3 px: all resolved), converted to L*, and the fine-scale valley strength
      (:func:`analysis.measures.wrinkles.line_response`) is computed tile by tile with an
      overlap of at least 3 sigma + 4 px, each tile writing only its core into one
      response array of the whole box. Hysteresis, components, thinning and the length
      rules then run ONCE on that array (:func:`analysis.measures.wrinkles.extract_lines`),
      so a line crossing a tile border is one line with its full length. Lines that lie
      for at least half their length on a wrinkle of the working frame (its map, dilated
      by one working pixel) are that wrinkle, seen at the fine scales, and are dropped.
      Counts and lengths are summarised on the working regions as
      :func:`analysis.measures.wrinkles.measure` does (a line counts in a region holding
      >= 3 mm or half its length); the map is drawn at the working resolution and
      ``wrinkles.area_pct`` is recomputed from it and the wrinkle map.

    Tiles run on ``workers`` threads (OpenCV and PyTorch release the GIL). Memory is
    bounded by the tiles in flight plus a few arrays of the box at 0.1 mm/px (about 2-4
    megapixels on a face, whatever the camera).
    """

    def __init__(
        self,
        detail_mm: float = DETAIL_MM,
        tile_px: int = 512,
        margin_px: int = 32,
        line_tile_px: int = 512,
        workers: int = 1,
    ) -> None:
        if detail_mm <= 0 or tile_px < 64 or margin_px < 8 or line_tile_px < 32 or workers < 1:
            raise ValueError(
                "detail_mm must be > 0, tile_px >= 64, margin_px >= 8, line_tile_px >= 32, "
                "workers >= 1"
            )
        self.detail_mm, self.tile_px, self.margin_px = detail_mm, tile_px, margin_px
        self.line_tile_px, self.workers = line_tile_px, workers

    def pore_scale(self, frame: Frame, scale_work: float) -> float | None:
        """mm per pore-detail pixel, or None when the working frame is used as it is."""
        if frame.scale >= 1.0 or scale_work <= self.detail_mm:
            return None
        return max(scale_work * frame.scale, PORE_FLOOR * self.detail_mm)

    def line_scale(self, frame: Frame, scale_work: float) -> float | None:
        """mm per fine-line detail pixel, or None when the working frame is used."""
        if frame.scale >= 1.0 or scale_work <= self.detail_mm:
            return None
        return max(scale_work * frame.scale, self.detail_mm)

    def plan(self, frame: Frame, scale_work: float) -> DetailPlan:
        """Which families go to the source pixels, at which scale."""
        return DetailPlan(self.pore_scale(frame, scale_work), self.line_scale(frame, scale_work))

    def _skin_box(
        self, frame: Frame, skin_np: npt.NDArray[np.bool_], pad_src: int
    ) -> tuple[int, int, int, int] | None:
        """The skin's bounding box in source pixels (``y0, y1, x0, x1``), grown by *pad_src*
        within the frame."""
        ys, xs = np.nonzero(skin_np)
        if ys.size == 0:
            return None
        fs = frame.scale
        return (
            max(frame.y0, frame.y0 + math.floor(ys.min() / fs) - pad_src),
            min(frame.y1, frame.y0 + math.ceil((ys.max() + 1) / fs) + pad_src),
            max(frame.x0, frame.x0 + math.floor(xs.min() / fs) - pad_src),
            min(frame.x1, frame.x0 + math.ceil((xs.max() + 1) / fs) + pad_src),
        )

    def __call__(  # type: ignore[override]
        self,
        source: npt.NDArray[Any],
        frame: Frame,
        gains: torch.Tensor,
        work_img: SkinImage,
        plan: DetailPlan,
        wrinkle_map: npt.NDArray[np.bool_] | None = None,
    ) -> tuple[ConcernOutput | None, ConcernOutput | None]:
        """``(pores, fine lines)`` measured on *source*, summarised on *work_img*'s grid;
        None for a family the plan leaves on the working frame (fine lines also need the
        working frame's *wrinkle_map*)."""
        if self.workers == 1:
            return self.finish(self.start(source, frame, gains, work_img, plan), wrinkle_map)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            started = self.start(source, frame, gains, work_img, plan, pool)
            return self.finish(started, wrinkle_map)

    def start(
        self,
        source: npt.NDArray[Any],
        frame: Frame,
        gains: torch.Tensor,
        work_img: SkinImage,
        plan: DetailPlan,
        pool: Executor | None = None,
        submit: bool = True,
        lazy: bool = False,
    ) -> DetailJobs:
        """Prepare the tile jobs of *plan* and submit them to *pool* (None: run them now).

        The jobs need only the photo, the skin mask and the gains, so an engine can queue
        them with the working-frame measures and let both share its threads
        (``submit=False``: :meth:`DetailJobs.submit` later, e.g. after the long measures;
        ``lazy``: also prepared only then, e.g. while the measures already run);
        the results are collected by :meth:`finish`.
        """
        jobs = DetailJobs(plan, work_img)
        prepare = partial(self._prepare, jobs, source, frame, gains, work_img, plan)
        if lazy:
            jobs.prepare = prepare
        else:
            prepare()
        if submit:
            jobs.submit(pool)
        return jobs

    def _prepare(
        self,
        jobs: DetailJobs,
        source: npt.NDArray[Any],
        frame: Frame,
        gains: torch.Tensor,
        work_img: SkinImage,
        plan: DetailPlan,
    ) -> None:
        skin_np = work_img.skin.cpu().numpy().astype(bool)
        g = gains.detach().cpu().numpy().astype(np.float32)
        if plan.pores is not None:
            jobs.pore_jobs = self._pore_jobs(source, frame, g, work_img, skin_np, plan.pores)
        if plan.fine_lines is not None:
            jobs.lines = self._line_setup(source, frame, g, work_img, skin_np, plan.fine_lines)

    def finish(
        self, jobs: DetailJobs, wrinkle_map: npt.NDArray[np.bool_] | None
    ) -> tuple[ConcernOutput | None, ConcernOutput | None]:
        """Wait for the tile jobs and summarise them on the working regions."""
        work_img, plan = jobs.work_img, jobs.plan
        jobs.submit(None)  # runs them here unless an engine queued them
        lines_out = None
        for f in jobs.line_tiles:
            f.result()
        if jobs.lines is not None and wrinkle_map is not None:
            # while the engine's threads may still run pore tiles
            lines_out = jobs.lines.summarise(work_img, wrinkle_map)
        pores_out = None
        if plan.pores is not None:
            found = [r for r in (f.result() for f in jobs.pores) if r is not None]
            blobs = Blobs(
                np.concatenate([r[0] for r in found]) if found else np.zeros(0, np.int64),
                np.concatenate([r[1] for r in found]) if found else np.zeros(0, np.int64),
                np.concatenate([r[2] for r in found]) if found else np.zeros(0, np.float64),
                np.concatenate([r[3] for r in found]) if found else np.zeros(0, np.float64),
            )
            logger.debug("pores on %.3f mm/px tiles: %d", plan.pores, len(blobs))
            pores_out = pores.summarise(work_img, blobs)
        return pores_out, lines_out

    # ------------------------------------------------------------------ pores

    def _pore_jobs(
        self,
        source: npt.NDArray[Any],
        frame: Frame,
        gains: npt.NDArray[np.float32],
        work_img: SkinImage,
        skin_np: npt.NDArray[np.bool_],
        target: float,
    ) -> list[Callable[[], Any]]:
        fs = frame.scale
        f = work_img.scale_mm * fs / target  # detail px per source px (<= 1)
        box = self._skin_box(frame, skin_np, 0)
        if box is None:
            return []
        by0, by1, bx0, bx1 = box
        core = max(64, round(self.tile_px / f))
        pad = math.ceil(self.margin_px / f)
        jobs: list[Callable[[], Any]] = []
        for cy0 in range(by0, by1, core):
            for cx0 in range(bx0, bx1, core):
                cy1, cx1 = min(cy0 + core, by1), min(cx0 + core, bx1)
                tile_box = (
                    max(frame.y0, cy0 - pad),
                    min(frame.y1, cy1 + pad),
                    max(frame.x0, cx0 - pad),
                    min(frame.x1, cx1 + pad),
                )
                grid = _Grid.make(frame, skin_np.shape, tile_box, f)
                tile_skin = grid.sample(skin_np)
                if not tile_skin.any():
                    continue
                jobs.append(
                    partial(
                        self._pore_tile,
                        source,
                        frame,
                        gains,
                        work_img.device,
                        grid,
                        tile_skin,
                        (cy0, cy1, cx0, cx1),
                        target,
                        skin_np.shape,
                    )
                )
        return jobs

    @staticmethod
    def _pore_tile(
        source: npt.NDArray[Any],
        frame: Frame,
        gains: npt.NDArray[np.float32],
        device: torch.device,
        grid: _Grid,
        tile_skin: npt.NDArray[np.bool_],
        core: tuple[int, int, int, int],
        target: float,
        work_shape: tuple[int, int],
    ) -> tuple[Any, ...] | None:
        lum = torch.from_numpy(lightness(grid.image(source), gains)).to(device)
        tile = SkinImage(
            rgb_linear=lum[None],  # read by no detail measure
            lab=lum[None],  # the pore detector reads L* only
            skin=torch.from_numpy(np.ascontiguousarray(tile_skin)).to(device),
            regions={},
            spacing_mm=None,
            scale_mm=target,
        )
        b = pores.detect_pores(tile)
        if not len(b):
            return None
        cy0, cy1, cx0, cx1 = core
        # centres in source pixels; keep those in this tile's core
        sy = (b.rows + 0.5) / grid.fy + grid.y0
        sx = (b.cols + 0.5) / grid.fx + grid.x0
        keep = (sy >= cy0) & (sy < cy1) & (sx >= cx0) & (sx < cx1)
        if not keep.any():
            return None
        fs = frame.scale
        wh, ww = work_shape
        return (
            np.clip(((sy[keep] - frame.y0) * fs).astype(np.int64), 0, wh - 1),
            np.clip(((sx[keep] - frame.x0) * fs).astype(np.int64), 0, ww - 1),
            b.diameter_px[keep] / grid.fy * fs,
            b.response[keep],
        )

    # ------------------------------------------------------------------ fine lines

    def _line_setup(
        self,
        source: npt.NDArray[Any],
        frame: Frame,
        gains: npt.NDArray[np.float32],
        work_img: SkinImage,
        skin_np: npt.NDArray[np.bool_],
        target: float,
    ) -> _FineLines | None:
        fine_px, _ = wrinkles.line_sigmas_px(target)
        f = work_img.scale_mm * frame.scale / target
        margin = 8 * math.ceil((3.0 * max(fine_px) + 4.0) / 8.0)
        box = self._skin_box(frame, skin_np, math.ceil(margin / f))
        if box is None:
            return None
        grid = _Grid.make(frame, skin_np.shape, box, f)
        # where a line may be: the working frame's rule (skin rim, image border and the
        # anatomical outlines of the nose and jaw out; wrinkles.detect_lines)
        sig_work, deep_work = wrinkles.line_sigmas_px(work_img.scale_mm)
        b = int(np.ceil(2 * (sig_work + deep_work)[-1]))
        inner = torch.zeros_like(work_img.skin, dtype=torch.bool)
        inner[b:-b, b:-b] = True
        keep_work = (
            (inner_mask(work_img.skin, wrinkles.EDGE_MM / work_img.scale_mm) & inner).cpu().numpy()
        )
        # the outlines of the nose and jaw (wrinkles.outline_of) are dropped when the lines
        # are extracted: the wrinkles measure computes them on the engine's threads
        keep = grid.sample(keep_work)
        if not keep.any():
            return None
        lum = lightness(grid.image(source), gains)
        ctx = _FineLines(grid, keep, target, work_img.scale_mm, np.zeros(grid.shape, np.float32))
        h, w = grid.shape
        t = 8 * max(4, self.line_tile_px // 8)
        for ty in range(0, h, t):
            for tx in range(0, w, t):
                cy1, cx1 = min(ty + t, h), min(tx + t, w)
                if not keep[ty:cy1, tx:cx1].any():
                    continue
                ctx.jobs.append(
                    partial(ctx.tile, lum, fine_px, (ty, cy1, tx, cx1), margin, work_img.device)
                )
        return ctx


@dataclass(eq=False)
class _FineLines:
    """Fine-line detail state: the grid, the keep mask and the response being filled."""

    grid: _Grid
    keep: npt.NDArray[np.bool_]
    scale_mm: float
    scale_work: float
    response: npt.NDArray[np.float32]
    jobs: list[Callable[[], Any]] = field(default_factory=list)

    def tile(
        self,
        lum: npt.NDArray[np.float32],
        sigmas_px: Sequence[float],
        core: tuple[int, int, int, int],
        margin: int,
        device: torch.device,
    ) -> None:
        """Fine-scale valley strength of one tile; its core is written into the response."""
        h, w = lum.shape
        cy0, cy1, cx0, cx1 = core
        y0, y1 = max(0, cy0 - margin), min(h, cy1 + margin)
        x0, x1 = max(0, cx0 - margin), min(w, cx1 + margin)
        sub = torch.from_numpy(np.ascontiguousarray(lum[y0:y1, x0:x1])).to(device)
        v = wrinkles.line_response(sub, sigmas_px).cpu().numpy()
        self.response[cy0:cy1, cx0:cx1] = v[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]

    def summarise(self, img: SkinImage, wrinkle_map: npt.NDArray[np.bool_]) -> ConcernOutput:
        """Fine-line measurements per working region, the map at working resolution."""
        keep = self.keep & ~self.grid.sample(wrinkles.outline_of(img))
        lines = wrinkles.extract_lines(
            self.response, np.zeros_like(self.response), keep, self.scale_mm
        )
        del self.response
        n = lines.lengths_px.size - 1
        labels, length_map = lines.labels, lines.length_map
        # line pixels only (a few % of the box): skeleton lengths and the map
        flat = np.flatnonzero(labels)
        lid = labels.ravel()[flat]
        ys, xs = np.divmod(flat, labels.shape[1])
        slen = length_map.ravel()[flat].astype(np.float64)
        wys, wxs = self.grid.work_rows[ys], self.grid.work_cols[xs]
        # a line lying on a wrinkle of the working frame is that wrinkle at the fine scales
        wr = cv2.dilate(wrinkle_map.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        on_wrinkle = np.bincount(lid, slen * wr[wys, wxs], n + 1)
        fine = (on_wrinkle < 0.5 * lines.lengths_px) & ~lines.is_wrinkle
        fine[0] = False
        # the map on the working grid: every pixel of a fine line
        on = fine[lid]
        fine_work = np.zeros(wrinkle_map.shape, dtype=bool)
        fine_work[wys[on], wxs[on]] = True
        any_work = fine_work | wrinkle_map
        k = self.scale_mm / self.scale_work  # working px per detail px
        report = img.spacing_mm if img.spacing_mm is not None else 1.0
        min_len_px = wrinkles.MIN_LENGTH_MM / self.scale_mm
        out: list[Measurement] = []
        for reg in region_items(img):
            inside = np.bincount(lid, slen * reg.mask_np[wys, wxs], n + 1)
            counted = fine & (inside >= np.minimum(min_len_px, 0.5 * lines.lengths_px))
            out.append(
                measurement(
                    "wrinkles.area_pct", reg.name, region_fraction(any_work, reg.mask_np), img
                )
            )
            out.append(measurement("wrinkles.fine_lines.count", reg.name, int(counted.sum()), img))
            out.append(
                measurement(
                    "wrinkles.fine_lines.length_mm",
                    reg.name,
                    float(inside[fine].sum()) * k * report,
                    img,
                )
            )
        logger.debug("fine lines on %.3f mm/px: %d", self.scale_mm, int(fine.sum()))
        fmap = FeatureMap(
            "fine_lines",
            "wrinkles",
            MapKind.BINARY,
            fine_work,
            f"Fine lines: Frangi valleys of L* at {self.scale_mm:.2f} mm/px, sigma 0.12-0.3 mm, "
            ">= 3 mm long",
        )
        return ConcernOutput(tuple(out), (fmap,))


def merge_fine_lines(w: ConcernOutput, fine: ConcernOutput) -> ConcernOutput:
    """The wrinkles measure's output *w* with its fine-line keys, ``wrinkles.area_pct`` and
    ``fine_lines`` map replaced by those of *fine* (from :class:`CameraDetail`)."""
    replaced = {m.key for m in fine.measurements}
    kept = tuple(m for m in w.measurements if m.key not in replaced)
    maps = tuple(m for m in w.maps if m.name != "fine_lines") + tuple(fine.maps)
    return ConcernOutput(kept + tuple(fine.measurements), maps)


# ------------------------------------------------------------------ dict wrappers


class _Wrapper(MapTransform):
    """A dict transform delegating to an array transform (MONAI ``*d`` style)."""

    def __init__(self, keys: Hashable | Sequence[Hashable]) -> None:
        super().__init__(keys)


class DetectFaced(_Wrapper):
    """Dict wrapper of :class:`DetectFace`: ``keys`` (images) -> ``face_key``.

    The view is read from ``description_key``. A face already present under ``face_key``
    (detected for the whole study in one batch by :meth:`Analyzer.analyze_many`) is kept.
    """

    def __init__(
        self,
        keys: Hashable | Sequence[Hashable] = "image",
        detector: FaceDetector | None = None,
        description_key: Hashable = "description",
        face_key: Hashable = "face",
    ) -> None:
        super().__init__(keys)
        self.t = DetectFace(detector)
        self.description_key = description_key
        self.face_key = face_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for k in self.key_iterator(d):
            if self.face_key not in d:
                d[self.face_key] = self.t(d[k], d[self.description_key].view)
        return d


class WorkingFramed(_Wrapper):
    """Dict wrapper of :class:`WorkingFrame`: ``keys`` (photos) + ``face_key`` ->
    ``work_key``, ``frame_key`` and ``face_work_key`` (the face in working coordinates)."""

    def __init__(
        self,
        keys: Hashable | Sequence[Hashable] = "image",
        face_key: Hashable = "face",
        work_key: Hashable = "work",
        frame_key: Hashable = "frame",
        face_work_key: Hashable = "face_work",
        **kwargs: int,
    ) -> None:
        super().__init__(keys)
        self.t = WorkingFrame(**kwargs)
        self.face_key, self.work_key = face_key, work_key
        self.frame_key, self.face_work_key = frame_key, face_work_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for k in self.key_iterator(d):
            face: FaceGeometry | None = d[self.face_key]
            work, fr = self.t(d[k], face)
            d[self.work_key], d[self.frame_key] = work, fr
            d[self.face_work_key] = (
                None if face is None else face.transformed(fr.x0, fr.y0, fr.scale)
            )
        return d


class ToLinearRGBd(_Wrapper):
    """Dict wrapper of :class:`ToLinearRGB`: ``keys`` (sRGB) -> ``output_key`` (linear)."""

    def __init__(
        self,
        device: torch.device,
        keys: Hashable | Sequence[Hashable] = "work",
        output_key: Hashable = "rgb_linear",
    ) -> None:
        super().__init__(keys)
        self.t = ToLinearRGB(device)
        self.output_key = output_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for k in self.key_iterator(d):
            d[self.output_key] = self.t(d[k])
        return d


class WhiteBalanced(_Wrapper):
    """Dict wrapper of :class:`WhiteBalance`: balances ``keys`` (linear RGB) with gains from
    ``source_key`` (the photo) outside ``face_key``; the gains go to ``gains_key``."""

    def __init__(
        self,
        keys: Hashable | Sequence[Hashable] = "rgb_linear",
        source_key: Hashable = "image",
        face_key: Hashable = "face",
        gains_key: Hashable = "wb_gains",
        **kwargs: float,
    ) -> None:
        super().__init__(keys)
        self.t = WhiteBalance(**kwargs)
        self.source_key, self.face_key, self.gains_key = source_key, face_key, gains_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for k in self.key_iterator(d):
            gains = self.t.scene_gains(d[self.source_key], d[self.face_key], d[k].device)
            d[self.gains_key] = gains
            d[k] = self.t(d[k], gains)
        return d


class ToLabd(_Wrapper):
    """Dict wrapper of :class:`ToLab`: ``keys`` (linear RGB) -> ``output_key`` (CIELAB)."""

    def __init__(
        self, keys: Hashable | Sequence[Hashable] = "rgb_linear", output_key: Hashable = "lab"
    ) -> None:
        super().__init__(keys)
        self.t = ToLab()
        self.output_key = output_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for k in self.key_iterator(d):
            d[self.output_key] = self.t(d[k])
        return d


class FaceZonesd(_Wrapper):
    """Dict wrapper of :class:`FaceZones`: ``keys`` (CIELAB) + ``face_key`` -> ``skin_key``,
    ``regions_key``."""

    def __init__(
        self,
        keys: Hashable | Sequence[Hashable] = "lab",
        face_key: Hashable = "face_work",
        skin_key: Hashable = "skin",
        regions_key: Hashable = "regions",
        max_view_angle_deg: float = 60.0,
    ) -> None:
        super().__init__(keys)
        self.t = FaceZones(max_view_angle_deg)
        self.face_key, self.skin_key, self.regions_key = face_key, skin_key, regions_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for k in self.key_iterator(d):
            d[self.skin_key], d[self.regions_key] = self.t(d[k], d[self.face_key])
        return d


class QualityGated(_Wrapper):
    """Dict wrapper of :class:`QualityGate`: ``keys`` (photos) + the working image, face,
    description, skin mask and white-balance gains -> ``quality_key``."""

    def __init__(
        self,
        keys: Hashable | Sequence[Hashable] = "image",
        thresholds: QualityThresholds | None = None,
        work_key: Hashable = "work",
        face_key: Hashable = "face",
        description_key: Hashable = "description",
        skin_key: Hashable = "skin",
        gains_key: Hashable = "wb_gains",
        quality_key: Hashable = "quality",
    ) -> None:
        super().__init__(keys)
        self.t = QualityGate(thresholds)
        self.work_key, self.face_key, self.description_key = work_key, face_key, description_key
        self.skin_key, self.gains_key, self.quality_key = skin_key, gains_key, quality_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for k in self.key_iterator(d):
            d[self.quality_key] = self.t(
                d[k],
                d[self.work_key],
                d[self.face_key],
                d[self.description_key].view,
                d[self.skin_key],
                d[self.gains_key],
            )
        return d


class ViewCheckd(_Wrapper):
    """Dict wrapper of :class:`ViewCheck`: updates ``keys`` (the quality verdict)."""

    def __init__(
        self,
        keys: Hashable | Sequence[Hashable] = "quality",
        face_key: Hashable = "face",
        description_key: Hashable = "description",
    ) -> None:
        super().__init__(keys)
        self.t = ViewCheck()
        self.face_key, self.description_key = face_key, description_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for k in self.key_iterator(d):
            d[k] = self.t(d[k], d[self.face_key], d[self.description_key].view)
        return d


class Measured(_Wrapper):
    """Dict wrapper of :class:`Measure`: builds the :class:`SkinImage` from ``keys`` (linear
    RGB) and the CIELAB, skin, zone and scale entries, and puts the outputs in ``output_key``.

    Nothing is measured on an unusable photo (the outputs are empty). A measure listed in
    ``skip`` (``{index: family}``) is left out (an empty output in its place) when the
    :class:`DetailPlan` under ``plan_key`` measures that family on the source pixels.
    """

    def __init__(
        self,
        measures: Sequence[MeasureFn],
        keys: Hashable | Sequence[Hashable] = "rgb_linear",
        workers: int = 1,
        quality_key: Hashable = "quality",
        lab_key: Hashable = "lab",
        skin_key: Hashable = "skin",
        regions_key: Hashable = "regions",
        spacing_key: Hashable = "spacing_work",
        scale_key: Hashable = "scale_work",
        output_key: Hashable = "outputs",
        skip: Mapping[int, str] | None = None,
        plan_key: Hashable = "detail_plan",
        pool: Executor | None = None,
        jobs_key: Hashable = "detail_jobs",
        started_key: Hashable = "measures_started",
    ) -> None:
        super().__init__(keys)
        self.t = Measure(measures, workers)
        self.started_key = started_key
        self.skip = dict(skip or {})
        self.plan_key, self.pool, self.jobs_key = plan_key, pool, jobs_key
        self.quality_key, self.lab_key, self.skin_key = quality_key, lab_key, skin_key
        self.regions_key, self.spacing_key, self.scale_key = regions_key, spacing_key, scale_key
        self.output_key = output_key

    def _image(self, d: Mapping[Hashable, Any], k: Hashable) -> SkinImage:
        return SkinImage(
            rgb_linear=d[k],
            lab=d[self.lab_key],
            skin=d[self.skin_key],
            regions=d[self.regions_key],
            spacing_mm=d[self.spacing_key],
            scale_mm=d[self.scale_key],
        )

    def _skipped(self, d: Mapping[Hashable, Any]) -> set[int]:
        plan = d.get(self.plan_key)
        detail = plan.scales() if isinstance(plan, DetailPlan) else {}
        return {i for i, fam in self.skip.items() if fam in detail}

    def _outputs(self, skipped: set[int], kept: Iterable[ConcernOutput]) -> list[ConcernOutput]:
        outs = iter(kept)
        return [
            ConcernOutput(()) if i in skipped else next(outs) for i in range(len(self.t.measures))
        ]

    def start(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Queue the measures (then the camera-detail jobs) on the engine's pool BEFORE the
        quality verdict (:class:`MeasureStartd`): the gate then runs alongside them, and an
        unusable photo's queued work is dropped by :meth:`__call__`. Without a pool, or
        off the CPU, nothing is started here."""
        d = dict(data)
        if self.pool is None:
            return d
        for k in self.key_iterator(d):
            img = self._image(d, k)
            skipped = self._skipped(d)
            keep = Measure(
                [m for i, m in enumerate(self.t.measures) if i not in skipped], self.t.workers
            )
            if not keep.concurrent(img):
                return d
            futures = keep.submit(img, self.pool)
            jobs = d.get(self.jobs_key)
            if isinstance(jobs, DetailJobs):
                jobs.submit(self.pool)  # prepared here while the measures run
            d[self.started_key] = (skipped, futures)
            break
        return d

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        d[self.output_key] = []
        started = d.pop(self.started_key, None)
        if not d[self.quality_key].usable:
            if started is not None:  # queued before the verdict: dropped
                _drop(started[1])
                jobs = d.get(self.jobs_key)
                if isinstance(jobs, DetailJobs):
                    jobs.cancel()
            return d
        if started is not None:
            skipped, futures = started
            try:
                d[self.output_key] = self._outputs(skipped, [f.result() for f in futures])
            except Exception:  # a measure failed: nothing else of this photo stays queued
                _drop(futures)
                jobs = d.get(self.jobs_key)
                if isinstance(jobs, DetailJobs):
                    jobs.cancel()
                raise
            return d
        for k in self.key_iterator(d):
            img = self._image(d, k)
            jobs = d.get(self.jobs_key)
            then = None if jobs is None else partial(jobs.submit, self.pool)
            skipped = self._skipped(d)
            if not skipped:
                d[self.output_key] = self.t(img, self.pool, then)
                continue
            keep = [m for i, m in enumerate(self.t.measures) if i not in skipped]
            d[self.output_key] = self._outputs(
                skipped, Measure(keep, self.t.workers)(img, self.pool, then)
            )
        return d


class MeasureStartd(_Wrapper):
    """Starts *measured*'s measures early (:meth:`Measured.start`): placed before the quality
    gate, which then runs on the calling thread while the engine's threads measure."""

    def __init__(self, measured: Measured) -> None:
        super().__init__(measured.keys)
        self.measured = measured

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        return self.measured.start(data)


class DetailPland(_Wrapper):
    """Which families :class:`CameraDetaild` measures on the source pixels: ``keys`` (frames)
    + ``scale_key`` -> ``plan_key`` (:class:`DetailPlan`; empty when off).

    With a shared *pool* (the engine's threads) and a usable photo, the tile jobs are
    prepared here (``jobs_key``) and :class:`Measured` queues them right behind the
    working-frame measures (the long jobs first, the many short tiles filling in).
    ``pores``/``fine_lines``: whether the engine has the measure each one replaces.
    """

    def __init__(
        self,
        detail_mm: float | None = DETAIL_MM,
        keys: Hashable | Sequence[Hashable] = "frame",
        *,
        pores: bool = True,
        fine_lines: bool = True,
        pool: Executor | None = None,
        scale_key: Hashable = "scale_work",
        plan_key: Hashable = "detail_plan",
        jobs_key: Hashable = "detail_jobs",
    ) -> None:
        super().__init__(keys)
        self.t = None if detail_mm is None else CameraDetail(detail_mm)
        self.pores, self.fine_lines, self.pool = pores, fine_lines, pool
        self.scale_key, self.plan_key, self.jobs_key = scale_key, plan_key, jobs_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for k in self.key_iterator(d):
            plan = DetailPlan()
            if self.t is not None:
                p = self.t.plan(d[k], float(d[self.scale_key]))
                plan = DetailPlan(
                    p.pores if self.pores else None, p.fine_lines if self.fine_lines else None
                )
            d[self.plan_key] = plan
            if self.t is None or self.pool is None or not plan.scales():
                continue
            quality = d.get("quality")  # absent when this step runs before the gate
            if quality is not None and not quality.usable:
                continue
            # prepared and queued by Measured right after the measures (longest jobs first)
            d[self.jobs_key] = self.t.start(
                d["image"],
                d[k],
                d["wb_gains"],
                _work_image(d),
                plan,
                self.pool,
                submit=False,
                lazy=True,
            )
        return d


def _work_image(d: Mapping[Hashable, Any]) -> SkinImage:
    """The working-frame :class:`SkinImage` of a pipeline dict."""
    return SkinImage(
        rgb_linear=d["rgb_linear"],
        lab=d["lab"],
        skin=d["skin"],
        regions=d["regions"],
        spacing_mm=d["spacing_work"],
        scale_mm=d["scale_work"],
    )


class CameraDetaild(_Wrapper):
    """Dict wrapper of :class:`CameraDetail`: replaces output ``pores_index`` of
    ``outputs_key`` with pores from source tiles, and the fine-line keys and map of output
    ``wrinkles_index`` with fine lines from the source pixels, as ``plan_key`` says; records
    the scale of each family so measured in ``detail_key`` (``{"pores": mm_per_px,
    "wrinkles.fine_lines": mm_per_px}``; empty when not used). Tile jobs already started by
    :class:`DetailPland` (``jobs_key``) are collected rather than run again."""

    def __init__(
        self,
        pores_index: int | None,
        wrinkles_index: int | None,
        keys: Hashable | Sequence[Hashable] = "image",
        detail_mm: float = DETAIL_MM,
        workers: int = 1,
        plan_key: Hashable = "detail_plan",
        jobs_key: Hashable = "detail_jobs",
        outputs_key: Hashable = "outputs",
        detail_key: Hashable = "detail_scale",
    ) -> None:
        super().__init__(keys)
        self.t = CameraDetail(detail_mm, workers=workers)
        self.pores_index, self.wrinkles_index = pores_index, wrinkles_index
        self.plan_key, self.jobs_key = plan_key, jobs_key
        self.outputs_key, self.detail_key = outputs_key, detail_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        d[self.detail_key] = {}
        jobs: DetailJobs | None = d.pop(self.jobs_key, None)
        plan: DetailPlan = d.get(self.plan_key, DetailPlan())
        if not d["quality"].usable or not d[self.outputs_key]:
            return d
        outputs = list(d[self.outputs_key])
        wmap = None
        if self.wrinkles_index is not None:
            wmap = next(
                (m.data for m in outputs[self.wrinkles_index].maps if m.name == "wrinkles"), None
            )
        plan = DetailPlan(
            plan.pores if self.pores_index is not None else None,
            plan.fine_lines if self.wrinkles_index is not None else None,
        )
        if not plan.scales():
            return d
        for k in self.key_iterator(d):
            try:
                if jobs is not None:
                    pores_out, lines_out = self.t.finish(jobs, wmap)
                else:
                    pores_out, lines_out = self.t(
                        d[k], d["frame"], d["wb_gains"], _work_image(d), plan, wmap
                    )
            except Exception as exc:
                raise AnalysisError("camera-detail measures failed") from exc
            if pores_out is not None and self.pores_index is not None:
                outputs[self.pores_index] = pores_out
            if lines_out is not None and self.wrinkles_index is not None:
                outputs[self.wrinkles_index] = merge_fine_lines(
                    outputs[self.wrinkles_index], lines_out
                )
            d[self.outputs_key] = outputs
            done = {"pores": pores_out is not None, "wrinkles.fine_lines": lines_out is not None}
            d[self.detail_key] = {f: v for f, v in plan.scales().items() if done[f]}
        return d


# ------------------------------------------------------------------ the engine


def _default_measures() -> tuple[MeasureFn, ...]:
    from analysis.measures import MEASURES

    return tuple(MEASURES)


def _default_scores() -> ScoreFn:
    from analysis.scores import compute_scores

    return compute_scores


#: The key (family or sub-family) each feature map shows: a map of a family that is not
#: assessed is not passed on (no SEG segment, overlay or PDF map for it).
MAP_KEYS = {
    "spots": "pigmentation.spots",
    "melanin": "pigmentation",
    "erythema": "redness",
    "red_areas": "redness",
    "red_lesions": "redness.lesions",
    "pores": "pores",
    "wrinkles": "wrinkles",
    "fine_lines": "wrinkles.fine_lines",
    "shine": "oil",
}


def _skip(index: int | None, family: str) -> dict[int, str]:
    """``{index: family}``: the measure Measured leaves out when the plan has *family*."""
    return {} if index is None else {index: family}


def _index_of(measures: Sequence[MeasureFn], fn: MeasureFn) -> int | None:
    """Position of *fn* in *measures*, or None."""
    return next((i for i, m in enumerate(measures) if m is fn), None)


def _covers(family: str, key: str) -> bool:
    """Whether not-assessed *family* (``pores``, ``wrinkles.fine_lines``) covers *key*."""
    return key == family or key.startswith(family + ".")


def _to_source(arr: npt.NDArray[Any], fr: Frame, binary: bool) -> npt.NDArray[Any]:
    """Resize a working-grid array back to the crop and paste it into the source frame."""
    ch, cw = fr.crop_shape
    if binary:
        small = arr.astype(np.uint8)
        out = np.zeros(fr.source_shape, dtype=np.uint8)
        out[fr.y0 : fr.y1, fr.x0 : fr.x1] = (
            cv2.resize(small, (cw, ch), interpolation=cv2.INTER_NEAREST)
            if small.shape != (ch, cw)
            else small
        )
        return out.view(np.bool_)  # 0/1 bytes: a bool array without another copy
    small32 = np.clip(arr.astype(np.float32), 0.0, 1.0)
    out32 = np.zeros(fr.source_shape, dtype=np.float32)
    out32[fr.y0 : fr.y1, fr.x0 : fr.x1] = (
        cv2.resize(small32, (cw, ch), interpolation=cv2.INTER_LINEAR)
        if small32.shape != (ch, cw)
        else small32
    )
    return out32


class Analyzer:
    """The skin analysis engine (DESIGN.md §2 step 4).

    Parameters
    ----------
    device
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or a
        ``torch.device``; chosen once here.
    measures
        The concern measures (default :data:`analysis.measures.MEASURES`).
    score_fn
        Raw measurements -> 0-100 per concern (default :func:`analysis.scores.compute_scores`).
    working_face_px, working_long_side
        Working resolution (see the module docstring).
    thresholds
        Quality gate limits.
    face_detector
        The face model with its thresholds (default: one shared instance per device, so
        the weights are loaded once per process).
    max_view_angle_deg
        A zone seen more obliquely than this in a photo is not measured in it.
    detail_mm
        When the working frame is coarser than ``detail_mm`` and the source finer, pores are
        detected on tiles of the source resampled to ``max(source spacing, 0.7 detail_mm)``
        and fine lines on the source resampled to ``max(source spacing, detail_mm)``
        (:class:`CameraDetail`); None = always at the working frame.
    cpu_workers
        CPU only: how many measures run concurrently (default: ``torch.get_num_threads()``
        when the analyzer is built, i.e. the cores PyTorch was given). During
        :meth:`analyze` PyTorch's intra-op threads are set to 1 and restored afterwards:
        the work is ~1 megapixel per operation, where OpenMP's per-operation fork/join
        costs more than it gains, and on a busy machine its spinning threads made a
        12 MP photo 3x slower with 2 threads than with 1 (docs/methods/pipeline.md).
    """

    def __init__(
        self,
        device: str | torch.device = "auto",
        *,
        measures: Sequence[MeasureFn] | None = None,
        score_fn: ScoreFn | None = None,
        working_face_px: int = 800,
        working_long_side: int = 1600,
        thresholds: QualityThresholds | None = None,
        face_detector: FaceDetector | None = None,
        max_view_angle_deg: float = 60.0,
        cpu_workers: int | None = None,
        detail_mm: float | None = DETAIL_MM,
    ) -> None:
        self.device = resolve_device(device)
        self._detector = face_detector
        if cpu_workers is not None and cpu_workers < 1:
            raise ValueError(f"cpu_workers must be >= 1, got {cpu_workers}")
        self.cpu_workers = max(1, torch.get_num_threads()) if cpu_workers is None else cpu_workers
        self.measures = tuple(measures) if measures is not None else _default_measures()
        self.score_fn = score_fn if score_fn is not None else _default_scores()
        # one pool for the measures and the camera-detail tiles, so they share the cores
        # (threads start on first use and end when the analyzer is collected)
        self._pool = (
            ThreadPoolExecutor(self.cpu_workers, thread_name_prefix="dermnode-analysis")
            if self.device.type == "cpu" and self.cpu_workers > 1
            else None
        )
        pores_at = _index_of(self.measures, pores.measure)
        wrinkles_at = _index_of(self.measures, wrinkles.measure)
        measured = Measured(
            self.measures,
            workers=self.cpu_workers,
            skip=_skip(pores_at, "pores"),
            pool=self._pool,
        )
        self.transform = Compose(
            [
                DetectFaced(detector=face_detector),
                WorkingFramed(working_face_px=working_face_px, working_long_side=working_long_side),
                ToLinearRGBd(self.device),
                WhiteBalanced(),
                ToLabd(),
                FaceZonesd(max_view_angle_deg=max_view_angle_deg),
                PixelSpacingd(),
                DetailPland(
                    detail_mm,
                    pores=pores_at is not None,
                    fine_lines=wrinkles_at is not None,
                    pool=self._pool,
                ),
                # the measures and tile jobs start on the pool, the gate runs meanwhile
                MeasureStartd(measured),
                QualityGated(thresholds=thresholds),
                ViewCheckd(),
                measured,
                CameraDetaild(
                    pores_at,
                    wrinkles_at,
                    detail_mm=detail_mm or DETAIL_MM,
                    workers=self.cpu_workers if self.device.type == "cpu" else 1,
                ),
            ],
            log_stats=False,
        )
        logger.info("analyzer ready on %s with %d measures", self.device, len(self.measures))

    @property
    def face_detector(self) -> FaceDetector:
        """The face model on this analyzer's device (loaded on first use)."""
        if self._detector is None:
            self._detector = _shared_detector(str(self.device))
        return self._detector

    def analyze(
        self,
        image: npt.NDArray[Any],
        description: ImageDescription,
    ) -> ImageResult:
        """Analyse one ``(H, W, 3)`` uint8/uint16 RGB photo.

        Raises
        ------
        InputRejected
            The array is not an RGB image.
        AnalysisError
            A measure failed.
        """
        image = self._check(image)
        data: dict[Hashable, Any] = {"image": image, "description": description}
        with torch.inference_mode(), self._threads():
            if description.view.is_face:
                data["face"] = self.face_detector([image])[0]
            d = self.transform(data)
        return self._assemble(d)

    @staticmethod
    def _check(image: Any) -> npt.NDArray[Any]:
        """The photo, validated (writable, for ``torch.from_numpy``)."""
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            raise InputRejected(
                f"image must be an (H, W, 3) array, got shape {getattr(image, 'shape', None)}"
            )
        if image.dtype not in (np.uint8, np.uint16):
            raise InputRejected(f"image dtype must be uint8 or uint16, got {image.dtype}")
        if min(image.shape[:2]) < 16:
            raise InputRejected(f"image is too small: {image.shape[:2]}")
        out: npt.NDArray[Any] = image if image.flags.writeable else image.copy()
        return out

    @contextmanager
    def _threads(self) -> Iterator[None]:
        """On the CPU: one PyTorch intra-op thread while analysing (restored afterwards)."""
        if self.device.type != "cpu":
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def analyze_many(
        self, items: Iterable[tuple[npt.NDArray[Any], ImageDescription]]
    ) -> AnalysisResult:
        """Analyse several photos (one study) together.

        The face views go through the face model as one batch (one forward pass per network
        on a GPU); the rest of the analysis runs photo by photo. The result carries the
        study-level values (:func:`analysis.fusion.fuse`).
        """
        checked = [(self._check(img), desc) for img, desc in items]
        face_idx = [i for i, (_, desc) in enumerate(checked) if desc.view.is_face]
        faces: dict[int, FaceGeometry | None] = {}
        if face_idx:
            with torch.inference_mode(), self._threads():
                found = self.face_detector([checked[i][0] for i in face_idx])
            faces = dict(zip(face_idx, found, strict=True))
        results = []
        for i, (img, desc) in enumerate(checked):
            data: dict[Hashable, Any] = {"image": img, "description": desc}
            if i in faces:
                data["face"] = faces[i]
            with torch.inference_mode(), self._threads():
                d = self.transform(data)
            results.append(self._assemble(d))
        return fused(AnalysisResult(images=tuple(results)))

    def _assemble(self, d: Mapping[Hashable, Any]) -> ImageResult:
        q: QualityResult = d["quality"]
        fr: Frame = d["frame"]
        face: FaceGeometry | None = d["face"]
        region = str(Region.FACE) if face is not None else str(Region.SKIN)
        measurements = [
            Measurement("quality.sharpness", region, round(q.sharpness, 6), "{index}"),
            Measurement(
                "quality.exposure_clipped_pct", region, round(q.exposure_clipped_pct, 6), "%"
            ),
        ]
        not_assessed = tuple(NotAssessed(k, r) for k, r in NOT_ASSESSED.items())
        if q.usable:
            # Families too fine for this photo's resolution, or drowned by its noise, get a
            # reason, never a number, and no map.
            # a family measured on finer source tiles is judged at that scale
            detail: Mapping[str, float] = d.get("detail_scale", {})
            not_assessed += tuple(
                NotAssessed(k, r)
                for k, r in unresolved(float(d["scale_work"])).items()
                if k not in detail or k in unresolved(detail[k])
            )
            listed = {n.key for n in not_assessed}
            not_assessed += tuple(
                NotAssessed(k, r)
                for k, r in noisy_families(q.noise_pct).items()
                if not any(_covers(m, k) for m in listed)
            )
        dropped = {n.key for n in not_assessed}
        box = None
        pose = None
        angles: dict[str, float] = {}
        if face is not None:
            bx, by, bw, bh = face.box
            box = (round(bx), round(by), round(bw), round(bh))
            pose = face.pose
            angles = face.view_angles()
            not_assessed += _hidden_zones(angles, d["regions"], face.in_range)
        if not q.usable:
            return ImageResult(
                description=d["description"],
                image_shape=fr.source_shape,
                quality=q,
                spacing=d["spacing"],
                measurements=tuple(measurements),
                not_assessed=not_assessed,
                face_box=box,
                pose=pose,
                zone_view_angles=angles,
            )
        kept: list[FeatureMap] = []
        for out in d["outputs"]:
            measurements.extend(
                m for m in out.measurements if not any(_covers(k, m.key) for k in dropped)
            )
            kept.extend(
                m
                for m in out.maps
                if not any(_covers(k, MAP_KEYS.get(m.name, m.family)) for k in dropped)
            )
        regions = list(d["regions"].items())
        # maps and zone masks back to the source size (on the engine's threads when it has
        # them: at 24 MP each is a 24-96 MB resize and paste)
        jobs = [(m.data, m.kind is MapKind.BINARY) for m in kept]
        jobs += [(mask.cpu().numpy(), True) for _, mask in regions]

        def back(job: tuple[npt.NDArray[Any], bool]) -> npt.NDArray[Any]:
            return _to_source(job[0], fr, job[1])

        big = list(self._pool.map(back, jobs)) if self._pool is not None else list(map(back, jobs))
        maps = [
            FeatureMap(m.name, m.family, m.kind, a, m.algorithm)
            for m, a in zip(kept, big, strict=False)
        ]
        zones = tuple(
            ZoneMask(name, a) for (name, _), a in zip(regions, big[len(kept) :], strict=True)
        )
        scores = self.score_fn(measurements)
        return ImageResult(
            description=d["description"],
            image_shape=fr.source_shape,
            quality=q,
            spacing=d["spacing"],
            measurements=tuple(measurements),
            scores=dict(scores),
            zones=zones,
            maps=tuple(maps),
            not_assessed=not_assessed,
            face_box=box,
            pose=pose,
            zone_view_angles=angles,
        )


def _hidden_zones(
    angles: Mapping[str, float], regions: Mapping[str, Any], in_range: bool
) -> tuple[NotAssessed, ...]:
    """``zone.<name>`` not assessed for each zone this view does not measure, with why."""
    out = []
    for name, angle in angles.items():
        if name in regions:
            continue
        if not in_range:
            why = f"the head pose is beyond the face mesh's range (|yaw| > {MAX_YAW_DEG:.0f} deg)"
        else:
            why = f"seen at {angle:.0f} deg in this view (limit 60 deg); measured in another view"
            why += " of the study if it has one"
        out.append(NotAssessed(f"zone.{name}", why))
    return tuple(out)


class PixelSpacing(Transform):
    """Pixel spacing: from the description, else estimated from the iris, else unknown.

    Returns ``(spacing, spacing_work, scale_work)``: the reported spacing (source pixels),
    the spacing of a working pixel (or None) and the scale of a working pixel (always
    positive: it sizes the measures' filters).
    """

    def __call__(  # type: ignore[override]
        self, description: ImageDescription, frame: Frame, face: FaceGeometry | None
    ) -> tuple[Spacing, float | None, float]:
        """The spacing of a photo analysed in *frame*."""
        est = estimate_spacing(face)
        if description.spacing_mm is not None:
            spacing = Spacing(description.spacing_mm, SpacingSource.PIXEL_SPACING)
        elif est is not None:
            spacing = Spacing(
                est.spacing_mm, SpacingSource.ESTIMATED, est.method, est.uncertainty_pct
            )
        else:
            spacing = Spacing(None, SpacingSource.UNKNOWN)
        spacing_work = None if spacing.value is None else spacing.value / frame.scale
        if spacing.value is not None:
            scale_src = spacing.value
        elif face is not None:  # no usable iris: nominal adult face width ~ 140 mm
            scale_src = 140.0 / max(face.box[2], 1.0)
        else:
            fov = NOMINAL_FOV_MM.get(description.view, NOMINAL_FOV_MM[View.CLOSE_UP])
            scale_src = fov / max(frame.source_shape)
        return spacing, spacing_work, scale_src / frame.scale


class PixelSpacingd(_Wrapper):
    """Dict wrapper of :class:`PixelSpacing`: ``keys`` (descriptions) + ``frame_key`` +
    ``face_key`` -> ``spacing_key``, ``spacing_work_key``, ``scale_work_key``."""

    def __init__(
        self,
        keys: Hashable | Sequence[Hashable] = "description",
        frame_key: Hashable = "frame",
        face_key: Hashable = "face",
        spacing_key: Hashable = "spacing",
        spacing_work_key: Hashable = "spacing_work",
        scale_work_key: Hashable = "scale_work",
    ) -> None:
        super().__init__(keys)
        self.t = PixelSpacing()
        self.frame_key, self.face_key = frame_key, face_key
        self.spacing_key, self.spacing_work_key = spacing_key, spacing_work_key
        self.scale_work_key = scale_work_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for k in self.key_iterator(d):
            (
                d[self.spacing_key],
                d[self.spacing_work_key],
                d[self.scale_work_key],
            ) = self.t(d[k], d[self.frame_key], d[self.face_key])
        return d
