"""Chromophore unmixing: optical density split into shading, melanin and haemoglobin."""

from __future__ import annotations

import torch

__all__ = ["HAEMOGLOBIN_OD", "MELANIN_OD", "optical_density", "unmix_chromophores"]

#: Optical-density spectra (R, G, B) of the chromophores in camera sRGB channels.
#: Melanin ~ lambda^-3.3 at 610/540/465 nm, normalised to 1 in red (Diffey-scaled MI);
#: oxy-haemoglobin normalised so that green - red = 1 (Dawson-scaled EI).
MELANIN_OD = (1.0, 1.5, 2.4)
HAEMOGLOBIN_OD = (0.1, 1.1, 0.65)


def optical_density(rgb_linear: torch.Tensor) -> torch.Tensor:
    """Apparent optical density ``-log10(reflectance)`` of (3, H, W) linear RGB."""
    return -torch.log10(rgb_linear.clamp(min=1e-3))


def unmix_chromophores(
    rgb_linear: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split optical density into shading, melanin and haemoglobin (Tsumura et al. 2003).

    ``OD = s (1, 1, 1) + m MELANIN_OD + h HAEMOGLOBIN_OD`` is solved per pixel; the grey
    term ``s`` absorbs shading and exposure, so ``m`` and ``h`` do not change when the
    light gets brighter or darker.

    Returns
    -------
    (shading, melanin, haemoglobin)
        (H, W) tensors in optical-density units.
    """
    od = optical_density(rgb_linear)
    basis = torch.tensor(
        [(1.0, 1.0, 1.0), MELANIN_OD, HAEMOGLOBIN_OD], dtype=torch.float64
    ).T  # columns: grey, melanin, haemoglobin
    inv = torch.linalg.inv(basis).to(device=od.device, dtype=torch.float32)
    coef = torch.einsum("ij,jhw->ihw", inv, od)
    return coef[0], coef[1], coef[2]
