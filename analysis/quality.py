"""The quality gate: can this photo be measured, and with which warnings?

Checks (thresholds in :class:`QualityThresholds`, reasons in ``docs/methods/pipeline.md``):

``no_face``
    A face view (frontal/left/right) in which no face is found: blocking.
``low_resolution``
    Face narrower than ``min_face_px`` (blocking) or ``warn_face_px`` (warning): pores and fine
    lines are 0.1-0.5 mm wide and vanish below a few pixels per mm.
``blur``
    Sharpness index (below) under ``min_sharpness`` (blocking) or ``warn_sharpness``.
``overexposed`` / ``underexposed``
    Share of clipped pixels (any channel >= 254/255, or all <= 2/255) in the face (or image)
    region, or its median luma near white / black.
``colour_cast``
    The grey-world gains differ by more than ``warn_cast`` (corrected, warning) or
    ``max_cast`` (blocking: the colour indices would be unreliable).
``glare``
    Specular (clipped, low-chroma) share of the skin beyond what the shine measurement
    tolerates.
``noise``
    Sensor noise (:func:`noise_level`) above ``warn_noise_pct``: a warning, and the families
    it drowns (:data:`NOISE_LIMITS`) are not assessed; above ``max_noise_pct``: blocking.
``uneven_lighting``
    The brighter side of the face is more than ``warn_lighting_ratio`` times the darker
    (:func:`lighting_ratio`): a warning (the colour indices remove shading by unmixing;
    lengths of wrinkles and shine on the lit side are less comparable).

Sharpness index: the variance of the 3x3 Laplacian of the sRGB-encoded luma (in [0, 1]) over
the face box (eyes, brows and lips give edges) or the whole image, times 10^4. To make it
independent of the camera's resolution the region is first resampled (down only) so the face
is ``sharpness_face_px`` wide (non-face photos: long side ``sharpness_long_side``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from analysis.types import QualityIssue, QualityResult

__all__ = [
    "NOISE_LIMITS",
    "ExposureStats",
    "QualityThresholds",
    "assess_quality",
    "exposure_stats",
    "lighting_ratio",
    "noise_level",
    "noisy_families",
    "sharpness_index",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    """Limits of the quality gate (see the module docstring for each check)."""

    min_face_px: float = 64.0
    warn_face_px: float = 300.0
    min_sharpness: float = 2.0
    warn_sharpness: float = 6.0
    sharpness_face_px: int = 256
    sharpness_long_side: int = 512
    max_clipped_pct: float = 20.0
    warn_clipped_pct: float = 5.0
    max_median_luma: float = 0.94
    min_median_luma: float = 0.06
    warn_cast: float = 1.5
    max_cast: float = 3.0
    warn_glare_pct: float = 8.0
    max_glare_pct: float = 30.0
    warn_noise_pct: float = 1.5
    max_noise_pct: float = 8.0
    warn_lighting_ratio: float = 1.6


#: Highest sensor noise (:func:`noise_level`, % of full scale, at the working resolution) at
#: which each family is still assessed. Pores (2 L* deep, 1-3 px) and fine lines (~2 L*
#: valleys) need a quiet image; texture *is* the fine-scale energy, so noise would be read
#: as roughness; spots, lesions and wrinkles are judged over several pixels (means over the
#: patch, filters of >= 0.45 mm) and tolerate more. docs/methods/measures.md ("Noise").
NOISE_LIMITS: dict[str, float] = {
    "pores": 1.5,
    "wrinkles.fine_lines": 1.5,
    "texture": 1.5,
    "wrinkles": 4.0,
    "pigmentation.spots": 4.0,
    "redness.lesions": 4.0,
}


@dataclass(frozen=True, slots=True)
class ExposureStats:
    """Clipping and brightness of a region."""

    high_pct: float
    low_pct: float
    median_luma: float

    @property
    def clipped_pct(self) -> float:
        """Share of clipped pixels, either end."""
        return self.high_pct + self.low_pct


def _luma(rgb: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
    scale = 65535.0 if rgb.dtype == np.uint16 else 255.0 if rgb.dtype == np.uint8 else 1.0
    f = rgb.astype(np.float32) / np.float32(scale)
    return np.asarray(f[..., 0] * 0.2126 + f[..., 1] * 0.7152 + f[..., 2] * 0.0722, np.float32)


def exposure_stats(
    rgb: npt.NDArray[np.generic], mask: npt.NDArray[np.bool_] | None = None
) -> ExposureStats:
    """Clipping of an ``(H, W, 3)`` uint8/uint16 (or [0, 1] float) RGB image within *mask*."""
    top = 65535 if rgb.dtype == np.uint16 else 255 if rgb.dtype == np.uint8 else 1.0
    # the largest channel, by two element-wise maxima (a reduction over an axis of 3 is slow)
    peak = np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    hi = peak >= top * 254 / 255
    lo = peak <= top * 2 / 255
    luma = _luma(rgb)
    if mask is not None and mask.any():
        hi, lo, luma = hi[mask], lo[mask], luma[mask]
    n = max(hi.size, 1)
    return ExposureStats(
        high_pct=100.0 * float(hi.sum()) / n,
        low_pct=100.0 * float(lo.sum()) / n,
        median_luma=float(np.median(luma)) if luma.size else 0.0,
    )


def sharpness_index(
    rgb: npt.NDArray[np.generic],
    box: tuple[int, int, int, int] | None = None,
    thresholds: QualityThresholds | None = None,
) -> float:
    """Variance of the Laplacian of the luma over *box* (``x, y, w, h``), x 10^4.

    The region is resampled (down only) so that the box is ``sharpness_face_px`` wide, or,
    without a box, so that the image's long side is ``sharpness_long_side``.
    """
    t = thresholds or QualityThresholds()
    if box is not None:
        x, y, w, h = box
        x0, y0 = max(0, x), max(0, y)
        rgb = rgb[y0 : max(y0 + 1, y + h), x0 : max(x0 + 1, x + w)]
        f = t.sharpness_face_px / max(w, 1)
    else:
        f = t.sharpness_long_side / max(rgb.shape[:2])
    if f < 1.0:  # resample the integer image first: cheap on 24 MP photos
        rgb = cv2.resize(np.ascontiguousarray(rgb), None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    luma = _luma(rgb)
    if min(luma.shape) < 3:
        return 0.0
    lap = cv2.Laplacian(luma, cv2.CV_32F, ksize=1)[1:-1, 1:-1]
    return float(lap.var()) * 1e4


_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


def noise_level(rgb: npt.NDArray[np.generic], mask: npt.NDArray[np.bool_] | None = None) -> float:
    """Sensor noise as the standard deviation of the luma, in % of full scale.

    Immerkaer's (1996) operator (the difference of two Laplacians, blind to planes and
    gentle curvature) is applied to the sRGB luma; its response on *flat* pixels (inside
    *mask*, e.g. the skin, and with a Sobel gradient below the median there: edges, hair
    and pores would read as noise) is turned into a noise sigma robustly: ``sigma =
    median|r| / (0.6745 * 6)`` (``6`` is the operator's norm; ``0.6745`` the median of a
    unit normal's absolute value).
    """
    luma = _luma(np.ascontiguousarray(rgb))
    if min(luma.shape) < 8:
        return 0.0
    r = cv2.filter2D(luma, cv2.CV_32F, _IMMERKAER, borderType=cv2.BORDER_REPLICATE)
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)
    g = np.hypot(gx, gy)
    sel = np.ones(luma.shape, dtype=bool) if mask is None else mask.astype(bool)
    sel[:2], sel[-2:], sel[:, :2], sel[:, -2:] = False, False, False, False
    if int(sel.sum()) < 64:
        return 0.0
    flat = sel & (g <= np.median(g[sel]))
    return float(np.median(np.abs(r[flat])) / (0.6745 * 6.0) * 100.0)


def lighting_ratio(
    rgb: npt.NDArray[np.generic], mask: npt.NDArray[np.bool_] | None = None
) -> float:
    """Brighter / darker median luma of the left and right thirds of *mask* (or the image)."""
    luma = _luma(np.ascontiguousarray(rgb))
    sel = np.ones(luma.shape, dtype=bool) if mask is None else mask.astype(bool)
    cols = np.nonzero(sel.any(axis=0))[0]
    if cols.size < 6:
        return 1.0
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    third = max(1, (x1 - x0) // 3)
    left = luma[:, x0 : x0 + third][sel[:, x0 : x0 + third]]
    right = luma[:, x1 - third : x1][sel[:, x1 - third : x1]]
    if left.size == 0 or right.size == 0:
        return 1.0
    a, b = float(np.median(left)), float(np.median(right))
    return max(a, b) / max(min(a, b), 1e-3)


def noisy_families(noise_pct: float) -> dict[str, str]:
    """Families (keys of :data:`NOISE_LIMITS`) drowned by *noise_pct*, with the reason."""
    return {
        key: (
            f"The photo is too noisy (sensor noise {noise_pct:.1f} % of full scale; "
            f"{key} needs <= {limit:.1f} %): features would be found in the noise."
        )
        for key, limit in NOISE_LIMITS.items()
        if noise_pct > limit
    }


def assess_quality(
    *,
    face_view: bool,
    face_found: bool,
    face_width_px: float | None,
    sharpness: float,
    exposure: ExposureStats,
    cast_ratio: float,
    glare_pct: float,
    noise_pct: float = 0.0,
    lighting: float = 1.0,
    thresholds: QualityThresholds | None = None,
) -> QualityResult:
    """Combine the checks into a :class:`QualityResult` (blocking issue => unusable).

    Parameters
    ----------
    face_view
        Whether the photo is a face view (frontal/left/right): then a face is required.
    face_found
        Whether a face was detected.
    face_width_px
        Face width in source pixels (None without a face).
    sharpness
        From :func:`sharpness_index`.
    exposure
        From :func:`exposure_stats` over the face (or image) region.
    cast_ratio
        Largest / smallest white-balance gain.
    glare_pct
        Specular share of the skin, in %.
    noise_pct
        From :func:`noise_level` (working resolution, over the skin).
    lighting
        From :func:`lighting_ratio`.
    thresholds
        Limits; defaults to :class:`QualityThresholds`.
    """
    t = thresholds or QualityThresholds()
    issues: list[QualityIssue] = []

    def add(code: str, message: str, blocking: bool) -> None:
        issues.append(QualityIssue(code, message, blocking))

    if face_view and not face_found:
        add("no_face", "No face was found in a face view; zones cannot be placed.", True)
    if face_found and face_width_px is not None:
        if face_width_px < t.min_face_px:
            add(
                "low_resolution",
                f"The face is {face_width_px:.0f} px wide, below the minimum "
                f"{t.min_face_px:.0f} px.",
                True,
            )
        elif face_width_px < t.warn_face_px:
            add(
                "low_resolution",
                f"The face is {face_width_px:.0f} px wide (< {t.warn_face_px:.0f} px): pores "
                "and fine lines are under-resolved.",
                False,
            )
    if sharpness < t.min_sharpness:
        add("blur", f"The photo is blurred (sharpness {sharpness:.2f} < {t.min_sharpness}).", True)
    elif sharpness < t.warn_sharpness:
        add("blur", f"The photo is slightly soft (sharpness {sharpness:.2f}).", False)
    if exposure.high_pct > t.max_clipped_pct or exposure.median_luma > t.max_median_luma:
        add(
            "overexposed",
            f"Over-exposed: {exposure.high_pct:.1f} % of the region is clipped white.",
            True,
        )
    elif exposure.high_pct > t.warn_clipped_pct:
        add("overexposed", f"{exposure.high_pct:.1f} % of the region is clipped white.", False)
    if exposure.low_pct > t.max_clipped_pct or exposure.median_luma < t.min_median_luma:
        add(
            "underexposed",
            f"Under-exposed: {exposure.low_pct:.1f} % of the region is clipped black.",
            True,
        )
    elif exposure.low_pct > t.warn_clipped_pct:
        add("underexposed", f"{exposure.low_pct:.1f} % of the region is clipped black.", False)
    if cast_ratio > t.max_cast:
        add("colour_cast", f"Strong colour cast (gain ratio {cast_ratio:.2f}).", True)
    elif cast_ratio > t.warn_cast:
        add(
            "colour_cast",
            f"Colour cast corrected by white balance (gain ratio {cast_ratio:.2f}); colour "
            "indices are less certain.",
            False,
        )
    if glare_pct > t.max_glare_pct:
        add("glare", f"Glare covers {glare_pct:.1f} % of the skin.", True)
    elif glare_pct > t.warn_glare_pct:
        add("glare", f"Glare covers {glare_pct:.1f} % of the skin; shine may be overstated.", False)
    if noise_pct > t.max_noise_pct:
        add("noise", f"The photo is very noisy (noise {noise_pct:.1f} % of full scale).", True)
    elif noise_pct > t.warn_noise_pct:
        gone = ", ".join(noisy_families(noise_pct))
        add(
            "noise",
            f"The photo is noisy (noise {noise_pct:.1f} % of full scale); not assessed: {gone}.",
            False,
        )
    if lighting > t.warn_lighting_ratio:
        add(
            "uneven_lighting",
            f"Uneven lighting: one side of the face is {lighting:.1f}x brighter than the other.",
            False,
        )
    usable = not any(i.blocking for i in issues)
    logger.debug("quality gate: usable=%s issues=%s", usable, [i.code for i in issues])
    return QualityResult(
        usable=usable,
        issues=tuple(issues),
        sharpness=float(sharpness),
        exposure_clipped_pct=float(exposure.clipped_pct),
        face_found=face_found,
        noise_pct=float(noise_pct),
        lighting_ratio=float(lighting),
    )
