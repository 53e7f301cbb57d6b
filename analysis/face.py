"""Face detection, the zone template and the skin mask.

Detection uses OpenCV's bundled Haar cascades (``cv2.data.haarcascades``: frontal face,
profile face, eyes), so nothing is downloaded and no learned weights are shipped by us.
Zones are a *geometric template* placed on the face (DESIGN.md §3): its coordinates are
in units of the inter-ocular distance ``d`` (eye centre to eye centre) with the origin at the
midpoint between the eyes, ``u`` towards image right and ``v`` downwards, rotated by the roll
angle of the eye line. The template follows adult facial proportions (eyes to mouth ~ 1 d, eyes
to chin ~ 1.7 d, face half-width ~ 1 d; Farkas, *Anthropometry of the Head and Face*, 1994)
and was checked on scikit-image's ``astronaut`` photo (see ``docs/methods/pipeline.md``).

Left and right are the **patient's** left and right: on a frontal photo the patient's left
is on the image right, so ``periorbital_left`` and ``cheek_left`` lie at ``u > 0``.

The skin mask is the face template (or, on a close-up, the whole image) minus template
exclusions (eyes, brows, lips, nostrils) and minus pixels whose CIELAB colour is far from the
robust (median / MAD) skin colour of a seed region, so hair, background, eyes and brows drop
out while bright specular highlights (shine) and darker spots stay in.

Scale: when both eyes are found, the pixel spacing is estimated from the mean adult
inter-pupillary distance, 63 mm (Dodgson, "Variation and extrema of human interpupillary
distance", Proc. SPIE 5291, 2004), and flagged ``estimated``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import torch

from analysis.types import ZONES, Region, View

__all__ = [
    "ISLAND_FRACTION",
    "MEAN_IPD_MM",
    "FaceGeometry",
    "detect_face",
    "estimate_spacing_mm",
    "face_regions",
    "skin_regions",
]

logger = logging.getLogger(__name__)

#: Mean adult inter-pupillary distance in mm (Dodgson 2004).
MEAN_IPD_MM = 63.0
#: Eye centres inside a Haar frontal-face box (fractions of its width/height), used when the
#: eye cascade finds no plausible pair; measured on ``astronaut`` (0.27/0.75, 0.37-0.40).
_BOX_EYE_U = (0.27, 0.73)
_BOX_EYE_V = 0.38
_DETECT_LONG_SIDE = 640
_EYE_FACE_WIDTH = 256


@dataclass(frozen=True, slots=True)
class FaceGeometry:
    """Where the face is, in some image's pixel coordinates.

    Attributes
    ----------
    box
        ``(x, y, w, h)`` of the detected face.
    eyes
        ``((x, y), (x, y))`` eye centres, image-left eye first; estimated from the box when
        ``eyes_found`` is false.
    eyes_found
        Whether the eye cascade found both eyes (only then is the scale estimate reported).
    profile
        ``None`` for a frontal face, else ``"left"`` / ``"right"``: the patient's side seen.
    nose_left
        For a profile: whether the nose points to the image left.
    """

    box: tuple[float, float, float, float]
    eyes: tuple[tuple[float, float], tuple[float, float]]
    eyes_found: bool
    profile: str | None = None
    nose_left: bool = True

    @property
    def iod_px(self) -> float:
        """Inter-ocular distance in pixels."""
        (x0, y0), (x1, y1) = self.eyes
        return math.hypot(x1 - x0, y1 - y0)

    @property
    def eye_mid(self) -> tuple[float, float]:
        """Midpoint between the eyes."""
        (x0, y0), (x1, y1) = self.eyes
        return ((x0 + x1) / 2.0, (y0 + y1) / 2.0)

    @property
    def roll_rad(self) -> float:
        """Roll of the eye line (positive = image-right eye lower)."""
        (x0, y0), (x1, y1) = self.eyes
        return math.atan2(y1 - y0, x1 - x0)

    def transformed(self, x0: float, y0: float, scale: float) -> FaceGeometry:
        """The same face after cropping at ``(x0, y0)`` and resizing by *scale*."""
        bx, by, bw, bh = self.box
        (ex0, ey0), (ex1, ey1) = self.eyes
        return FaceGeometry(
            box=((bx - x0) * scale, (by - y0) * scale, bw * scale, bh * scale),
            eyes=(
                ((ex0 - x0) * scale, (ey0 - y0) * scale),
                ((ex1 - x0) * scale, (ey1 - y0) * scale),
            ),
            eyes_found=self.eyes_found,
            profile=self.profile,
            nose_left=self.nose_left,
        )

    def extent(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``: the template's bounding box with a margin (not clipped)."""
        if self.profile is not None:
            bx, by, bw, bh = self.box
            return (bx - 0.15 * bw, by - 0.25 * bh, bx + 1.15 * bw, by + 1.2 * bh)
        cx, cy = self.eye_mid
        d = self.iod_px
        return (cx - 1.3 * d, cy - 1.3 * d, cx + 1.3 * d, cy + 2.0 * d)


@cache
def _cascade(name: str) -> cv2.CascadeClassifier:
    path = str(cv2.data.haarcascades) + name  # type: ignore[attr-defined]
    c = cv2.CascadeClassifier(path)
    if c.empty():  # pragma: no cover - broken OpenCV install
        raise RuntimeError(f"cannot load OpenCV cascade {name}")
    return c


def _to_gray_u8(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    rgb: npt.NDArray[Any] = image
    if rgb.dtype == np.uint16:
        rgb = (rgb >> 8).astype(np.uint8)
    elif rgb.dtype != np.uint8:
        rgb = (np.clip(np.asarray(rgb, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY), np.uint8)


def _detect(
    cascade: str, gray: npt.NDArray[Any], min_side: int
) -> tuple[int, int, int, int] | None:
    """The most confident detection of *cascade* in *gray*, or None.

    Confidence is the number of merged neighbour windows (``detectMultiScale2``); the
    largest box breaks ties. Choosing the *largest* box instead picked a weak false
    positive (6 neighbours, on the space suit) over the face (46 neighbours) on the
    astronaut upscaled 6x.
    """
    boxes, neighbours = _cascade(cascade).detectMultiScale2(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
    )
    return _most_confident(boxes, neighbours)


def _most_confident(boxes: Any, neighbours: Any) -> tuple[int, int, int, int] | None:
    if len(boxes) == 0:
        return None
    scored = [
        (int(n), int(b[2]) * int(b[3]), tuple(int(v) for v in b))
        for b, n in zip(boxes, neighbours, strict=True)
    ]
    best = max(scored, key=lambda t: (t[0], t[1]))[2]
    return (best[0], best[1], best[2], best[3])


def _find_eyes(
    gray: npt.NDArray[np.uint8], box: tuple[float, float, float, float]
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Eye centres inside a frontal face box (source pixels), or None without a plausible pair."""
    bx, by, bw, bh = box
    x0, y0 = max(0, int(bx)), max(0, int(by + 0.12 * bh))
    x1, y1 = min(gray.shape[1], int(bx + bw)), min(gray.shape[0], int(by + 0.62 * bh))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    f = _EYE_FACE_WIDTH / float(x1 - x0)
    roi: npt.NDArray[Any] = cv2.resize(
        gray[y0:y1, x0:x1],
        None,
        fx=f,
        fy=f,
        interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR,
    )
    side = _EYE_FACE_WIDTH // 10
    found = _cascade("haarcascade_eye.xml").detectMultiScale(
        roi, scaleFactor=1.05, minNeighbors=3, minSize=(side, side), maxSize=(4 * side, 4 * side)
    )
    cands = [
        ((ex + ew / 2.0) / f + x0, (ey + eh / 2.0) / f + y0, ew / f) for ex, ey, ew, eh in found
    ]
    mid = bx + bw / 2.0
    left = [c for c in cands if c[0] < mid]
    right = [c for c in cands if c[0] >= mid]
    best: tuple[float, tuple[tuple[float, float], tuple[float, float]]] | None = None
    for lx, ly, lw in left:
        for rx, ry, rw in right:
            iod = math.hypot(rx - lx, ry - ly)
            if not (0.3 * bw <= iod <= 0.65 * bw) or abs(ry - ly) > 0.25 * iod:
                continue
            # prefer pairs near the expected eye line, of similar size
            cost = abs((ly + ry) / 2.0 - (by + _BOX_EYE_V * bh)) / bh + abs(lw - rw) / bw
            if best is None or cost < best[0]:
                best = (cost, ((lx, ly), (rx, ry)))
    return None if best is None else best[1]


def detect_face(
    image: npt.NDArray[np.generic], view: View | str = View.FRONTAL
) -> FaceGeometry | None:
    """Find the (largest) face in an ``(H, W, 3)`` RGB photo, in source pixel coordinates.

    Frontal views use the frontal cascade; left/right views try the profile cascade (on the
    image and its mirror) and fall back to the frontal one (three-quarter views).

    Returns
    -------
    FaceGeometry or None
        None when no face is found.
    """
    view = View(view)
    gray_full = _to_gray_u8(image)
    h, w = gray_full.shape
    f = min(1.0, _DETECT_LONG_SIDE / max(h, w))
    gray: npt.NDArray[np.uint8] = (
        cv2.resize(gray_full, None, fx=f, fy=f, interpolation=cv2.INTER_AREA).astype(np.uint8)
        if f < 1
        else gray_full
    )
    gray = np.asarray(cv2.equalizeHist(gray), np.uint8)
    min_side = max(24, int(0.08 * min(gray.shape)))
    if view in (View.LEFT, View.RIGHT):
        prof = "haarcascade_profileface.xml"
        box = _detect(prof, gray, min_side)
        mirrored = False
        if box is None:
            box = _detect(prof, np.ascontiguousarray(gray[:, ::-1]), min_side)
            if box is not None:
                bx, by, bw, bh = box
                box = (gray.shape[1] - bx - bw, by, bw, bh)
                mirrored = True
        if box is not None:
            bx, by, bw, bh = (v / f for v in box)
            # The cascade is trained on faces whose nose points to image left (mirror: right).
            nose_left = not mirrored
            ex = bx + (0.35 if nose_left else 0.65) * bw
            ey = by + 0.40 * bh
            eyes = ((ex - 0.12 * bw, ey), (ex + 0.12 * bw, ey))
            return FaceGeometry((bx, by, bw, bh), eyes, False, str(view), nose_left)
    box = _detect("haarcascade_frontalface_default.xml", gray, min_side)
    if box is None:
        return None
    fb = (box[0] / f, box[1] / f, box[2] / f, box[3] / f)
    found = _find_eyes(gray_full, fb)
    if found is None:
        bx, by, bw, bh = fb
        eyes = (
            (bx + _BOX_EYE_U[0] * bw, by + _BOX_EYE_V * bh),
            (bx + _BOX_EYE_U[1] * bw, by + _BOX_EYE_V * bh),
        )
        return FaceGeometry(fb, eyes, False)
    return FaceGeometry(fb, found, True)


def estimate_spacing_mm(face: FaceGeometry | None) -> float | None:
    """mm per pixel from the inter-pupillary distance, or None unless both eyes were found."""
    if face is None or not face.eyes_found or face.iod_px <= 0:
        return None
    return MEAN_IPD_MM / face.iod_px


# ----------------------------------------------------------------------------- template

_Pred = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _ellipse(cu: float, cv: float, au: float, av: float) -> _Pred:
    return lambda u, v: ((u - cu) / au) ** 2 + ((v - cv) / av) ** 2 <= 1.0


def _box(u0: float, u1: float, v0: float, v1: float) -> _Pred:
    return lambda u, v: (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


def _nose(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    half = 0.14 + (0.27 - 0.14) * ((v + 0.05) / 0.77).clamp(0.0, 1.0)
    return (v >= -0.05) & (v <= 0.72) & (u.abs() <= half)


# Frontal template, in units of the inter-ocular distance d (see module docstring).
_FACE = _ellipse(0.0, 0.35, 1.0, 1.4)
_EXCLUDE: tuple[_Pred, ...] = (
    _ellipse(-0.5, 0.0, 0.27, 0.14),  # eyes
    _ellipse(0.5, 0.0, 0.27, 0.14),
    lambda u, v: (u.abs() >= 0.14) & (u.abs() <= 0.95) & (v >= -0.4) & (v <= -0.15),  # brows
    _ellipse(0.0, 0.98, 0.36, 0.14),  # lips
    _ellipse(-0.12, 0.68, 0.075, 0.05),  # nostrils
    _ellipse(0.12, 0.68, 0.075, 0.05),
)
_PERIORAL = _ellipse(0.0, 1.0, 0.58, 0.33)
_FRONTAL_ZONES: tuple[tuple[Region, _Pred], ...] = (  # earlier zones win overlaps
    (Region.NOSE, _nose),
    (Region.GLABELLA, _box(-0.2, 0.2, -0.4, -0.05)),
    (Region.PERIORAL, _PERIORAL),
    (Region.CHIN, _box(-0.6, 0.6, 1.2, 1.8)),
    (Region.PERIORBITAL_RIGHT, _box(-1.0, -0.2, -0.15, 0.33)),  # patient's right = image left
    (Region.PERIORBITAL_LEFT, _box(0.2, 1.0, -0.15, 0.33)),
    (Region.FOREHEAD, _box(-1.0, 1.0, -1.1, -0.4)),
    (Region.CHEEK_RIGHT, _box(-1.0, 0.0, 0.33, 1.25)),
    (Region.CHEEK_LEFT, _box(0.0, 1.0, 0.33, 1.25)),
)
# Lateral template, in units of the face box with s = 0 at the nose side and t = 0 at the top.
_LATERAL_ZONES: tuple[tuple[str, _Pred], ...] = (
    ("nose", _box(-0.1, 0.22, 0.3, 0.68)),
    ("perioral", _box(-0.05, 0.35, 0.68, 0.86)),
    ("chin", _box(0.0, 0.4, 0.86, 1.05)),
    ("periorbital", _box(0.22, 0.55, 0.28, 0.46)),
    ("forehead", _box(0.05, 0.75, -0.1, 0.27)),
    ("cheek", _box(0.22, 0.8, 0.46, 0.86)),
)


def _grid(
    shape: tuple[int, int], step: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates ``(ys (h, 1), xs (1, w))`` of a grid subsampled by *step*."""
    h, w = shape
    ys = torch.arange(0, h, step, device=device, dtype=torch.float32) + (step - 1) / 2.0
    xs = torch.arange(0, w, step, device=device, dtype=torch.float32) + (step - 1) / 2.0
    return ys.view(-1, 1), xs.view(1, -1)


def _up(mask: torch.Tensor, shape: tuple[int, int], step: int) -> torch.Tensor:
    """Nearest-neighbour upsampling of a coarse-grid mask back to *shape*."""
    if step == 1:
        return mask
    big = mask.repeat_interleave(step, 0).repeat_interleave(step, 1)
    return big[: shape[0], : shape[1]].contiguous()


def _step(scale_px: float) -> int:
    # the template is smooth: rasterise it with >= 100 samples per inter-ocular distance
    return max(1, int(scale_px // 100))


def _frontal_template(
    face: FaceGeometry, shape: tuple[int, int], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    cx, cy = face.eye_mid
    d = max(face.iod_px, 1.0)
    step = _step(d)
    c, s = math.cos(face.roll_rad), math.sin(face.roll_rad)
    ys, xs = _grid(shape, step, device)
    ys, xs = ys - cy, xs - cx
    u = (xs * c + ys * s) / d
    v = (-xs * s + ys * c) / d
    inside = _FACE(u, v)
    excluded = torch.zeros_like(inside)
    for p in _EXCLUDE:
        excluded |= p(u, v)
    taken = torch.zeros_like(inside)
    zones: dict[str, torch.Tensor] = {}
    for region, pred in _FRONTAL_ZONES:
        m = pred(u, v) & inside & ~taken
        taken |= m
        zones[str(region)] = _up(m, shape, step)
    # cheeks and nose: rarely covered by hair, unlike the forehead
    seed = (
        inside & ~excluded & (_box(-0.9, 0.9, 0.3, 0.6)(u, v) | _box(-0.12, 0.12, 0.1, 0.5)(u, v))
    )
    return _up(inside & ~excluded, shape, step), _up(seed, shape, step), zones


def _lateral_template(
    face: FaceGeometry, shape: tuple[int, int], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    bx, by, bw, bh = face.box
    side = face.profile or "left"
    step = _step(0.45 * bw)
    ys, xs = _grid(shape, step, device)
    ys, xs = (ys - by) / bh, (xs - bx) / bw
    # s runs from the nose side (0) to the ear side (1)
    sx = xs if face.nose_left else 1.0 - xs
    inside = _ellipse(0.45, 0.45, 0.6, 0.65)(sx, ys)
    taken = torch.zeros_like(inside)
    zones: dict[str, torch.Tensor] = {}
    for name, pred in _LATERAL_ZONES:
        m = pred(sx, ys) & inside & ~taken
        taken |= m
        region = f"{name}_{side}" if name in ("periorbital", "cheek") else name
        zones[region] = _up(m, shape, step)
    seed = inside & _box(0.3, 0.7, 0.5, 0.8)(sx, ys)
    eye = _ellipse(0.35, 0.38, 0.1, 0.06)(sx, ys)
    return _up(inside & ~eye, shape, step), _up(seed, shape, step), zones


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
    lab: torch.Tensor, face: FaceGeometry
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Skin mask and region masks for a face photo, on *lab*'s device and grid.

    Parameters
    ----------
    lab
        ``(3, H, W)`` float CIELAB at the working resolution.
    face
        The face in the same pixel coordinates.

    Returns
    -------
    tuple
        ``skin`` (H, W) bool and ``{region: (H, W) bool}`` with ``face`` plus the zones,
        each intersected with ``skin``.
    """
    shape = (int(lab.shape[1]), int(lab.shape[2]))
    if face.profile is None:
        template, seed, zones = _frontal_template(face, shape, lab.device)
        scale = face.iod_px
    else:
        template, seed, zones = _lateral_template(face, shape, lab.device)
        scale = 0.45 * face.box[2]
    skin = template & _colour_model(lab, seed, 3.0)
    skin = _drop_islands(_clean(skin, max(1, round(scale / 120))), ISLAND_FRACTION)
    regions: dict[str, torch.Tensor] = {str(Region.FACE): skin}
    for name in [str(z) for z in ZONES]:
        if name in zones:
            regions[name] = zones[name] & skin
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
