"""Facial zones as polygons over the 468-point face mesh, head pose and per-zone visibility.

The mesh is FaceMesh's (MediaPipe's standard index convention: ``1`` the nose tip, ``152`` the
chin, ``33`` / ``263`` the outer eye corners of the patient's right / left eye, ``61`` / ``291``
the mouth corners). Its points are in image pixels with ``x`` to the image right, ``y`` down
and ``z`` (same scale) away from the camera.

Zones (DESIGN.md §3) are polygons whose corners are mesh landmarks, listed below; on a frontal
photo the patient's left is the image right. Where polygons overlap the earlier zone in
:data:`ZONE_POLYGONS` wins. Exclusions (eyes with their upper lids, brows, lip vermilion,
nostrils) are polygons too; hair, beard and glasses inside the mesh are removed afterwards by
skin colour (:mod:`analysis.face`).

Head pose: the mesh is aligned to a canonical frontal mesh (:func:`canonical_mesh`, the
Procrustes mean of FaceMesh on the 102 frontal faces of the London set, made symmetric) by a
least-squares similarity (Umeyama 1991, "Least-squares estimation of transformation parameters
between two point patterns", IEEE TPAMI 13:376). From the rotation ``R``:

- ``yaw``: positive when the patient's **left** side is turned towards the camera (the nose
  points to the image left), as in a ``left`` view; about +45 deg on a three-quarter left view;
- ``pitch``: positive with the chin raised;
- ``roll``: the tilt of the eye line in the image, positive when the image-right eye is lower.

Visibility: each zone's mean surface normal (a plane fitted to its landmarks on the canonical
mesh, pointing out of the face) is rotated by ``R``; the angle between it and the direction to
the camera is the zone's *view angle*. A zone seen at more than :data:`MAX_VIEW_ANGLE_DEG` is
not measured in that view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import cv2
import numpy as np
import numpy.typing as npt

from analysis.types import HeadPose, Region

__all__ = [
    "EXCLUSION_POLYGONS",
    "FACE_OVAL",
    "JAW",
    "JAW_EXTENSION",
    "LANDMARKS",
    "MAX_VIEW_ANGLE_DEG",
    "N_LANDMARKS",
    "ZONE_POLYGONS",
    "Alignment",
    "align_to_canonical",
    "canonical_mesh",
    "derive_canonical",
    "mirror_indices",
    "rasterize",
    "seed_polygons",
    "view_angles",
]

#: Number of points of the face mesh.
N_LANDMARKS = 468
#: A zone seen more obliquely than this (normal vs. direction to the camera) is not measured.
MAX_VIEW_ANGLE_DEG = 60.0

#: Named anatomical landmarks (MediaPipe indices); ``_right`` / ``_left`` are the patient's.
LANDMARKS: dict[str, int] = {
    "nose_tip": 1,
    "subnasale": 2,
    "nasion": 168,
    "chin": 152,
    "eye_outer_right": 33,
    "eye_inner_right": 133,
    "eye_inner_left": 362,
    "eye_outer_left": 263,
    "mouth_right": 61,
    "mouth_left": 291,
    "upper_lip": 0,
    "lower_lip": 17,
    "forehead_top": 10,
}

#: The silhouette of the mesh, clockwise from the top of the forehead.
# fmt: off
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
    148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
# fmt: on

#: The lower part of the silhouette (jaw line, through the chin 152).
JAW: tuple[int, ...] = (58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288)
#: FaceMesh places its jaw line above the visible one: on the London set its chin point 152
#: lies a median 8.7 % of the inter-pupillary distance above the annotated menton (5.7 % more
#: than its eye and mouth corners). The jaw points are moved away from the nose tip by this
#: fraction of their distance to it so the chin zone reaches the jaw line
#: (``benchmarks/landmarks.py``).
JAW_EXTENSION = 0.06

#: Zone polygons (mesh indices, in order around the zone); earlier zones win overlaps.
# fmt: off
ZONE_POLYGONS: dict[Region, tuple[int, ...]] = {
    # bridge and sides of the nose down to the alae and the subnasale
    Region.NOSE: (
        168, 193, 245, 188, 174, 217, 198, 209, 129, 64, 98, 97, 2, 326, 327, 294, 358, 429, 420,
        437, 399, 412, 465, 417,
    ),
    # between the heads of the brows, from the brows' upper edge down to the nasion
    Region.GLABELLA: (107, 9, 336, 285, 417, 168, 193, 55),
    # upper-lip skin (subnasale to vermilion, between the nasolabial zones) and the skin
    # below the lower lip down to the mentolabial sulcus
    Region.PERIORAL: (
        2, 97, 98, 165, 40, 185, 61, 43, 106, 182, 83, 18, 313, 406, 335, 273, 291, 409, 270, 391,
        327, 326,
    ),
    # from the mentolabial sulcus down to the jaw line, between the mouth corners' verticals
    Region.CHIN: (
        18, 83, 182, 106, 43, 202, 211, 170, 149, 176, 148, 152, 377, 400, 378, 395, 431, 422,
        273, 335, 406, 313,
    ),
    # a band about 1 cm either side of the fold, from the ala to beside the mouth corner
    Region.NASOLABIAL_RIGHT: (129, 64, 98, 165, 40, 185, 61, 43, 202, 212, 216, 206, 36, 142),
    Region.NASOLABIAL_LEFT: (358, 294, 327, 391, 270, 409, 291, 273, 422, 432, 436, 426, 266, 371),
    # lower lid to the infra-orbital rim, and the lateral canthal (crow's-feet) area out to
    # the temple
    Region.PERIORBITAL_RIGHT: (
        133, 155, 154, 153, 145, 144, 163, 7, 33, 130, 113, 124, 46, 70, 71, 139, 34, 227, 116,
        117, 118, 119, 120, 121, 128, 245,
    ),
    Region.PERIORBITAL_LEFT: (
        362, 382, 381, 380, 374, 373, 390, 249, 263, 359, 342, 353, 276, 300, 301, 368, 264, 447,
        345, 346, 347, 348, 349, 350, 357, 465,
    ),
    # from the brows' upper edge to the top of the mesh
    Region.FOREHEAD: (
        10, 109, 67, 103, 54, 21, 71, 70, 63, 105, 66, 107, 9, 336, 296, 334, 293, 300, 301, 251,
        284, 332, 297, 338,
    ),
    # below the periorbital zone, lateral to the nose and the nasolabial band, down to the
    # jaw line beside the chin; laterally up to ~1 cm inside the silhouette (the strip next to
    # the ears is seen past 60 deg even on a frontal photo: it stays in ``face`` only)
    Region.CHEEK_RIGHT: (
        117, 118, 119, 120, 121, 128, 245, 188, 174, 217, 198, 209, 129, 142, 36, 206, 216,
        212, 202, 211, 170, 149, 150, 136, 135, 138, 213, 147, 123, 116,
    ),
    Region.CHEEK_LEFT: (
        346, 347, 348, 349, 350, 357, 465, 412, 399, 437, 420, 429, 358, 371, 266, 426, 436,
        432, 422, 431, 395, 378, 379, 365, 364, 367, 433, 376, 352, 345,
    ),
}
# fmt: on

#: Parts of the face that are not skin, as mesh polygons.
# fmt: off
EXCLUSION_POLYGONS: dict[str, tuple[int, ...]] = {
    # the eye opening and the upper lid up to the brow
    "eye_right": (
        46, 53, 52, 65, 55, 193, 245, 133, 155, 154, 153, 145, 144, 163, 7, 33, 130, 113, 124,
    ),
    "eye_left": (
        276, 283, 282, 295, 285, 417, 465, 362, 382, 381, 380, 374, 373, 390, 249, 263, 359, 342,
        353,
    ),
    "brow_right": (70, 63, 105, 66, 107, 55, 65, 52, 53, 46),
    "brow_left": (300, 293, 334, 296, 336, 285, 295, 282, 283, 276),
    # outer contour of the vermilion (and the mouth opening inside it)
    "lips": (
        61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
    ),
    "nostril_right": (218, 79, 239, 238, 20, 60, 75, 59, 166),
    "nostril_left": (438, 309, 459, 458, 250, 290, 305, 289, 392),
}
# fmt: on


#: Skin-colour seed (upper cheeks and nose: rarely covered by hair, beard or glasses), the
#: patient's right side; the left is its mirror image (:func:`seed_polygons`).
# fmt: off
_SEED_RIGHT: tuple[int, ...] = (
    116, 117, 118, 119, 120, 121, 128, 245, 193, 168, 6, 197, 195, 5, 4, 1, 2, 97, 98, 64, 129,
    142, 36, 205, 187, 123,
)
# fmt: on


def seed_polygons() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The skin-colour seed polygons (right and left upper cheek with half the nose)."""
    m = mirror_indices()
    return _SEED_RIGHT, tuple(int(m[i]) for i in _SEED_RIGHT)


# ----------------------------------------------------------------------------- canonical


@cache
def _canonical_data() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    ref = resources.files("analysis").joinpath("data", "face_canonical.npz")
    with ref.open("rb") as fh, np.load(fh) as z:
        mesh = np.asarray(z["mesh"], dtype=np.float64)
        mirror = np.asarray(z["mirror"], dtype=np.int64)
    if mesh.shape != (N_LANDMARKS, 3) or mirror.shape != (N_LANDMARKS,):
        raise RuntimeError("analysis/data/face_canonical.npz is damaged")
    return mesh, mirror


def canonical_mesh() -> npt.NDArray[np.float64]:
    """The canonical frontal mesh ``(468, 3)``: centred, inter-pupillary distance ~ 1.

    Image axes (``x`` right, ``y`` down, ``z`` away from the camera); the patient's left is
    at ``x > 0``. Derived with :func:`derive_canonical` (``benchmarks/landmarks.py
    --write-canonical``).
    """
    return _canonical_data()[0].copy()


def mirror_indices() -> npt.NDArray[np.int64]:
    """For each landmark, the index of its mirror image across the face's midline."""
    return _canonical_data()[1].copy()


@dataclass(frozen=True, slots=True)
class Alignment:
    """``mesh ~ scale * canonical @ rotation.T + translation`` (least squares)."""

    rotation: npt.NDArray[np.float64]
    scale: float
    translation: npt.NDArray[np.float64]
    rms: float

    @property
    def pose(self) -> HeadPose:
        """Yaw, pitch and roll in degrees (conventions in the module docstring)."""
        r = self.rotation
        fwd = r @ np.array([0.0, 0.0, -1.0])  # the face's forward direction, in the image
        right = r @ np.array([1.0, 0.0, 0.0])  # towards the patient's left
        yaw = math.degrees(math.atan2(-fwd[0], -fwd[2]))
        pitch = math.degrees(math.atan2(-fwd[1], math.hypot(fwd[0], fwd[2])))
        roll = math.degrees(math.atan2(right[1], right[0]))
        return HeadPose(yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll)


def _umeyama(
    src: npt.NDArray[np.float64], dst: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], float, npt.NDArray[np.float64]]:
    """Similarity ``dst ~ s * src @ R.T + t`` by least squares, a proper rotation (Umeyama)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2, 2] = -1.0
    rot = u @ d @ vt
    var = float((a**2).sum() / len(src))
    s = float(np.trace(np.diag(sig) @ d) / max(var, 1e-12))
    t = mu_d - s * rot @ mu_s
    return rot, s, t


def align_to_canonical(
    mesh: npt.NDArray[np.floating], canonical: npt.NDArray[np.floating] | None = None
) -> Alignment:
    """The similarity mapping the canonical mesh onto *mesh* (``(468, 3)`` image pixels)."""
    dst = np.asarray(mesh, dtype=np.float64)
    src = canonical_mesh() if canonical is None else np.asarray(canonical, dtype=np.float64)
    if dst.shape != (N_LANDMARKS, 3) or src.shape != (N_LANDMARKS, 3):
        raise ValueError(f"mesh must be ({N_LANDMARKS}, 3), got {dst.shape}")
    rot, s, t = _umeyama(src, dst)
    resid = dst - (s * src @ rot.T + t)
    rms = float(np.sqrt((resid**2).sum(1).mean()))
    return Alignment(rotation=rot, scale=s, translation=t, rms=rms)


def derive_canonical(
    meshes: list[npt.NDArray[np.floating]], mirror: npt.NDArray[np.int64], iterations: int = 10
) -> npt.NDArray[np.float64]:
    """Generalised Procrustes mean of frontal *meshes*, symmetrised with *mirror*.

    The result is centred and symmetric about ``x = 0`` (so yaw and roll are zero by
    construction), turned about ``x`` so that the meshes' mean pitch is zero, and scaled to an
    inter-ocular distance (eye-corner midpoints) of 1.
    """
    if not meshes:
        raise ValueError("meshes must not be empty")
    ms = [np.asarray(m, dtype=np.float64) for m in meshes]
    mean: npt.NDArray[np.float64] = ms[0] - ms[0].mean(0)
    for _ in range(iterations):
        aligned = []
        for m in ms:
            rot, s, t = _umeyama(m, mean)
            aligned.append(s * m @ rot.T + t)
        new: npt.NDArray[np.float64] = np.mean(aligned, axis=0)
        new = (new + new[mirror] * np.array([-1.0, 1.0, 1.0])) / 2.0  # symmetric
        new -= new.mean(0)
        le = (new[LANDMARKS["eye_outer_left"]] + new[LANDMARKS["eye_inner_left"]]) / 2
        re = (new[LANDMARKS["eye_outer_right"]] + new[LANDMARKS["eye_inner_right"]]) / 2
        new /= float(np.linalg.norm(le - re))
        mean = new
    for _ in range(3):  # the pitch is not fixed by symmetry: zero it on average
        pitch = float(np.mean([_pitch_of(_umeyama(mean, m)[0]) for m in ms]))
        c, s_ = math.cos(math.radians(pitch)), math.sin(math.radians(pitch))
        rx = np.array([[1.0, 0.0, 0.0], [0.0, c, s_], [0.0, -s_, c]])
        mean = np.asarray(mean @ rx.T, dtype=np.float64)
    return mean


def _pitch_of(rotation: npt.NDArray[np.float64]) -> float:
    fwd = rotation @ np.array([0.0, 0.0, -1.0])
    return math.degrees(math.atan2(-fwd[1], math.hypot(fwd[0], fwd[2])))


# ----------------------------------------------------------------------------- visibility


def _vertex_normals(mesh: npt.NDArray[np.float64], k: int = 10) -> npt.NDArray[np.float64]:
    """Outward unit normal at each landmark: a plane fitted to its *k* nearest landmarks."""
    d2 = ((mesh[:, None, :] - mesh[None, :, :]) ** 2).sum(-1)
    near = np.argsort(d2, axis=1)[:, :k]
    out = np.empty_like(mesh)
    for i in range(len(mesh)):
        pts = mesh[near[i]]
        _, _, vt = np.linalg.svd(pts - pts.mean(0), full_matrices=False)
        out[i] = vt[2]
    # out of the face, i.e. away from the head's centre (the landmarks' mean)
    flip = ((mesh - mesh.mean(0)) * out).sum(1) < 0
    out[flip] *= -1.0
    return out


@cache
def _zone_normals() -> dict[str, tuple[float, float, float]]:
    """Each zone's mean outward normal on the canonical mesh (landmarks on and inside it)."""
    can = canonical_mesh()
    normals = _vertex_normals(can)
    xy = can[:, :2].astype(np.float32)
    out: dict[str, tuple[float, float, float]] = {}
    for region, poly in ZONE_POLYGONS.items():
        contour = xy[list(poly)].reshape(-1, 1, 2)
        inside = [
            i
            for i in range(N_LANDMARKS)
            if cv2.pointPolygonTest(contour, (float(xy[i, 0]), float(xy[i, 1])), False) >= 0
        ]
        n = normals[sorted(set(poly) | set(inside))].sum(0)
        n /= float(np.linalg.norm(n))
        out[str(region)] = (float(n[0]), float(n[1]), float(n[2]))
    return out


def view_angles(rotation: npt.NDArray[np.floating]) -> dict[str, float]:
    """Per zone, the angle (deg) between its surface normal and the direction to the camera."""
    r = np.asarray(rotation, dtype=np.float64)
    out: dict[str, float] = {}
    for name, n in _zone_normals().items():
        seen = r @ np.asarray(n)
        out[name] = math.degrees(math.acos(max(-1.0, min(1.0, -float(seen[2])))))
    return out


# ----------------------------------------------------------------------------- raster


def _fill(mask: npt.NDArray[np.uint8], xy: npt.NDArray[np.float64], poly: tuple[int, ...]) -> None:
    pts = np.round(xy[list(poly)] * 16.0).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=4)


def rasterize(
    xy: npt.NDArray[np.floating], shape: tuple[int, int]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], dict[str, npt.NDArray[np.bool_]]]:
    """Face, exclusion and zone masks of a mesh on an image grid.

    Parameters
    ----------
    xy
        ``(468, 2)`` landmark positions (pixel centres at integer coordinates); the jaw
        points are extended by :data:`JAW_EXTENSION`.
    shape
        ``(h, w)`` of the grid.

    Returns
    -------
    tuple
        ``face`` (inside the mesh silhouette), ``excluded`` (eyes with lids, brows, lips,
        nostrils) and ``{zone: mask}``; the zones are disjoint and inside ``face``.
    """
    pts = np.array(xy, dtype=np.float64)[:, :2]
    if pts.shape != (N_LANDMARKS, 2):
        raise ValueError(f"xy must be ({N_LANDMARKS}, 2), got {pts.shape}")
    jaw = list(JAW)
    pts[jaw] += JAW_EXTENSION * (pts[jaw] - pts[LANDMARKS["nose_tip"]])
    h, w = shape
    face = np.zeros((h, w), np.uint8)
    _fill(face, pts, FACE_OVAL)
    excluded = np.zeros((h, w), np.uint8)
    for poly in EXCLUSION_POLYGONS.values():
        _fill(excluded, pts, poly)
    face_b = face.astype(bool)
    taken = np.zeros((h, w), bool)
    zones: dict[str, npt.NDArray[np.bool_]] = {}
    for region, poly in ZONE_POLYGONS.items():
        m = np.zeros((h, w), np.uint8)
        _fill(m, pts, poly)
        zb = m.astype(bool) & face_b & ~taken
        taken |= zb
        zones[str(region)] = zb
    return face_b, excluded.astype(bool), zones
