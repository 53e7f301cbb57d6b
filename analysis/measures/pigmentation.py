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
* **Brown spots**: the melanin map smoothed at 0.25 mm minus a robust local background
  (masked Gaussian, sigma 5 mm, recomputed without the first-pass candidates); hysteresis
  thresholds of 6 and 3 MI units; each spot is cut at half its own peak excess
  (full width at half maximum); equivalent diameter 1-15 mm; elongation <= 4 (lines are
  wrinkles, not spots). A spot counts in a region when its centroid lies there.
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
import math

import numpy as np
import torch

from analysis.measures.base import ConcernOutput, SkinImage
from analysis.measures.binary import components, hysteresis
from analysis.measures.chromophores import unmix_chromophores
from analysis.measures.filters import gaussian_blur, inner_mask, masked_blur
from analysis.measures.regions import measurement, region_fraction, region_items
from analysis.types import FeatureMap, MapKind, Measurement

__all__ = ["measure", "melanin_index_map", "spot_mask"]

logger = logging.getLogger(__name__)

SPOT_SMOOTH_MM = 0.25
SPOT_BACKGROUND_MM = 5.0
SPOT_STRONG = 6.0  # MI units above background
SPOT_WEAK = 3.0
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


def spot_mask(mi: torch.Tensor, img: SkinImage) -> np.ndarray:
    """Binary brown-spot mask (H, W) from the melanin-index map *mi*."""
    px = 1.0 / img.scale_mm
    skin = img.skin.to(torch.bool)
    smooth = masked_blur(mi, skin, SPOT_SMOOTH_MM * px)
    bg = masked_blur(smooth, skin, SPOT_BACKGROUND_MM * px)
    first = (smooth - bg) >= SPOT_WEAK
    clean = skin & ~(gaussian_blur(first.float(), 1.0 * px) > 0.05)
    bg = masked_blur(smooth, clean, SPOT_BACKGROUND_MM * px)
    excess_t = (smooth - bg) * skin
    excess = excess_t.cpu().numpy()
    cand = hysteresis(excess >= SPOT_WEAK, excess >= SPOT_STRONG)
    labels, _, _ = components(cand)
    n = int(labels.max())
    if n == 0:
        return np.zeros(excess.shape, dtype=bool)
    sel_lab, sel_ex = labels[cand], excess[cand]
    order = np.argsort(sel_ex, kind="stable")
    peak = np.zeros(n + 1)
    peak[sel_lab[order]] = sel_ex[order]  # the last write per label is its maximum
    core = cand & (excess >= 0.5 * peak[labels])
    labels, stats, cents = components(core)
    n = int(labels.max())
    if n == 0:
        return core
    area = stats[:, 4].astype(np.float64)
    dia_mm = 2.0 * np.sqrt(area / math.pi) * img.scale_mm
    elong = _elongation(labels, n)
    keep = (dia_mm >= SPOT_DIAMETER_MM[0]) & (dia_mm <= SPOT_DIAMETER_MM[1])
    keep &= elong <= SPOT_MAX_ELONGATION
    # at the rim of the skin mask (hairline, eyelids, nostrils) the background is one-sided
    inner = inner_mask(skin, SPOT_EDGE_MM * px).cpu().numpy()
    cr = np.clip(np.round(cents[:, 1]).astype(int), 0, labels.shape[0] - 1)
    cc = np.clip(np.round(cents[:, 0]).astype(int), 0, labels.shape[1] - 1)
    keep &= inner[cr, cc]
    keep[0] = False
    return np.asarray(keep[labels], dtype=bool)


def _elongation(labels: np.ndarray, n: int) -> np.ndarray:
    """Major/minor axis ratio of each labelled component from its second moments."""
    lab = labels.ravel()
    rows, cols = np.divmod(np.arange(lab.size), labels.shape[1])
    sel = lab > 0
    lab, rows, cols = lab[sel], rows[sel].astype(np.float64), cols[sel].astype(np.float64)
    cnt = np.bincount(lab, minlength=n + 1).astype(np.float64).clip(min=1)
    mr = np.bincount(lab, rows, n + 1) / cnt
    mc = np.bincount(lab, cols, n + 1) / cnt
    dr, dc = rows - mr[lab], cols - mc[lab]
    srr = np.bincount(lab, dr * dr, n + 1) / cnt + 1 / 12
    scc = np.bincount(lab, dc * dc, n + 1) / cnt + 1 / 12
    src = np.bincount(lab, dr * dc, n + 1) / cnt
    root = np.sqrt((srr - scc) ** 2 + 4 * src**2)
    big = 0.5 * (srr + scc + root)
    small = (0.5 * (srr + scc - root)).clip(min=1e-6)
    return np.asarray(np.sqrt(big / small))


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
    spots = spot_mask(mi, img)
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
    for reg in region_items(img):
        out.append(measurement("pigmentation.ita_deg", reg.name, _median(ita, reg.mask), img))
        mean_mi = float(mi[reg.mask].mean().item())
        out.append(measurement("pigmentation.melanin_index", reg.name, mean_mi, img))
        if n_spots:
            cr = np.clip(np.round(cents[1:, 1]).astype(int), 0, spots.shape[0] - 1)
            cc = np.clip(np.round(cents[1:, 0]).astype(int), 0, spots.shape[1] - 1)
            count = int(np.count_nonzero(reg.mask_np[cr, cc]))
        else:
            count = 0
        out.append(measurement("pigmentation.spots.count", reg.name, count, img))
        area = region_fraction(spots, reg.mask_np)
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
