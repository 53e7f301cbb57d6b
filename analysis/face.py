"""Face geometry from the learned face mesh, and the skin mask.

Detection, the 468-point mesh and the irises come from :class:`analysis.models.FaceModel`
(MediaPipe BlazeFace, FaceMesh and Iris ported to PyTorch, weights shipped with the package, run
through MONAI on the analyzer's device). A face is accepted when the detector's confidence is
at least :data:`MIN_DETECTION_SCORE` and the mesh's own face-presence output at least
:data:`MIN_PRESENCE`; on the London set every real face scores >= 0.85 / 1.0, while mouth crops,
cheek close-ups and objects score <= 0.56 / 0.85 (``benchmarks/landmarks.py``).

From the mesh (:mod:`analysis.zones`): head pose, the zones as landmark polygons and each
zone's view angle. Left and right are the **patient's**: on a frontal photo the patient's left
is on the image right.

The skin mask is the mesh's silhouette minus the landmark exclusions (eyes with lids, brows,
lips, nostrils) and minus pixels whose CIELAB colour is far from the robust (median / MAD)
skin colour of a seed region (cheeks and nose), so hair, beard, glasses and background drop
out while bright specular highlights (shine) and darker spots stay in.

Scale (:func:`estimate_spacing`): the horizontal visible iris diameter, 11.71 +/- 0.42 mm in
adults (white-to-white, Rüfer, Schröder and Erb, *Cornea* 24:259-261, 2005; n = 390), measured
by the Iris model and corrected for yaw; flagged ``estimated`` with its uncertainty (the
population spread, 3.6 %, combined with the disagreement of the two eyes). It replaces the
63 mm inter-pupillary assumption (adults vary 54-74 mm; Dodgson, Proc. SPIE 5291, 2004),
which stays only as the fallback when no iris is measurable. Pixel Spacing from the photo wins
over both (:mod:`analysis.pipeline`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import numpy.typing as npt
import torch

from analysis.types import ZONES, HeadPose, Region, View
from analysis.zones import (
    LANDMARKS,
    MAX_VIEW_ANGLE_DEG,
    Alignment,
    align_to_canonical,
    rasterize,
    seed_polygons,
    view_angles,
)

if TYPE_CHECKING:
    from analysis.models import FaceLandmarks, FaceModel

__all__ = [
    "IRIS_DIAMETER_MM",
    "IRIS_DIAMETER_SD_MM",
    "ISLAND_FRACTION",
    "MAX_YAW_DEG",
    "MEAN_IPD_MM",
    "MIN_DETECTION_SCORE",
    "MIN_PRESENCE",
    "FaceDetector",
    "FaceGeometry",
    "ScaleEstimate",
    "detect_face",
    "estimate_spacing",
    "face_regions",
    "skin_regions",
]

logger = logging.getLogger(__name__)

#: Horizontal visible iris diameter (white-to-white) of adults, mean and SD in mm (Rüfer 2005).
IRIS_DIAMETER_MM = 11.71
IRIS_DIAMETER_SD_MM = 0.42
#: Mean adult inter-pupillary distance in mm (Dodgson 2004): the fallback scale.
MEAN_IPD_MM = 63.0
_IPD_SD_MM = 3.8
#: Detector confidence and mesh face-presence below which no face is reported.
MIN_DETECTION_SCORE = 0.7
MIN_PRESENCE = 0.9
#: Beyond this yaw (a near profile) the mesh is outside the range it was validated on: no zones.
MAX_YAW_DEG = 65.0
#: The iris is not used for scale beyond this yaw (too foreshortened, partly hidden).
_MAX_IRIS_YAW_DEG = 50.0


@dataclass(frozen=True, slots=True)
class ScaleEstimate:
    """An estimated pixel spacing (mm per pixel), its method and 1-SD uncertainty in %."""

    spacing_mm: float
    method: str
    uncertainty_pct: float


@dataclass(frozen=True, slots=True, eq=False)
class FaceGeometry:
    """Where the face is, in some image's pixel coordinates (pixel centres at integers).

    Attributes
    ----------
    box
        ``(x, y, w, h)``: the whole-pixel bounding box of the mesh.
    mesh
        ``(468, 3)`` face-mesh points (MediaPipe order); ``z`` away from the camera, same scale.
    iris_right, iris_left
        ``(5, 2)`` iris points (centre first) of the patient's right and left eye.
    detection_score, presence
        The detector's confidence and the mesh's face-presence output (0-1).
    alignment
        The similarity of the canonical mesh onto ``mesh`` (rotation -> head pose).
    """

    box: tuple[float, float, float, float]
    mesh: npt.NDArray[np.float64]
    iris_right: npt.NDArray[np.float64]
    iris_left: npt.NDArray[np.float64]
    detection_score: float
    presence: float
    alignment: Alignment

    @classmethod
    def from_landmarks(cls, lm: FaceLandmarks) -> FaceGeometry:
        """From the face model's output (its pixel centres are at ``+0.5``: shifted here)."""
        mesh = np.asarray(lm.mesh, dtype=np.float64).copy()
        mesh[:, :2] -= 0.5
        a = np.asarray(lm.iris_image_left, dtype=np.float64) - 0.5
        b = np.asarray(lm.iris_image_right, dtype=np.float64) - 0.5
        # assign the irises to the patient's eyes by the mesh's eye corners (any view, mirrored
        # or not)
        right_eye = (
            mesh[LANDMARKS["eye_outer_right"], :2] + mesh[LANDMARKS["eye_inner_right"], :2]
        ) / 2
        if np.linalg.norm(a[0] - right_eye) > np.linalg.norm(b[0] - right_eye):
            a, b = b, a
        return cls(
            box=_mesh_box(mesh),
            mesh=mesh,
            iris_right=a,
            iris_left=b,
            detection_score=float(lm.detection_score),
            presence=float(lm.presence),
            alignment=align_to_canonical(mesh),
        )

    @property
    def pose(self) -> HeadPose:
        """Yaw, pitch and roll (:class:`analysis.types.HeadPose`)."""
        return self.alignment.pose

    @property
    def eyes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Iris centres, the patient's right eye first (the image-left eye on a frontal photo)."""
        r, l_ = self.iris_right[0], self.iris_left[0]
        return ((float(r[0]), float(r[1])), (float(l_[0]), float(l_[1])))

    @property
    def eyes_found(self) -> bool:
        """Always true: the Iris model places both irises (for :mod:`analysis.registration`)."""
        return True

    @property
    def iod_px(self) -> float:
        """Inter-pupillary distance in pixels (in the image plane)."""
        (x0, y0), (x1, y1) = self.eyes
        return math.hypot(x1 - x0, y1 - y0)

    @property
    def in_range(self) -> bool:
        """Whether the pose is within the mesh's range (``|yaw| <= MAX_YAW_DEG``)."""
        return abs(self.pose.yaw_deg) <= MAX_YAW_DEG

    def view_angles(self) -> dict[str, float]:
        """Per zone, the angle (deg) at which this photo sees it."""
        return view_angles(self.alignment.rotation)

    def transformed(self, x0: float, y0: float, scale: float) -> FaceGeometry:
        """The same face after cropping at ``(x0, y0)`` and resizing by *scale*.

        Pixel centres map as ``x' = (x - x0 + 0.5) * scale - 0.5``.
        """
        shift = np.array([x0 - 0.5, y0 - 0.5])

        def tr(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            q = p.copy()
            q[:, :2] = (q[:, :2] - shift) * scale - 0.5
            if q.shape[1] == 3:
                q[:, 2] *= scale
            return q

        mesh = tr(self.mesh)
        return FaceGeometry(
            box=_mesh_box(mesh),
            mesh=mesh,
            iris_right=tr(self.iris_right),
            iris_left=tr(self.iris_left),
            detection_score=self.detection_score,
            presence=self.presence,
            alignment=align_to_canonical(mesh),
        )

    def extent(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``: the mesh's bounding box with a margin (not clipped).

        The margin (25 % of the box above, 10 % elsewhere) keeps the hairline and jaw, which
        the skin-colour model needs as context.
        """
        x, y, w, h = self.box
        return (x - 0.1 * w, y - 0.25 * h, x + 1.1 * w, y + 1.1 * h)


def _mesh_box(mesh: npt.NDArray[np.float64]) -> tuple[float, float, float, float]:
    """The whole-pixel box ``(x, y, w, h)`` around the mesh."""
    lo = np.floor(mesh[:, :2].min(0))
    hi = np.ceil(mesh[:, :2].max(0))
    return (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))


def _to_u8(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype == np.uint16:
        return np.ascontiguousarray((image >> 8).astype(np.uint8))
    unit = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    return np.ascontiguousarray((unit * 255.0 + 0.5).astype(np.uint8))


class FaceDetector:
    """The face model with DermNode's acceptance thresholds.

    Parameters
    ----------
    device
        Torch device of the networks.
    min_detection_score, min_presence
        Acceptance thresholds (see the module docstring).
    """

    def __init__(
        self,
        device: torch.device | str = "cpu",
        *,
        min_detection_score: float = MIN_DETECTION_SCORE,
        min_presence: float = MIN_PRESENCE,
    ) -> None:
        from analysis.models import FaceModel

        self.model: FaceModel = FaceModel(
            device, min_detection_score=min_detection_score, min_presence=min_presence
        )

    def __call__(self, images: Sequence[npt.NDArray[Any]]) -> list[FaceGeometry | None]:
        """One face (or None) per ``(H, W, 3)`` RGB photo, all photos in one batch."""
        found = self.model([_to_u8(im) for im in images])
        return [None if lm is None else FaceGeometry.from_landmarks(lm) for lm in found]


@cache
def _default_detector(device: str) -> FaceDetector:
    return FaceDetector(device)


def detect_face(
    image: npt.NDArray[np.generic],
    view: View | str = View.FRONTAL,
    detector: FaceDetector | None = None,
) -> FaceGeometry | None:
    """Find the face in an ``(H, W, 3)`` RGB photo, in source pixel coordinates.

    Non-face views (close-up, dermoscopy) have no face: None.
    """
    if not View(view).is_face:
        return None
    det = detector if detector is not None else _default_detector("cpu")
    return det([image])[0]


def _iris_diameter_px(iris: npt.NDArray[np.float64]) -> float:
    """Horizontal iris diameter: the more horizontal of the two boundary-point pairs."""
    p = iris[1:5]
    pairs = [(p[0], p[2]), (p[1], p[3])]
    best = max(
        pairs, key=lambda ab: abs(ab[1][0] - ab[0][0]) / (np.linalg.norm(ab[1] - ab[0]) + 1e-9)
    )
    return float(np.linalg.norm(best[1] - best[0]))


def estimate_spacing(face: FaceGeometry | None) -> ScaleEstimate | None:
    """mm per pixel from the iris diameter (or, past 50 deg yaw, the pupils), or None.

    The horizontal iris diameter shrinks with ``cos(yaw)``; it is corrected for it. The
    uncertainty combines the population spread (3.6 %) with the two eyes' disagreement.
    """
    if face is None:
        return None
    yaw = math.radians(face.pose.yaw_deg)
    if abs(face.pose.yaw_deg) <= _MAX_IRIS_YAW_DEG:
        dr = _iris_diameter_px(face.iris_right)
        dl = _iris_diameter_px(face.iris_left)
        if dr > 0 and dl > 0:
            d = (dr + dl) / 2.0 / math.cos(yaw)
            pop = 100.0 * IRIS_DIAMETER_SD_MM / IRIS_DIAMETER_MM
            meas = 100.0 * abs(dr - dl) / (dr + dl)
            return ScaleEstimate(IRIS_DIAMETER_MM / d, "iris", math.hypot(pop, meas))
    if face.iod_px <= 0 or abs(face.pose.yaw_deg) > MAX_YAW_DEG:
        return None
    ipd = face.iod_px / max(math.cos(yaw), 0.2)
    return ScaleEstimate(MEAN_IPD_MM / ipd, "ipd", 100.0 * _IPD_SD_MM / MEAN_IPD_MM)


# ----------------------------------------------------------------------------- regions


def _robust(x: torch.Tensor, floor: float) -> tuple[torch.Tensor, torch.Tensor]:
    if x.numel() > 200_000:  # a deterministic subsample keeps the median cheap
        x = x[:: x.numel() // 200_000 + 1]
    med = x.median()
    mad = (x - med).abs().median() * 1.4826
    return med, mad.clamp(min=floor)


def _colour_model(lab: torch.Tensor, seed: torch.Tensor, k: float) -> torch.Tensor:
    """Pixels whose CIELAB colour is close to the robust skin colour of *seed*."""
    L, a, b = lab[0], lab[1], lab[2]
    if int(seed.sum()) < 50:
        return torch.ones_like(seed)
    mL, sL = _robust(L[seed], 6.0)
    ma, sa = _robust(a[seed], 3.0)
    mb, sb = _robust(b[seed], 3.0)
    # darkness counts half: shading, wrinkles and spots are darker skin, not background
    dark = 0.5 * ((mL - L) / sL).clamp(min=0.0)
    dist2 = dark**2 + ((a - ma) / sa) ** 2 + ((b - mb) / sb) ** 2
    # bright low-chroma pixels (specular shine) stay skin; the oil measure needs them
    bright = (L > mL) & (a > ma - 4 * sa - 4.0)
    return (dist2 <= k * k) | bright


def _clean(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Morphological opening then closing (removes specks, fills pinholes)."""
    if radius < 1:
        return mask
    if mask.device.type == "cpu":  # OpenCV's rectangle morphology: ~100x faster, identical
        k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1))
        opened = cv2.morphologyEx(mask.numpy().astype(np.uint8), cv2.MORPH_OPEN, k)
        return torch.from_numpy(cv2.morphologyEx(opened, cv2.MORPH_CLOSE, k).astype(bool))
    return _clean_pool(mask, radius)


def _clean_pool(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """:func:`_clean` by max pooling (any device; the image border is neutral, as in OpenCV)."""
    m = mask.to(torch.float32)[None, None]
    k = 2 * radius + 1
    pool = torch.nn.functional.max_pool2d
    m = -pool(-m, k, 1, radius)  # erode
    m = pool(m, k, 1, radius)  # dilate
    m = pool(m, k, 1, radius)
    m = -pool(-m, k, 1, radius)
    return m[0, 0] > 0.5


#: Skin-mask pieces smaller than this fraction of the largest piece are dropped (face photos).
ISLAND_FRACTION = 0.02


def _drop_islands(mask: torch.Tensor, fraction: float) -> torch.Tensor:
    """Keep the 8-connected pieces of *mask* of at least *fraction* of the largest one.

    On a face the skin is one large piece; small detached pieces are gaps in the hair of
    a fringe or beard, whose number and shape change with every capture. Measured inside
    them, hair strands were counted as spots and lesions.
    """
    m = mask.cpu().numpy().astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 2:
        return mask
    area = stats[:, cv2.CC_STAT_AREA].astype(np.int64)
    area[0] = 0
    keep = area >= fraction * area.max()
    keep[0] = False
    return torch.from_numpy(keep[labels]).to(mask.device)


def face_regions(
    lab: torch.Tensor, face: FaceGeometry, max_view_angle_deg: float = MAX_VIEW_ANGLE_DEG
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Skin mask and region masks for a face photo, on *lab*'s device and grid.

    Parameters
    ----------
    lab
        ``(3, H, W)`` float CIELAB at the working resolution.
    face
        The face in the same pixel coordinates.
    max_view_angle_deg
        Zones seen more obliquely than this are left out (not measured in this view); all
        zones are left out when the pose is beyond the mesh's range.

    Returns
    -------
    tuple
        ``skin`` (H, W) bool: skin-coloured pixels of the zones seen in this view, and
        ``{region: (H, W) bool}`` with ``face`` (= ``skin``) plus those zones, each
        intersected with ``skin``.
    """
    shape = (int(lab.shape[1]), int(lab.shape[2]))
    inside, excluded, zones = rasterize(face.mesh[:, :2], shape)
    seed_np = np.zeros(shape, np.uint8)
    for poly in seed_polygons():
        pts = np.round(face.mesh[list(poly), :2] * 16.0).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(seed_np, [pts], 1, shift=4)
    dev = lab.device
    template = torch.from_numpy(inside & ~excluded).to(dev)
    seed = torch.from_numpy(seed_np.astype(bool) & ~excluded).to(dev)
    skin = template & _colour_model(lab, seed, 3.0)
    skin = _drop_islands(_clean(skin, max(1, round(face.iod_px / 120))), ISLAND_FRACTION)
    angles = face.view_angles()
    seen = [
        name
        for name in [str(z) for z in ZONES]
        if name in zones and face.in_range and angles[name] <= max_view_angle_deg
    ]
    # the face is its zones seen in this view: the strips next to the ears and zones seen
    # past the limit are left out of every number
    union = np.zeros(shape, bool)
    for name in seen:
        union |= zones[name]
    skin = skin & torch.from_numpy(union).to(dev)
    regions: dict[str, torch.Tensor] = {str(Region.FACE): skin}
    for name in seen:
        regions[name] = torch.from_numpy(zones[name]).to(dev) & skin
    return skin, regions


def skin_regions(lab: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Skin mask of a close-up or dermoscopy photo (region ``skin``).

    The seed is the whole image; pixels far from its robust colour (background, dark
    dermoscopy vignette, hair) are dropped with a generous threshold, so lesions stay in.
    """
    seed = lab[0] > 8.0
    skin = seed & _colour_model(lab, seed, 5.0)
    skin = _clean(skin, max(1, round(min(lab.shape[1:]) / 400)))
    if int(skin.sum()) == 0:
        skin = torch.ones_like(skin)
    return skin, {str(Region.SKIN): skin}
