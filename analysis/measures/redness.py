"""Redness: erythema index, red area and inflamed (acne-type) lesions.

Methods (see ``docs/methods/measures.md``)
------------------------------------------
* **Erythema index**: the haemoglobin term of the per-pixel optical-density unmixing
  (Tsumura et al. 2003; see :func:`analysis.measures.chromophores.unmix_chromophores`), scaled so
  that it equals Dawson's ``EI = 100 [log10(1/R_green) - log10(1/R_red)]`` (Dawson et al.
  1980) for pure haemoglobin, with shading and melanin removed. The region value is the mean.
* **Red area %**: pixels whose erythema index, smoothed at 0.5 mm, exceeds the robust skin
  baseline (the median over ``face`` or ``skin``) by >= 6 EI units.
* **Red lesions**: visible red macules/papules (:mod:`analysis.measures.contrast`), found as
  brown spots are but on the haemoglobin excess: mean colour >= 2.0 CIEDE2000 from the
  shading-matched local background and >= 1.8 from the skin ring around it, haemoglobin
  excess larger than melanin's, equivalent diameter 1.5-10 mm, elongation <= 3 (<= 2 for a
  piece of a re-cut), solidity >= 0.7, centre >= 1.5 mm inside the skin.
  A lesion counts in the region holding its centre.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from analysis.measures.base import ConcernOutput, SkinImage
from analysis.measures.binary import components
from analysis.measures.chromophores import unmix_chromophores
from analysis.measures.contrast import contrast_of, filled_regions, patches
from analysis.measures.filters import masked_blur
from analysis.measures.regions import measurement, region_fraction, region_items
from analysis.types import FeatureMap, MapKind, Measurement

__all__ = ["erythema_index_map", "measure"]

logger = logging.getLogger(__name__)

RED_SMOOTH_MM = 0.5
RED_EXCESS = 6.0  # EI units above the skin baseline
LESION_DIAMETER_MM = (1.5, 10.0)
LESION_MAX_ELONGATION = 3.0
LESION_EDGE_MM = 1.5  # lesion centres at least this far inside the skin mask
ERYTHEMA_MAP_MAX = 50.0


def erythema_index_map(img: SkinImage) -> torch.Tensor:
    """Dawson-scaled erythema index per pixel (100 x haemoglobin OD, green minus red)."""
    _, _, hb = unmix_chromophores(img.rgb_linear)
    return 100.0 * hb


def _baseline_region(img: SkinImage) -> torch.Tensor:
    for name in ("face", "skin"):
        if name in img.regions:
            return img.regions[name].to(torch.bool)
    return img.skin.to(torch.bool)


@torch.no_grad()
def measure(img: SkinImage) -> ConcernOutput:
    """Measure redness on *img* (see the module docstring)."""
    px = 1.0 / img.scale_mm
    ei = erythema_index_map(img)
    skin = img.skin.to(torch.bool)
    base_mask = _baseline_region(img)
    vals = ei[base_mask]
    baseline = float(vals.median().item()) if vals.numel() else 0.0
    smooth = masked_blur(ei, skin, RED_SMOOTH_MM * px)
    red = ((smooth - baseline >= RED_EXCESS) & skin).cpu().numpy()

    lc = contrast_of(img)
    lesions = patches(
        lc,
        "red",
        img.scale_mm,
        diameter_mm=LESION_DIAMETER_MM,
        max_elongation=LESION_MAX_ELONGATION,
        edge_mm=LESION_EDGE_MM,
    )
    labels, _, cents = components(lesions)
    n_les = int(labels.max())
    rows = np.clip(np.round(cents[1:, 1]).astype(int), 0, lesions.shape[0] - 1)
    cols = np.clip(np.round(cents[1:, 0]).astype(int), 0, lesions.shape[1] - 1)

    filled = filled_regions(img)
    out: list[Measurement] = []
    for reg in region_items(img):
        mean_ei = float(ei[reg.mask].mean().item())
        out.append(measurement("redness.erythema_index", reg.name, mean_ei, img))
        out.append(
            measurement("redness.area_pct", reg.name, region_fraction(red, reg.mask_np), img)
        )
        count = int(np.count_nonzero(filled[reg.name][rows, cols])) if n_les else 0
        out.append(measurement("redness.lesions.count", reg.name, count, img))

    maps = (
        FeatureMap(
            "erythema",
            "redness",
            MapKind.CONTINUOUS,
            (ei / ERYTHEMA_MAP_MAX).clamp(0.0, 1.0).cpu().numpy().astype(np.float32),
            "Erythema index (OD unmixing, Dawson-scaled) / 50, clipped to [0, 1]",
        ),
        FeatureMap(
            "red_areas",
            "redness",
            MapKind.BINARY,
            red,
            "Erythema index >= skin median + 6",
        ),
        FeatureMap(
            "red_lesions",
            "redness",
            MapKind.BINARY,
            lesions,
            "Red lesions: visible (CIEDE2000 >= 2) haemoglobin patches 1.5-10 mm",
        ),
    )
    logger.debug("redness: baseline EI %.1f, %d lesions", baseline, n_les)
    return ConcernOutput(tuple(out), maps)
