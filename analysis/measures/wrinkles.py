"""Wrinkles and fine lines: count, total length and area, separated by scale.

Method (see ``docs/methods/measures.md``)
-----------------------------------------
Lines are dark valleys of lightness, measured on the Weber lightness
``W = 81 ln((L* + 16) / 116)`` (:func:`weber_lightness`: a luminance ratio, so exposure
does not move a threshold; one unit is one L* at L* = 65). Frangi et al. (1998) vesselness
for valleys
(``beta = 0.5``; structure constant ``c = 1 L*`` in absolute units, so the threshold is a
contrast) is computed over six scales, sigma = 0.12, 0.2, 0.3 mm (fine) and 0.45, 0.7,
1.0 mm (wrinkles), never below 0.7 px. For a line of Gaussian cross-section the response
peaks at ``sigma = sqrt(2) sigma_line``, i.e. at ``FWHM / 1.67``: the fine scales take lines
narrower than about 0.6 mm, the wrinkle scales wider ones. Pixels with vesselness >= 0.5
(a valley of >= ~3 L* depth) seed a hysteresis down to >= 0.2 (~1.7 L*). A valley must be
darker than both flanks (at +-2 sigma along its normal the weaker flank must rise >= 25 % of
the stronger for the full response, less scales it down): a dip at the foot of a shading
step is not a line. Valleys running along the nose outline (side walls, alae, base) or the
jaw line below the mouth are anatomical outlines, not wrinkles (:func:`outline_mask`, from
the face-mesh zones). Each connected
line is thinned (Zhang & Suen 1984) and its skeleton length measured with Kulpa's (1977)
chain-code weights; lines shorter than 3 mm or less than 3 times as long as wide are
dropped, and so is a band of 2 x the largest sigma along the image border. A line is a
*wrinkle* when most of its vesselness comes from the wrinkle scales, otherwise a *fine
line*; a fine line keeps only its pixels that pass at the fine scales (the wrinkle scales
widen and lengthen it). Per region: length = skeleton length inside; count = lines with at
least 3 mm (or half their length) inside; area % = line pixels (both kinds).
``wrinkles.count`` / ``wrinkles.length_mm`` are the wrinkles only,
``wrinkles.fine_lines.*`` the fine lines only, ``wrinkles.area_pct`` covers both.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import torch

from analysis.measures.base import ConcernOutput, SkinImage
from analysis.measures.binary import components, hysteresis, skeleton_length_map, thin
from analysis.measures.filters import frangi_valley, hessian, inner_mask
from analysis.measures.regions import measurement, region_fraction, region_items
from analysis.types import FeatureMap, MapKind, Measurement

__all__ = [
    "LineSet",
    "detect_lines",
    "extract_lines",
    "line_response",
    "line_sigmas_px",
    "measure",
    "outline_mask",
    "outline_of",
]

logger = logging.getLogger(__name__)

FINE_SIGMAS_MM = (0.12, 0.2, 0.3)
WRINKLE_SIGMAS_MM = (0.45, 0.7, 1.0)
FRANGI_BETA = 0.5
FRANGI_C = 1.0  # L* units
STRONG = 0.5
WEAK = 0.2
MIN_LENGTH_MM = 3.0
MIN_ASPECT = 3.0
MIN_SIGMA_PX = 0.7
EDGE_MM = 1.5  # line pixels at least this far inside the skin mask
#: A valley's weaker flank must rise by >= this fraction of its stronger flank (at +-
#: ``FLANK`` sigma along the normal) for the full response; less scales it down linearly.
SYMMETRY = 0.25
#: Valleys are measured on :func:`weber_lightness` (exposure-invariant contrast), scaled to L*
#: at ``L_REF``.
LOG_CONTRAST = True
L_REF = 65.0
FLANK = 2.0
#: Anatomical outlines (``outline_mask``): bands around the nose (inside / outside its zone)
#: and along the lower face outline below the mouth (inside), in mm; line pixels there whose
#: direction is within ``OUTLINE_*_MAX_DEG`` of the outline's are not wrinkles.
OUTLINE_NOSE_IN_MM = 6.0
OUTLINE_NOSE_OUT_MM = 2.0
OUTLINE_JAW_MM = 8.0
OUTLINE_NOSE_MAX_DEG = 35.0
OUTLINE_JAW_MAX_DEG = 20.0
ORIENT_SIGMA_MM = 0.7
#: Coarsest filter scales at which fine lines / wrinkles are still resolved.
FINE_MAX_SCALE_MM = FINE_SIGMAS_MM[-1] / MIN_SIGMA_PX
WRINKLE_MAX_SCALE_MM = WRINKLE_SIGMAS_MM[-1] / MIN_SIGMA_PX


class LineSet:
    """Detected lines: masks, skeleton length map and per-line labels and classes."""

    def __init__(
        self,
        labels: np.ndarray,
        is_wrinkle: np.ndarray,
        length_map: np.ndarray,
        lengths_px: np.ndarray,
    ) -> None:
        self.labels = labels
        self.is_wrinkle = is_wrinkle  # per label (index 0 unused)
        self.length_map = length_map
        self.lengths_px = lengths_px  # per label

    @property
    def wrinkle_mask(self) -> np.ndarray:
        """Pixels of wrinkles."""
        return np.asarray(self.is_wrinkle[self.labels] & (self.labels > 0), dtype=bool)

    @property
    def fine_mask(self) -> np.ndarray:
        """Pixels of fine lines."""
        return np.asarray(~self.is_wrinkle[self.labels] & (self.labels > 0), dtype=bool)


def line_sigmas_px(scale_mm: float) -> tuple[list[float], list[float]]:
    """Fine-line and wrinkle filter scales in pixels at *scale_mm* per pixel.

    Each is at least :data:`MIN_SIGMA_PX`; a wrinkle scale that coincides with a fine one
    (both clamped) is left out of the wrinkle scales.
    """
    fine = sorted({max(s / scale_mm, MIN_SIGMA_PX) for s in FINE_SIGMAS_MM})
    deep = sorted({max(s / scale_mm, MIN_SIGMA_PX) for s in WRINKLE_SIGMAS_MM} - set(fine))
    return fine, deep


def line_response(
    lum: torch.Tensor, sigmas_px: Sequence[float], *, symmetry: float | None = None
) -> torch.Tensor:
    """Valley strength in [0, 1] of L* ``(H, W)``: the maximum over *sigmas_px*.

    Frangi vesselness with the step-edge term and the flank-symmetry gate of
    :func:`analysis.measures.filters.frangi_valley` (default :data:`SYMMETRY`; ``0`` switches
    the gate off). Responses under ``WEAK / 2`` are returned as 0 (no line).
    """
    sym = SYMMETRY if symmetry is None else symmetry
    x = lum.to(torch.float32)
    if LOG_CONTRAST:
        x = weber_lightness(x)
    # responses under half the weak threshold are no line: the flank gate (the costly part)
    # is evaluated only above it (exactly the same lines: every threshold is >= WEAK)
    v, _ = frangi_valley(
        x, sigmas_px, FRANGI_BETA, FRANGI_C, symmetry=sym, flank=FLANK, floor=0.5 * WEAK
    )
    return v


def weber_lightness(lum: torch.Tensor) -> torch.Tensor:
    """L* re-expressed so that a contrast is a ratio of luminances (Weber contrast).

    ``W = (L_REF + 16) * ln((L* + 16) / 116)``: above L* = 8, ``ln Y = 3 ln((L* + 16) / 116)``,
    so ``W`` is ``(L_REF + 16) / 3 * ln Y``: a change of exposure adds a constant and leaves
    every valley's depth unchanged, and at L* = :data:`L_REF` one unit of ``W`` is one L*
    (the detector's thresholds keep their meaning on typical skin).
    """
    return (L_REF + 16.0) * torch.log((lum.clamp(min=0.0) + 16.0) / 116.0)


def _filled(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """*mask* with its holes (eyes, lips, nostrils) filled, as 0/1 uint8."""
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros_like(m)
    cv2.drawContours(out, contours, -1, 1, thickness=cv2.FILLED)
    return out


def _signed_distance(m: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Euclidean distance to the outline of *m*, positive inside, negative outside (px)."""
    inside = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    outside = cv2.distanceTransform(1 - m, cv2.DIST_L2, 5)
    return np.asarray(inside - outside, dtype=np.float32)


def outline_mask(
    lum: torch.Tensor, regions: Mapping[str, torch.Tensor], scale_mm: float
) -> npt.NDArray[np.bool_]:
    """Pixels on anatomical outlines that are valleys of shading, not wrinkles.

    The side walls, alae and base of the nose and the jaw line are real valleys of L* (the
    skin folds in there, both flanks are brighter), so no filter tells them from a wrinkle;
    the face mesh does. Two bands: around the ``nose`` zone (:data:`OUTLINE_NOSE_IN_MM`
    inside, :data:`OUTLINE_NOSE_OUT_MM` outside its outline) and inside the lower outline of
    ``face`` below the mouth (:data:`OUTLINE_JAW_MM`). A pixel in a band is dropped when the
    valley through it (the Hessian's normal at :data:`ORIENT_SIGMA_MM`) runs within
    :data:`OUTLINE_NOSE_MAX_DEG` (nose) / :data:`OUTLINE_JAW_MAX_DEG` (jaw) of the outline,
    i.e. along it: the nasolabial folds, marionette lines and the mentolabial sulcus leave
    these outlines at a steep angle or lie outside the bands, and keep their pixels. Without
    a ``nose`` zone (close-ups) nothing is dropped.
    """
    h, w = int(lum.shape[-2]), int(lum.shape[-1])
    drop = np.zeros((h, w), dtype=bool)
    nose_t = regions.get("nose")
    if nose_t is None or not bool(nose_t.any()):
        return drop
    px_mm = 1.0 / scale_mm
    nose = _filled(nose_t.cpu().numpy())
    bands: list[tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32], float]] = []
    d_nose = _signed_distance(nose)
    bands.append(
        (
            (d_nose <= OUTLINE_NOSE_IN_MM * px_mm) & (d_nose >= -OUTLINE_NOSE_OUT_MM * px_mm),
            d_nose,
            OUTLINE_NOSE_MAX_DEG,
        )
    )
    face_t = regions.get("face")
    if face_t is not None and bool(face_t.any()):
        d_face = _signed_distance(_filled(face_t.cpu().numpy()))
        jaw = (d_face >= -px_mm) & (d_face <= OUTLINE_JAW_MM * px_mm)
        # the jaw: below the mouth (the perioral zone's centre row; else below the nose)
        top = int(np.nonzero(nose.any(axis=1))[0].max()) + 1
        mouth_t = regions.get("perioral")
        if mouth_t is not None and bool(mouth_t.any()):
            top = max(top, int(np.nonzero(mouth_t.cpu().numpy())[0].mean()))
        jaw[:top] = False
        bands.append((jaw, d_face, OUTLINE_JAW_MAX_DEG))
    lxx, lxy, lyy = hessian(lum.to(torch.float32), max(ORIENT_SIGMA_MM * px_mm, 1.0))
    theta = (0.5 * torch.atan2(2.0 * lxy, lxx - lyy)).cpu().numpy()
    nx, ny = np.cos(theta), np.sin(theta)
    for band, dist, max_deg in bands:
        cos_min = math.cos(math.radians(max_deg))
        smooth = cv2.GaussianBlur(dist, (0, 0), max(px_mm, 1.0))
        gy, gx = np.gradient(smooth)
        norm = np.hypot(gx, gy) + 1e-6
        drop |= band & (np.abs(nx * gx + ny * gy) >= cos_min * norm)
    return drop


def extract_lines(
    v_fine: npt.NDArray[np.floating[Any]],
    v_deep: npt.NDArray[np.floating[Any]],
    keep: npt.NDArray[np.bool_],
    scale_mm: float,
) -> LineSet:
    """Lines from the fine-scale and wrinkle-scale valley strengths ``(H, W)``.

    Hysteresis, components, the fine/wrinkle split, thinning, skeleton length and the
    length and aspect rules (see the module docstring); only pixels where *keep* is True
    can be line pixels.
    """
    vf = np.where(keep, v_fine, 0.0).astype(np.float32, copy=False)
    vd = np.where(keep, v_deep, 0.0).astype(np.float32, copy=False)
    v_np = np.maximum(vf, vd)
    mask = hysteresis(v_np >= WEAK, v_np >= STRONG)
    labels, _, _ = components(mask)
    n = int(labels.max())
    lab = labels.ravel()
    w_deep = np.bincount(lab, np.where(vd > vf, v_np, 0.0).ravel(), n + 1)
    w_all = np.bincount(lab, v_np.ravel(), n + 1)
    is_wrinkle = w_deep > 0.5 * w_all
    # a fine line also answers (weaker, wider, longer) at the wrinkle scales: a fine line
    # keeps only its pixels that pass the weak threshold at the fine scales
    mask &= is_wrinkle[labels] | (vf >= WEAK)
    labels, stats, _ = components(mask)
    n = int(labels.max())
    lab = labels.ravel()
    w_deep = np.bincount(lab, np.where(vd > vf, v_np, 0.0).ravel(), n + 1)
    w_all = np.bincount(lab, v_np.ravel(), n + 1)
    is_wrinkle = w_deep > 0.5 * w_all
    skel = thin(mask)
    length_map = skeleton_length_map(skel)
    lengths = np.bincount(lab, length_map.ravel(), n + 1)
    width = stats[:, 4].astype(np.float64) / np.maximum(lengths, 1.0)
    kept = (lengths * scale_mm >= MIN_LENGTH_MM) & (lengths >= MIN_ASPECT * width)
    kept[0] = False
    new_id = np.zeros(n + 1, dtype=np.int32)
    new_id[kept] = np.arange(1, int(kept.sum()) + 1, dtype=np.int32)
    labels = new_id[labels]
    length_map = np.where(labels > 0, length_map, 0.0).astype(np.float32)
    is_w = np.concatenate([[False], is_wrinkle[kept]])
    return LineSet(labels, is_w, length_map, np.concatenate([[0.0], lengths[kept]]))


# by id of the CIELAB tensor (a tensor compares element-wise, so it cannot be a dict key);
# an entry leaves with its tensor
_OUTLINES: dict[int, npt.NDArray[np.bool_]] = {}
_OUTLINES_LOCK = threading.Lock()


def outline_of(img: SkinImage) -> npt.NDArray[np.bool_]:
    """:func:`outline_mask` of *img*, computed once per working frame (its CIELAB tensor):
    the wrinkles measure and the camera-detail fine lines both drop these pixels. Images
    sharing one CIELAB tensor must share its regions and scale (as one photo's do)."""
    with _OUTLINES_LOCK:
        key = id(img.lab)
        got = _OUTLINES.get(key)
        if got is None:
            got = outline_mask(img.lab[0].to(torch.float32), img.regions, img.scale_mm)
            _OUTLINES[key] = got
            weakref.finalize(img.lab, _OUTLINES.pop, key, None)
        return got


def detect_lines(img: SkinImage) -> LineSet:
    """Detect fine lines and wrinkles on *img*."""
    fine, deep = line_sigmas_px(img.scale_mm)
    lum = img.lab[0].to(torch.float32)
    skin = img.skin.to(torch.bool)
    v_fine = line_response(lum, fine)
    v_deep = line_response(lum, deep) if deep else torch.zeros_like(v_fine)
    # the image border is no line: replicated borders bend smooth shading into a valley
    inner = torch.zeros_like(skin)
    b = int(np.ceil(2 * (fine + deep)[-1]))
    inner[b:-b, b:-b] = True
    # nor is the rim of the skin mask: the jaw and face outline are shading edges
    keep_px = (inner_mask(skin, EDGE_MM / img.scale_mm) & inner).cpu().numpy()
    # nor are the outlines of the nose and the jaw (shading valleys along the face mesh)
    keep_px &= ~outline_of(img)
    return extract_lines(v_fine.cpu().numpy(), v_deep.cpu().numpy(), keep_px, img.scale_mm)


@torch.no_grad()
def measure(img: SkinImage) -> ConcernOutput:
    """Measure wrinkles and fine lines on *img* (see the module docstring).

    Coarser than :data:`FINE_MAX_SCALE_MM` the fine-line keys are left out, coarser than
    :data:`WRINKLE_MAX_SCALE_MM` every key (see :func:`analysis.measures.unresolved`).
    """
    if img.scale_mm > WRINKLE_MAX_SCALE_MM:
        logger.info("wrinkles not measured: %.3f mm/px is too coarse", img.scale_mm)
        return ConcernOutput(())
    fine_ok = img.scale_mm <= FINE_MAX_SCALE_MM
    lines = detect_lines(img)
    report = img.spacing_mm if img.spacing_mm is not None else 1.0
    min_len_px = MIN_LENGTH_MM / img.scale_mm
    n = lines.lengths_px.size - 1
    lab = lines.labels.ravel()
    wrinkle_mask = lines.wrinkle_mask
    fine_mask = lines.fine_mask
    any_mask = lines.labels > 0

    out: list[Measurement] = []
    for reg in region_items(img):
        inside = np.bincount(
            lab, (lines.length_map * reg.mask_np).ravel(), n + 1
        )  # skeleton length of each line inside the region
        counted = inside >= np.minimum(min_len_px, 0.5 * lines.lengths_px)
        counted[0] = False
        deep = counted & lines.is_wrinkle
        fine = counted & ~lines.is_wrinkle
        out.append(measurement("wrinkles.count", reg.name, int(deep.sum()), img))
        out.append(
            measurement(
                "wrinkles.length_mm",
                reg.name,
                float(inside[1:][lines.is_wrinkle[1:]].sum()) * report,
                img,
            )
        )
        out.append(
            measurement("wrinkles.area_pct", reg.name, region_fraction(any_mask, reg.mask_np), img)
        )
        if not fine_ok:
            continue
        out.append(measurement("wrinkles.fine_lines.count", reg.name, int(fine.sum()), img))
        out.append(
            measurement(
                "wrinkles.fine_lines.length_mm",
                reg.name,
                float(inside[1:][~lines.is_wrinkle[1:]].sum()) * report,
                img,
            )
        )

    maps: tuple[FeatureMap, ...] = (
        FeatureMap(
            "wrinkles",
            "wrinkles",
            MapKind.BINARY,
            wrinkle_mask,
            "Wrinkles: Frangi valleys of L*, sigma 0.45-1.0 mm, >= 3 mm long",
        ),
        FeatureMap(
            "fine_lines",
            "wrinkles",
            MapKind.BINARY,
            fine_mask,
            "Fine lines: Frangi valleys of L*, sigma 0.12-0.3 mm, >= 3 mm long",
        ),
    )
    if not fine_ok:
        maps = maps[:1]
    logger.debug("wrinkles: %d lines", n)
    return ConcernOutput(tuple(out), maps)
