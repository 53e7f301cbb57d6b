"""Oil: shine (specular highlight) area, per zone and for the T- and U-zones.

Method (see ``docs/methods/measures.md``)
-----------------------------------------
By the dichromatic reflection model (Shafer 1985) a shiny pixel is diffuse skin colour plus
white (illuminant-coloured, after white balance) light ``w``. With ``m = min(R, G, B)`` and
``Y`` the luminance in linear RGB, and ``q`` the local ratio ``m / Y`` of the surrounding
skin (masked Gaussian, sigma 4 mm, over "typical" skin: pixels whose ``m / Y`` lies
within 3 robust SDs of the skin's median, which leaves out highlights, spots and red
lesions), the white
light is ``w = (m - q Y) / (1 - q)``; diffuse shading scales ``m`` and ``Y`` together and
leaves ``w = 0``. ``m`` and ``Y`` are first smoothed at 0.3 mm (at least 1 px, against
sensor and JPEG chroma noise). A pixel shines when ``w`` is >= 12 % of the local skin
luminance (hysteresis down to 6 %) and the pixel is brighter than its surroundings; shiny
patches smaller than 0.5 mm² (or 6 px) are dropped.
Shine area % is reported per region, and for ``t_zone`` (forehead, glabella, nose, chin) and
``u_zone`` (both cheeks) when those zones exist.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from analysis.measures.base import ConcernOutput, SkinImage
from analysis.measures.binary import components, hysteresis
from analysis.measures.filters import masked_blur
from analysis.measures.regions import measurement, region_fraction, region_items
from analysis.types import FeatureMap, MapKind, Measurement

__all__ = ["T_ZONE", "U_ZONE", "measure", "shine_mask"]

logger = logging.getLogger(__name__)

BACKGROUND_MM = 4.0
SMOOTH_MM = 0.3
MIN_SMOOTH_PX = 1.0
STRONG = 0.12
WEAK = 0.06
MIN_AREA_MM2 = 0.5
MIN_AREA_PX = 6
T_ZONE = ("forehead", "glabella", "nose", "chin")
U_ZONE = ("cheek_left", "cheek_right")
_LUMA = (0.2126729, 0.7151522, 0.0721750)


def _white_fraction(
    m: torch.Tensor, y: torch.Tensor, skin: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    bg = masked_blur(torch.stack((m, y)), skin, sigma)
    y_bg = bg[1].clamp(min=1e-4)
    q = (bg[0] / y_bg).clamp(0.0, 0.95)
    w = (m - q * y) / (1.0 - q)
    return w / y_bg, y_bg


def shine_mask(img: SkinImage) -> np.ndarray:
    """Binary (H, W) mask of specular highlights on the skin."""
    rgb = img.rgb_linear.to(torch.float32)
    y = _LUMA[0] * rgb[0] + _LUMA[1] * rgb[1] + _LUMA[2] * rgb[2]
    m = rgb.min(dim=0).values
    skin = img.skin.to(torch.bool)
    px = 1.0 / img.scale_mm
    sm = masked_blur(torch.stack((m, y)), skin, max(SMOOTH_MM * px, MIN_SMOOTH_PX))
    # background from typical skin only: pixels whose whiteness m / Y is near the skin's
    # median (highlights are whiter, spots and red lesions less white)
    q_px = sm[0] / sm[1].clamp(min=1e-4)
    vals = q_px[skin]
    sub = vals[:: max(1, vals.numel() // 250_000)].cpu()
    q0 = float(sub.median().item()) if sub.numel() else 0.0
    mad = float((sub - q0).abs().median().item()) if sub.numel() else 0.0
    clean = skin & ((q_px - q0).abs() <= max(3.0 * 1.4826 * mad, 0.02))
    if int(clean.sum().item()) < 0.05 * max(1, int(skin.sum().item())):
        clean = skin
    frac, y_bg = _white_fraction(sm[0], sm[1], clean, BACKGROUND_MM * px)
    ok = skin & (sm[1] > y_bg)
    f = frac.cpu().numpy()
    ok_np = ok.cpu().numpy()
    mask = hysteresis((f >= WEAK) & ok_np, (f >= STRONG) & ok_np)
    labels, stats, _ = components(mask)
    min_area = max(MIN_AREA_MM2 * px * px, MIN_AREA_PX)
    keep = stats[:, 4] >= min_area
    keep[0] = False
    return np.asarray(keep[labels], dtype=bool)


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
