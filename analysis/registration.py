"""Register an earlier photo of the same view to the current one, for before/after views.

Method (:func:`register`):

1. Both photos are converted to grey (sRGB luma) and downscaled so the long side is at most
   ``max_side`` (default 512) px; all estimation happens there and the transform is scaled
   back to full resolution.
2. **Initial estimate**, first that works of: the **eyes** (when :func:`analysis.face.detect_face`
   finds both eyes on both photos, the similarity that maps one eye pair onto the other),
   **ORB features** (up to 2000 per photo, Hamming matching with Lowe's ratio test 0.75, then a
   RANSAC similarity, ``cv2.estimateAffinePartial2D``, needing >= 12 inliers), else identity.
3. **Refinement** by ECC (Evangelidis & Psarakis, *IEEE TPAMI* 30(10), 2008;
   ``cv2.findTransformECC``) with ``MOTION_AFFINE`` (default) or ``MOTION_EUCLIDEAN``, on a
   2-level pyramid of the smoothed grey images. ECC maximises a zero-mean normalised
   correlation, so it is insensitive to a global brightness or contrast change.
4. The earlier photo is warped into the current one's frame (bilinear), and the result is
   judged **fair** or not (:class:`FairnessLimits`): the residual misalignment (normalised
   correlation of the aligned grey images < 0.6), a scale change > 10 %, an in-plane rotation
   > 15 deg, an affine anisotropy > 6 % (the face turned or tilted: an out-of-plane pose change
   a flat transform cannot undo), a mean luminance difference > 15 % over the overlap (lighting
   or exposure), an overlap < 70 % of the current frame.

The transform ``matrix`` maps **earlier** pixel coordinates to **current** ones
(``cv2.warpAffine(earlier, matrix, (w, h))`` gives ``warped``). Maps of the earlier result
are brought into the current frame with :func:`warp_to_current`, and
:func:`difference_map` gives the per-pixel and per-zone difference (current minus earlier).
Accuracy on the astronaut photo: see ``docs/methods/progress.md`` and
``tests/unit/analysis/test_registration.py``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from analysis.face import detect_face
from analysis.types import View, ZoneMask

__all__ = [
    "DifferenceMap",
    "FairnessLimits",
    "Registration",
    "decompose",
    "difference_map",
    "register",
    "warp_to_current",
]

logger = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float64]
#: OpenCV's stubs do not admit ``None`` masks with a filter size; keep the ``Any`` here.
_find_ecc: Any = cv2.findTransformECC
_estimate_similarity: Any = cv2.estimateAffinePartial2D


@dataclass(frozen=True, slots=True)
class FairnessLimits:
    """When a before/after pair is too different for a fair comparison.

    Attributes
    ----------
    min_correlation
        Normalised correlation of the aligned grey images (overlap only) below which the
        residual misalignment is too large (pose, expression, different framing).
    max_scale_change_pct
        Largest allowed change of the subject's size in the frame (distance to camera).
    max_rotation_deg
        Largest allowed in-plane rotation (head roll).
    max_anisotropy_pct
        Largest allowed affine anisotropy (ratio of singular values - 1): a turned or tilted
        face (yaw / pitch) shows up as a squeeze along one axis.
    max_luminance_diff_pct
        Largest allowed difference of mean grey level over the overlap (lighting, exposure).
    min_overlap
        Smallest fraction of the current frame the warped earlier photo must cover.
    """

    min_correlation: float = 0.6
    max_scale_change_pct: float = 10.0
    max_rotation_deg: float = 15.0
    max_anisotropy_pct: float = 6.0
    max_luminance_diff_pct: float = 15.0
    min_overlap: float = 0.7

    def __post_init__(self) -> None:
        for name in ("max_scale_change_pct", "max_rotation_deg", "max_anisotropy_pct"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.max_luminance_diff_pct <= 0:
            raise ValueError("max_luminance_diff_pct must be positive")
        if not 0 <= self.min_correlation <= 1:
            raise ValueError(f"min_correlation must be in [0, 1], got {self.min_correlation!r}")
        if not 0 <= self.min_overlap <= 1:
            raise ValueError(f"min_overlap must be in [0, 1], got {self.min_overlap!r}")


@dataclass(frozen=True, slots=True, eq=False)
class Registration:
    """An earlier photo aligned to the current one.

    Attributes
    ----------
    matrix
        ``(2, 3)`` float64 affine transform, earlier pixel coordinates -> current ones.
    warped
        The earlier photo in the current frame (same shape and dtype as the current photo;
        zeros where it does not reach).
    valid
        ``(H, W)`` bool: where ``warped`` has data.
    method
        ``eyes+ecc``, ``orb+ecc``, ``ecc`` (from identity), or without ``+ecc`` when the
        refinement did not converge.
    rotation_deg, scale, anisotropy_pct, shift
        The transform decomposed (:func:`decompose`): rotation (counter-clockwise on screen
        positive), isotropic scale, anisotropy, and translation ``(tx, ty)`` in px.
    correlation
        Normalised correlation of the aligned grey images over the overlap.
    luminance_diff_pct
        ``100 * (mean grey earlier - mean grey current) / mean grey current`` over the overlap.
    overlap
        Fraction of the current frame covered.
    fair
        Whether the pair can be compared (no reason below).
    reasons
        Why not: codes ``alignment``, ``scale``, ``rotation``, ``pose``, ``lighting``,
        ``overlap`` each followed by ``: `` and the measured figure.
    """

    matrix: Matrix
    warped: npt.NDArray[Any]
    valid: npt.NDArray[np.bool_]
    method: str
    rotation_deg: float
    scale: float
    anisotropy_pct: float
    shift: tuple[float, float]
    correlation: float
    luminance_diff_pct: float
    overlap: float
    fair: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True, eq=False)
class DifferenceMap:
    """Current map minus the earlier map warped into the current frame.

    ``data`` is float32 ``(H, W)``, NaN where the earlier photo does not reach; ``per_zone``
    the mean difference over each zone's covered pixels (None when a zone is not covered).
    For a binary map the difference is in [-1, 1] per pixel and its zone mean is the change
    of the covered fraction (x 100 = percentage points).
    """

    data: npt.NDArray[np.float32]
    per_zone: dict[str, float | None]


def _grey(image: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """sRGB luma in [0, 1] (Rec. 601 weights) of an RGB uint8/uint16/float image, or a grey one."""
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        f = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        f = arr.astype(np.float32) / 65535.0
    else:
        f = arr.astype(np.float32)
    if f.ndim == 3:
        f = f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114
    return np.ascontiguousarray(f, dtype=np.float32)


def _check_image(name: str, image: npt.NDArray[Any]) -> None:
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError(f"{name} must be an (H, W) or (H, W, 3) array")
    if image.ndim == 3 and image.shape[2] != 3:
        raise ValueError(f"{name} must have 3 channels, got shape {image.shape}")
    if min(image.shape[:2]) < 32:
        raise ValueError(f"{name} is too small: {image.shape[:2]}")


def _scale_matrix(f: float) -> Matrix:
    return np.array([[f, 0.0, 0.0], [0.0, f, 0.0], [0.0, 0.0, 1.0]])


def _h(m: Matrix) -> Matrix:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def decompose(matrix: Matrix) -> tuple[float, float, float, tuple[float, float]]:
    """``(rotation_deg, scale, anisotropy_pct, (tx, ty))`` of a 2x3 affine transform.

    Rotation is the angle of the transform's closest rotation (positive = counter-clockwise
    as seen on screen, OpenCV's convention), scale the geometric mean of the singular values,
    anisotropy their ratio minus 1 in %.
    """
    a = np.asarray(matrix, dtype=np.float64)[:, :2]
    s = np.linalg.svd(a, compute_uv=False)
    scale = float(math.sqrt(max(s[0] * s[1], 0.0)))
    aniso = float(100.0 * (s[0] / max(s[1], 1e-12) - 1.0))
    # y axis down: OpenCV's getRotationMatrix2D(angle>0) is [[c, s], [-s, c]]
    rot = math.degrees(math.atan2(a[0, 1] - a[1, 0], a[0, 0] + a[1, 1]))
    return rot, scale, aniso, (float(matrix[0][2]), float(matrix[1][2]))


def _eyes(image: npt.NDArray[Any], view: View) -> Any:
    if not view.is_face:
        return None
    face = detect_face(image, view)
    if face is None or not face.eyes_found:
        return None
    return np.array(face.eyes, dtype=np.float64)


def _similarity_from_points(src: Matrix, dst: Matrix) -> Matrix:
    """The similarity mapping two points *src* onto *dst* exactly."""
    s0, s1 = complex(*src[0]), complex(*src[1])
    d0, d1 = complex(*dst[0]), complex(*dst[1])
    a = (d1 - d0) / (s1 - s0)
    b = d0 - a * s0
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def _orb(small_e: npt.NDArray[np.uint8], small_c: npt.NDArray[np.uint8]) -> Matrix | None:
    orb = cv2.ORB.create(nfeatures=2000)
    ke, de = orb.detectAndCompute(small_e, None)
    kc, dc = orb.detectAndCompute(small_c, None)
    if de is None or dc is None or len(ke) < 12 or len(kc) < 12:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(de, dc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    if len(good) < 12:
        return None
    src = np.array([ke[m.queryIdx].pt for m in good], dtype=np.float32)
    dst = np.array([kc[m.trainIdx].pt for m in good], dtype=np.float32)
    m, inliers = _estimate_similarity(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0, maxIters=4000, confidence=0.995
    )
    if m is None or inliers is None or int(inliers.sum()) < 12:
        return None
    return np.asarray(m, dtype=np.float64)


def _ecc(
    small_e: npt.NDArray[Any], small_c: npt.NDArray[Any], init: Matrix, motion: int
) -> Matrix | None:
    """Refine *init* (earlier -> current, small coordinates) by ECC on a 2-level pyramid."""
    warp = cv2.invertAffineTransform(init).astype(np.float32)  # ECC: current -> earlier
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    try:
        for level in (1, 0):
            f = 0.5**level
            t = (
                cv2.resize(small_c, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
                if level
                else small_c
            )
            i = (
                cv2.resize(small_e, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
                if level
                else small_e
            )
            w = warp.copy()
            w[:, 2] *= f
            _, w = _find_ecc(t, i, w, motion, criteria, None, 5)
            warp = w.copy()
            warp[:, 2] /= f
    except cv2.error as exc:
        logger.debug("ECC did not converge: %s", exc)
        return None
    return np.asarray(cv2.invertAffineTransform(warp), dtype=np.float64)


def _ncc(a: npt.NDArray[Any], b: npt.NDArray[Any], mask: npt.NDArray[np.bool_]) -> float:
    if int(mask.sum()) < 16:
        return 0.0
    x = a[mask].astype(np.float64)
    y = b[mask].astype(np.float64)
    x -= x.mean()
    y -= y.mean()
    den = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    return 0.0 if den == 0 else float((x * y).sum() / den)


def _small(grey: npt.NDArray[np.float32], max_side: int) -> tuple[npt.NDArray[np.float32], float]:
    f = min(1.0, max_side / max(grey.shape))
    out: npt.NDArray[Any] = grey
    if f < 1.0:
        out = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out, dtype=np.float32), f


def register(
    earlier: npt.NDArray[Any],
    current: npt.NDArray[Any],
    *,
    view: View | str = View.FRONTAL,
    limits: FairnessLimits | None = None,
    max_side: int = 512,
    motion: str = "affine",
) -> Registration:
    """Align *earlier* to *current* (both ``(H, W, 3)`` RGB or ``(H, W)`` grey photos).

    Parameters
    ----------
    earlier, current
        The earlier and the current photo of the same view (any sizes).
    view
        The view; the eye-based start is tried on face views only.
    limits
        When the pair is judged unfair (default :class:`FairnessLimits`).
    max_side
        Long side of the grey images the transform is estimated on.
    motion
        ``"affine"`` (6 parameters) or ``"euclidean"`` (rotation + shift) for the ECC step.

    Returns
    -------
    Registration
        The transform, the warped earlier photo and the fairness verdict.
    """
    _check_image("earlier", earlier)
    _check_image("current", current)
    if max_side < 64:
        raise ValueError(f"max_side must be >= 64, got {max_side}")
    motions = {"affine": cv2.MOTION_AFFINE, "euclidean": cv2.MOTION_EUCLIDEAN}
    if motion not in motions:
        raise ValueError(f"motion must be 'affine' or 'euclidean', got {motion!r}")
    limits = limits or FairnessLimits()
    view = View(view)
    ge, gc = _grey(earlier), _grey(current)
    se, fe = _small(ge, max_side)
    sc, fc = _small(gc, max_side)
    to_small_e, to_small_c = _scale_matrix(fe), _scale_matrix(fc)

    init: Matrix | None = None
    method = "ecc"
    eyes_e = _eyes(earlier, view) if earlier.ndim == 3 else None
    eyes_c = _eyes(current, view) if current.ndim == 3 and eyes_e is not None else None
    if eyes_e is not None and eyes_c is not None:
        init = _similarity_from_points(eyes_e * fe, eyes_c * fc)
        method = "eyes"
    if init is None:
        u8e = np.clip(se * 255.0, 0, 255).astype(np.uint8)
        u8c = np.clip(sc * 255.0, 0, 255).astype(np.uint8)
        init = _orb(u8e, u8c)
        method = "orb" if init is not None else "identity"
    if init is None:
        init = np.array([[fc / fe, 0.0, 0.0], [0.0, fc / fe, 0.0]])
    blur_e = cv2.GaussianBlur(se, (0, 0), 1.0)
    blur_c = cv2.GaussianBlur(sc, (0, 0), 1.0)
    refined = _ecc(blur_e, blur_c, init, motions[motion])
    if refined is not None:
        small_m = refined
        method = "ecc" if method == "identity" else method + "+ecc"
    else:
        small_m = init
    # back to full resolution: full_c <- small_c <- small_e <- full_e
    full = np.linalg.inv(to_small_c) @ _h(small_m) @ to_small_e
    matrix = np.ascontiguousarray(full[:2], dtype=np.float64)

    h, w = current.shape[:2]
    warped = cv2.warpAffine(
        np.ascontiguousarray(earlier),
        matrix,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    valid = (
        cv2.warpAffine(
            np.ones(earlier.shape[:2], np.uint8),
            matrix,
            (w, h),
            flags=cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        > 0
    )
    # quality of the pair, at the small scale of the current photo
    small_valid = (
        cv2.resize(
            valid.astype(np.uint8), (sc.shape[1], sc.shape[0]), interpolation=cv2.INTER_NEAREST
        )
        > 0
    )
    small_valid = cv2.erode(small_valid.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    warped_small = np.asarray(
        cv2.warpAffine(se, _h(small_m)[:2], (sc.shape[1], sc.shape[0]), flags=cv2.INTER_LINEAR),
        dtype=np.float32,
    )
    corr = _ncc(cv2.GaussianBlur(warped_small, (0, 0), 1.0), blur_c, small_valid)
    overlap = float(valid.mean())
    if small_valid.any():
        me, mc = float(warped_small[small_valid].mean()), float(sc[small_valid].mean())
        lum = 100.0 * (me - mc) / max(mc, 1e-6)
    else:
        lum = 0.0
    rot, scale, aniso, shift = decompose(matrix)
    size_ratio = scale  # earlier pixels -> current pixels; same-size photos: subject scale
    if earlier.shape[:2] != current.shape[:2]:
        size_ratio = scale * max(earlier.shape[:2]) / max(current.shape[:2])
    reasons: list[str] = []
    if corr < limits.min_correlation:
        reasons.append(f"alignment: residual correlation {corr:.2f} < {limits.min_correlation}")
    if abs(size_ratio - 1.0) * 100 > limits.max_scale_change_pct:
        reasons.append(f"scale: subject size changed {100 * (size_ratio - 1):+.1f} %")
    if abs(rot) > limits.max_rotation_deg:
        reasons.append(f"rotation: head roll differs by {rot:+.1f} deg")
    if aniso > limits.max_anisotropy_pct:
        reasons.append(f"pose: anisotropy {aniso:.1f} % (face turned or tilted)")
    if abs(lum) > limits.max_luminance_diff_pct:
        reasons.append(f"lighting: mean luminance differs by {lum:+.1f} %")
    if overlap < limits.min_overlap:
        reasons.append(f"overlap: only {100 * overlap:.0f} % of the frame covered")
    logger.debug(
        "registered by %s: rot %.2f deg, scale %.4f, corr %.3f, fair %s",
        method,
        rot,
        scale,
        corr,
        not reasons,
    )
    return Registration(
        matrix=matrix,
        warped=warped,
        valid=valid,
        method=method,
        rotation_deg=rot,
        scale=scale,
        anisotropy_pct=aniso,
        shift=shift,
        correlation=corr,
        luminance_diff_pct=lum,
        overlap=overlap,
        fair=not reasons,
        reasons=tuple(reasons),
    )


def warp_to_current(data: npt.NDArray[Any], registration: Registration) -> npt.NDArray[Any]:
    """Bring an earlier ``(H, W)`` map (bool or float) or photo into the current frame.

    Bool maps are warped by nearest neighbour and stay bool; anything else bilinearly.
    Outside :attr:`Registration.valid` the result is 0 (False).
    """
    h, w = registration.valid.shape
    if data.dtype == np.bool_:
        out = cv2.warpAffine(
            data.astype(np.uint8),
            registration.matrix,
            (w, h),
            flags=cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        return np.asarray(out > 0)
    return np.asarray(
        cv2.warpAffine(
            np.ascontiguousarray(data),
            registration.matrix,
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    )


def difference_map(
    current_map: npt.NDArray[Any],
    earlier_map: npt.NDArray[Any],
    registration: Registration,
    zones: Sequence[ZoneMask] | Mapping[str, npt.NDArray[np.bool_]] = (),
) -> DifferenceMap:
    """Current map minus the earlier map (warped by *registration*), per pixel and per zone.

    Parameters
    ----------
    current_map
        ``(H, W)`` map of the current photo (bool, or float in [0, 1]: a
        :attr:`analysis.types.FeatureMap.data`).
    earlier_map
        The same map of the earlier photo, in the earlier photo's frame.
    registration
        From :func:`register` (earlier -> current).
    zones
        The current photo's zone masks (``ImageResult.zones`` or ``{name: mask}``).
    """
    h, w = registration.valid.shape
    if current_map.shape != (h, w):
        raise ValueError(f"current_map must have shape {(h, w)}, got {current_map.shape}")
    if earlier_map.ndim != 2:
        raise ValueError(f"earlier_map must be 2-D, got shape {earlier_map.shape}")
    cur = current_map.astype(np.float32)
    ear = warp_to_current(earlier_map.astype(np.float32), registration)
    diff = (cur - ear).astype(np.float32)
    diff[~registration.valid] = np.nan
    items = zones.items() if isinstance(zones, Mapping) else ((z.region, z.mask) for z in zones)
    per_zone: dict[str, float | None] = {}
    for name, mask in items:
        if mask.shape != (h, w):
            raise ValueError(f"zone {name!r} must have shape {(h, w)}, got {mask.shape}")
        sel = mask & registration.valid
        per_zone[str(name)] = float(diff[sel].mean()) if sel.any() else None
    return DifferenceMap(diff, per_zone)
