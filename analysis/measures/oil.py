"""Oil: shine (specular highlight) area, per zone and for the T- and U-zones.

Method (see ``docs/methods/measures.md``)
-----------------------------------------
By the dichromatic reflection model (Shafer 1985) a shiny pixel is diffuse skin colour plus
white (illuminant-coloured, after white balance) light ``w``. With ``m = min(R, G, B)`` and
``Y`` the luminance in linear RGB, and ``q`` the local ratio ``m / Y`` of the surrounding
skin (masked Gaussian, sigma 4 mm, recomputed without the first-pass highlights), the white
light is ``w = (m - q Y) / (1 - q)``; diffuse shading scales ``m`` and ``Y`` together and
leaves ``w = 0``. A pixel shines when ``w``, smoothed at 0.2 mm, is >= 10 % of the local
skin luminance (hysteresis down to 5 %) and the pixel is brighter than its surroundings.
Shine area % is reported per region, and for ``t_zone`` (forehead, glabella, nose, chin) and
``u_zone`` (both cheeks) when those zones exist.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from analysis.measures.base import ConcernOutput, SkinImage
from analysis.measures.filters import (
    gaussian_blur,
    hysteresis,
    masked_blur,
    measurement,
    region_fraction,
    region_items,
)
from analysis.types import FeatureMap, MapKind, Measurement

__all__ = ["T_ZONE", "U_ZONE", "measure", "shine_mask"]

logger = logging.getLogger(__name__)

BACKGROUND_MM = 4.0
SMOOTH_MM = 0.2
STRONG = 0.10
WEAK = 0.05
T_ZONE = ("forehead", "glabella", "nose", "chin")
U_ZONE = ("cheek_left", "cheek_right")
_LUMA = (0.2126729, 0.7151522, 0.0721750)


def _white_fraction(
    m: torch.Tensor, y: torch.Tensor, skin: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    q = masked_blur(m, skin, sigma) / masked_blur(y, skin, sigma).clamp(min=1e-4)
    q = q.clamp(0.0, 0.95)
    y_bg = masked_blur(y, skin, sigma).clamp(min=1e-4)
    w = (m - q * y) / (1.0 - q)
    return w / y_bg, y_bg


def shine_mask(img: SkinImage) -> np.ndarray:
    """Binary (H, W) mask of specular highlights on the skin."""
    rgb = img.rgb_linear.to(torch.float32)
    y = _LUMA[0] * rgb[0] + _LUMA[1] * rgb[1] + _LUMA[2] * rgb[2]
    m = rgb.min(dim=0).values
    skin = img.skin.to(torch.bool)
    px = 1.0 / img.scale_mm
    sigma = BACKGROUND_MM * px
    frac, _ = _white_fraction(m, y, skin, sigma)
    first = gaussian_blur(frac, SMOOTH_MM * px) >= WEAK
    clean = skin & ~(gaussian_blur(first.float(), 1.0 * px) > 0.05)
    if int(clean.sum().item()) < 0.05 * int(skin.sum().item()):
        clean = skin
    frac, y_bg = _white_fraction(m, y, clean, sigma)
    frac = gaussian_blur(frac, SMOOTH_MM * px)
    brighter = gaussian_blur(y, SMOOTH_MM * px) > y_bg
    ok = skin & brighter
    f = frac.cpu().numpy()
    ok_np = ok.cpu().numpy()
    return hysteresis((f >= WEAK) & ok_np, (f >= STRONG) & ok_np)


@torch.no_grad()
def measure(img: SkinImage) -> ConcernOutput:
    """Measure the shine area on *img* (see the module docstring)."""
    shine = shine_mask(img)
    out: list[Measurement] = []
    masks: dict[str, np.ndarray] = {}
    for reg in region_items(img):
        masks[reg.name] = reg.mask_np
        out.append(
            measurement("oil.shine_area_pct", reg.name, region_fraction(shine, reg.mask_np), img)
        )
    for name, parts in (("t_zone", T_ZONE), ("u_zone", U_ZONE)):
        present = [masks[p] for p in parts if p in masks]
        if present and name not in masks:
            union = np.logical_or.reduce(present)
            out.append(measurement("oil.shine_area_pct", name, region_fraction(shine, union), img))
    maps = (
        FeatureMap(
            "shine",
            "oil",
            MapKind.BINARY,
            shine,
            "Shine: specular white light >= 10 % of local skin luminance (dichromatic model)",
        ),
    )
    logger.debug("oil: %d shine px", int(shine.sum()))
    return ConcernOutput(tuple(out), maps)
