"""Texture: roughness and uniformity of the skin surface.

Methods (see ``docs/methods/measures.md``)
------------------------------------------
Both work on log-luminance ``100 ln Y`` (Y from linear RGB), so that a change of exposure or
smooth shading, which multiplies Y, does not change them.

* **Roughness**: the RMS of a difference-of-Gaussians band-pass (sigma 0.1 mm minus sigma
  1.0 mm, i.e. structures of roughly 0.2-2 mm: pores, fine lines, micro-relief) over the
  region. Both blurs are masked (normalised) convolutions over the skin, so eyes, brows or
  background next to the region do not leak in. In percent luminance contrast. This is a
  texture-energy measure in the sense of Laws (1980), with a single band.
* **Uniformity**: ``1 / (1 + CV)`` where CV is the coefficient of variation, over the
  region, of the local band-pass energy (RMS in a Gaussian window of sigma 2 mm). 1 means
  the same roughness everywhere; patches of rough skin next to smooth skin lower it.
  In (0, 1], higher = more uniform.

Coarser than 0.5 mm per working pixel the band is not resolved and nothing is reported.
"""

from __future__ import annotations

import logging

import torch

from analysis.measures.base import ConcernOutput, SkinImage
from analysis.measures.filters import masked_blur
from analysis.measures.regions import measurement, region_items
from analysis.types import Measurement

__all__ = ["band_pass", "measure"]

logger = logging.getLogger(__name__)

FINE_SIGMA_MM = 0.1
COARSE_SIGMA_MM = 1.0
WINDOW_SIGMA_MM = 2.0
MIN_SIGMA_PX = 0.5
#: Coarsest working resolution at which the 0.2-2 mm band is still (partly) resolved.
MAX_SCALE_MM = COARSE_SIGMA_MM / 2.0
_LUMA = (0.2126729, 0.7151522, 0.0721750)


def band_pass(img: SkinImage) -> torch.Tensor:
    """DoG band-pass of ``100 ln Y`` over the skin (0 outside it)."""
    rgb = img.rgb_linear.to(torch.float32)
    y = _LUMA[0] * rgb[0] + _LUMA[1] * rgb[1] + _LUMA[2] * rgb[2]
    logy = 100.0 * torch.log(y.clamp(min=1e-3))
    skin = img.skin.to(torch.bool)
    fine = masked_blur(logy, skin, max(FINE_SIGMA_MM / img.scale_mm, MIN_SIGMA_PX))
    coarse = masked_blur(logy, skin, COARSE_SIGMA_MM / img.scale_mm)
    return torch.where(skin, fine - coarse, torch.zeros_like(fine))


@torch.no_grad()
def measure(img: SkinImage) -> ConcernOutput:
    """Measure texture roughness and uniformity on *img* (see the module docstring).

    Returns no measurement when the working resolution is coarser than
    :data:`MAX_SCALE_MM` (see :func:`analysis.measures.unresolved`).
    """
    if img.scale_mm > MAX_SCALE_MM:
        logger.info("texture not measured: %.3f mm/px is too coarse", img.scale_mm)
        return ConcernOutput(())
    band = band_pass(img)
    skin = img.skin.to(torch.bool)
    local = torch.sqrt(masked_blur(band**2, skin, WINDOW_SIGMA_MM / img.scale_mm).clamp(min=0))
    out: list[Measurement] = []
    for reg in region_items(img):
        b = band[reg.mask]
        rough = float(torch.sqrt((b**2).mean()).item())
        e = local[reg.mask]
        mean_e = float(e.mean().item())
        cv = float(e.std(unbiased=False).item()) / mean_e if mean_e > 1e-9 else 0.0
        out.append(measurement("texture.roughness", reg.name, rough, img))
        out.append(measurement("texture.uniformity", reg.name, 1.0 / (1.0 + cv), img))
    logger.debug("texture: %d regions", len(out) // 2)
    return ConcernOutput(tuple(out))
