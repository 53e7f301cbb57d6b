"""Pigmentation: ITA, melanin index, brown spots and a melasma-pattern score.

Methods (see ``docs/methods/measures.md``)
------------------------------------------
* **ITA°** (Chardon et al. 1991): ``atan((L* - 50) / b*) * 180 / pi`` per pixel
  (``atan2`` so that ``b* <= 0`` stays defined), the median over the region.
* **Melanin index**: the apparent optical density is unmixed per pixel into a grey
  (shading/exposure) term, melanin and haemoglobin (Tsumura et al. 2003); the melanin term in
  red-channel OD times 100 is a Diffey-scaled melanin index (Diffey et al. 1984,
  ``MI = 100 log10(1/R_red)``) from which shading and haemoglobin have been removed. The
  region value is the mean.
* **Brown spots**: macules a person sees (:mod:`analysis.measures.contrast`): candidates
  where the melanin excess over the local skin background (masked Gaussian, sigma 5 mm,
  recomputed without the candidates) reaches 3 MI units, grown to 1.5 and cut at half the
  local peak (full width at half maximum; a patch too large, elongated or ragged there is
  cut again at 0.6 of it); kept when the patch's mean colour is >= 2.0 CIEDE2000 from its
  shading-matched background and >= 1.8 from the skin ring right around it, its melanin
  excess exceeds its haemoglobin excess and half its grey (shading) excess, its equivalent
  diameter is 1-15 mm, its elongation <= 4 (<= 2 for a piece of a re-cut), its solidity
  >= 0.7, and its centre >= 1.5 mm inside the skin mask.
  A spot counts in the region holding its centre (regions with small holes filled: the skin
  colour model leaves a strong macule out of the skin mask).
* **Melasma pattern score** (after mMASI, Pandya et al. 2011; homogeneity after MASI,
  Kimbrough-Green et al. 1994): per zone, hyperpigmented pixels are those whose melanin
  (smoothed at 1 mm) exceeds the face's 25th percentile by >= 4 MI units; area grade
  ``A`` 0-6 interpolated at the mMASI bin centres, darkness grade ``D = median excess / 4``
  clipped to 0-4, homogeneity ``H = 1 - CV`` of the excess in [0, 1]; zone score
  ``A * D * H`` (0-24). The ``face`` value is the mMASI weighting
  ``0.3 forehead + 0.3 cheek_left + 0.3 cheek_right + 0.1 chin`` (0-24). It is a pattern
  score for follow-up, **not** a diagnosis of melasma.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from analysis.measures.base import ConcernOutput, SkinImage
from analysis.measures.binary import components
from analysis.measures.chromophores import unmix_chromophores
from analysis.measures.contrast import (
    LocalContrast,
    contrast_of,
    dark_macules,
    filled_regions,
    patches,
)
from analysis.measures.filters import masked_blur
from analysis.measures.regions import measurement, region_fraction, region_items
from analysis.types import FeatureMap, MapKind, Measurement

__all__ = ["measure", "melanin_index_map", "spot_mask", "spots_from_contrast"]

logger = logging.getLogger(__name__)

SPOT_DIAMETER_MM = (1.0, 15.0)
SPOT_MAX_ELONGATION = 4.0
SPOT_EDGE_MM = 1.5  # spot centres at least this far inside the skin mask
MELASMA_SMOOTH_MM = 1.0
MELASMA_EXCESS = 4.0  # MI units above the face's 25th percentile
MELASMA_GRADE_STEP = 4.0  # MI units per darkness grade
MELASMA_WEIGHTS = {"forehead": 0.3, "cheek_left": 0.3, "cheek_right": 0.3, "chin": 0.1}
MELANIN_MAP_MAX = 80.0  # MI mapped to 1.0 in the continuous map
_AREA_FRACTION = (0.0, 0.10, 0.30, 0.50, 0.70, 0.90, 1.0)
_AREA_GRADE = (0.0, 1.5, 2.5, 3.5, 4.5, 5.5, 6.0)


def melanin_index_map(img: SkinImage) -> torch.Tensor:
    """Diffey-scaled melanin index per pixel (100 x melanin OD in the red channel)."""
    _, mel, _ = unmix_chromophores(img.rgb_linear)
    return 100.0 * mel


def _aggregate(img: SkinImage) -> torch.Tensor:
    for name in ("face", "skin"):
        if name in img.regions:
            return img.regions[name].to(torch.bool)
    return img.skin.to(torch.bool)


def spot_mask(img: SkinImage) -> np.ndarray:
    """Binary brown-spot mask (H, W): visible pigment patches of 1-15 mm.

    See :mod:`analysis.measures.contrast`: CIEDE2000 >= 2.5 from the local skin background
    at the peak, the difference caused mostly by melanin, grown to half the peak, and kept
    by size, elongation and distance from the skin mask's edge.
    """
    lc = contrast_of(img)
    return spots_from_contrast(lc, img)


def spots_from_contrast(lc: LocalContrast, img: SkinImage) -> np.ndarray:
    """Brown spots from a precomputed :class:`LocalContrast` (see :func:`spot_mask`)."""
    brown = patches(
        lc,
        "pigment",
        img.scale_mm,
        diameter_mm=SPOT_DIAMETER_MM,
        max_elongation=SPOT_MAX_ELONGATION,
        edge_mm=SPOT_EDGE_MM,
    )
    # dark (mostly achromatic) compact macules: a dense naevus, a dark lentigo
    dark = dark_macules(
        lc, img.scale_mm, diameter_mm=SPOT_DIAMETER_MM, edge_mm=SPOT_EDGE_MM, exclude=brown
    )
    return np.asarray(brown | dark)


def _melasma_zone(excess: torch.Tensor, mask: torch.Tensor) -> float:
    vals = excess[mask]
    if vals.numel() == 0:
        return 0.0
    patch = vals[vals >= MELASMA_EXCESS]
    frac = float(patch.numel()) / float(vals.numel())
    if patch.numel() == 0:
        return 0.0
    area = float(np.interp(frac, _AREA_FRACTION, _AREA_GRADE))
    med = float(patch.median().item())
    dark = min(4.0, max(0.0, med / MELASMA_GRADE_STEP))
    cv = float(patch.std(unbiased=False).item()) / max(float(patch.mean().item()), 1e-6)
    homog = 1.0 - min(1.0, cv)
    return area * dark * homog


@torch.no_grad()
def measure(img: SkinImage) -> ConcernOutput:
    """Measure pigmentation on *img* (see the module docstring)."""
    lab = img.lab.to(torch.float32)
    ita = torch.rad2deg(torch.atan2(lab[0] - 50.0, lab[2]))
    mi = melanin_index_map(img)
    spots = spot_mask(img)
    labels, _, cents = components(spots)
    n_spots = int(labels.max())

    px = 1.0 / img.scale_mm
    smooth = masked_blur(mi, img.skin.to(torch.bool), MELASMA_SMOOTH_MM * px)
    agg = _aggregate(img)
    ref_vals = smooth[agg]
    ref = _quantile(ref_vals, 0.25)
    excess = smooth - ref

    out: list[Measurement] = []
    zone_scores: dict[str, float] = {}
    filled = filled_regions(img)
    for reg in region_items(img):
        out.append(measurement("pigmentation.ita_deg", reg.name, _median(ita, reg.mask), img))
        mean_mi = float(mi[reg.mask].mean().item())
        out.append(measurement("pigmentation.melanin_index", reg.name, mean_mi, img))
        if n_spots:
            cr = np.clip(np.round(cents[1:, 1]).astype(int), 0, spots.shape[0] - 1)
            cc = np.clip(np.round(cents[1:, 0]).astype(int), 0, spots.shape[1] - 1)
            count = int(np.count_nonzero(filled[reg.name][cr, cc]))
        else:
            count = 0
        out.append(measurement("pigmentation.spots.count", reg.name, count, img))
        area = region_fraction(spots, filled[reg.name])
        out.append(measurement("pigmentation.spots.area_pct", reg.name, area, img))
        zone_scores[reg.name] = _melasma_zone(excess, reg.mask)
    weighted = {z: w for z, w in MELASMA_WEIGHTS.items() if z in zone_scores}
    for name, score in zone_scores.items():
        if name == "face" and weighted:
            score = sum(w * zone_scores[z] for z, w in weighted.items()) / sum(weighted.values())
        out.append(measurement("pigmentation.melasma.score", name, score, img))

    maps = (
        FeatureMap(
            "melanin",
            "pigmentation",
            MapKind.CONTINUOUS,
            (mi / MELANIN_MAP_MAX).clamp(0.0, 1.0).cpu().numpy().astype(np.float32),
            "Melanin index (OD unmixing, Diffey-scaled) / 80, clipped to [0, 1]",
        ),
        FeatureMap(
            "spots",
            "pigmentation",
            MapKind.BINARY,
            spots,
            "Brown spots: melanin excess over local background, 1-15 mm",
        ),
    )
    logger.debug("pigmentation: %d spots", n_spots)
    return ConcernOutput(tuple(out), maps)


def _quantile(vals: torch.Tensor, q: float) -> float:
    """The *q* quantile of a 1-D tensor, from at most ~250 000 evenly strided samples."""
    if vals.numel() == 0:
        return 0.0
    sub = vals[:: max(1, vals.numel() // 250_000)]
    k = min(sub.numel(), max(1, int(round(q * (sub.numel() - 1))) + 1))
    return float(torch.kthvalue(sub.cpu(), k).values.item())


def _median(x: torch.Tensor, mask: torch.Tensor) -> float:
    vals = x[mask]
    return float(vals.median().item()) if vals.numel() else 0.0
