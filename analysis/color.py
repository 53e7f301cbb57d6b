"""Colour conversions in float, on any torch device.

sRGB is decoded to linear light (IEC 61966-2-1) before any index is computed; CIELAB is
computed in float from linear sRGB with the D65 white (CIE 15:2004), not with OpenCV's 8-bit
Lab scaling. Tensors are channel-first: ``(..., 3, H, W)``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from analysis.errors import InputRejected

__all__ = [
    "D65_WHITE",
    "RGB_TO_XYZ",
    "grey_world_gains",
    "iterative_grey_gains",
    "linear_rgb_to_lab",
    "linear_to_srgb",
    "srgb_to_linear",
    "to_unit_float",
]

#: Linear sRGB -> CIE XYZ (D65), IEC 61966-2-1.
RGB_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
#: D65 reference white (Y = 1).
D65_WHITE = (0.95047, 1.0, 1.08883)
_MAX_REFERENCE = 50_000


def to_unit_float(
    image: npt.NDArray[np.generic], device: torch.device | None = None
) -> torch.Tensor:
    """Convert an (H, W, 3) uint8/uint16 (or float in [0, 1]) RGB array to a (3, H, W) tensor.

    Raises
    ------
    InputRejected
        The array is not (H, W, 3) or has an unsupported dtype.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputRejected(f"image must be (H, W, 3) RGB, got shape {image.shape}")
    if image.dtype == np.uint8:
        scale = 255.0
    elif image.dtype == np.uint16:
        scale = 65535.0
    elif image.dtype in (np.float32, np.float64):
        scale = 1.0
    else:
        raise InputRejected(f"image dtype must be uint8, uint16 or float, got {image.dtype}")
    t = torch.from_numpy(np.ascontiguousarray(image)).to(device=device, dtype=torch.float32)
    return (t / scale).permute(2, 0, 1).clamp_(0.0, 1.0).contiguous()


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """Decode sRGB values in [0, 1] to linear light (IEC 61966-2-1 transfer function)."""
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """Encode linear light in [0, 1] to sRGB values (for display only)."""
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1.0 / 2.4) - 0.055)


def _f(t: torch.Tensor) -> torch.Tensor:
    eps = 216.0 / 24389.0
    kappa = 24389.0 / 27.0
    return torch.where(t > eps, t.clamp(min=eps) ** (1.0 / 3.0), (kappa * t + 16.0) / 116.0)


def linear_rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """Linear sRGB ``(..., 3, H, W)`` -> CIELAB (D65) ``(..., 3, H, W)``, L* in [0, 100]."""
    m = torch.tensor(RGB_TO_XYZ, dtype=rgb.dtype, device=rgb.device)
    xyz = torch.einsum("ij,...jhw->...ihw", m, rgb)
    white = torch.tensor(D65_WHITE, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    f = _f(xyz / white)
    fx, fy, fz = f.unbind(-3)
    lab = torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)
    return lab


def grey_world_gains(
    rgb_linear: torch.Tensor,
    mask: torch.Tensor | None = None,
    max_gain: float = 2.0,
    grey_fraction: float | None = 0.3,
) -> torch.Tensor:
    """Grey-world white-balance gains ``(3,)`` for a linear ``(3, H, W)`` image.

    The reference pixels (*mask*, default all) exclude clipped (any channel >= 0.98) and
    black (max channel <= 0.01) pixels. With *grey_fraction* set, only that fraction of the
    least saturated reference pixels is used ("grey pixels", after Huo et al., IEEE Trans.
    Consumer Electronics 52(2), 2006): a coloured object in the scene (a flag, a shirt)
    then does not pull the balance, while a global cast still moves those pixels with it.
    Each channel's mean is brought to the luminance of the mean colour (Rec. 709 weights),
    so the mean luminance and hence the exposure are unchanged: only the chromatic cast is
    removed. Gains are clamped to ``[1 / max_gain, max_gain]``; with too few reference
    pixels the gains are 1.
    """
    if rgb_linear.ndim != 3 or rgb_linear.shape[0] != 3:
        raise InputRejected(f"rgb_linear must be (3, H, W), got {tuple(rgb_linear.shape)}")
    if grey_fraction is not None and not 0.0 < grey_fraction <= 1.0:
        raise ValueError(f"grey_fraction must be in (0, 1], got {grey_fraction}")
    mx = rgb_linear.amax(0)
    valid = (mx < 0.98) & (mx > 0.01)
    if mask is not None:
        valid &= mask
    ones = torch.ones(3, dtype=rgb_linear.dtype, device=rgb_linear.device)
    if int(valid.sum()) < 100:
        return ones
    if grey_fraction is not None and grey_fraction < 1.0:
        sat = (mx - rgb_linear.amin(0)) / mx.clamp(min=1e-6)
        vals = sat[valid]
        k = max(1, int(grey_fraction * vals.numel()))
        thr = vals.kthvalue(k).values
        valid &= sat <= thr
    n = int(valid.sum())
    w = valid.to(rgb_linear.dtype)
    means = (rgb_linear * w).sum(dim=(1, 2)) / max(n, 1)
    if bool((means <= 1e-6).any()):
        return ones
    lum = torch.tensor(RGB_TO_XYZ[1], dtype=rgb_linear.dtype, device=rgb_linear.device)
    grey = (lum * means).sum()
    return (grey / means).clamp(1.0 / max_gain, max_gain)


def iterative_grey_gains(
    rgb_linear: torch.Tensor,
    mask: torch.Tensor | None = None,
    max_gain: float = 2.0,
    grey_fraction: float = 0.3,
    clip_level: float = 0.8,
    iterations: int = 30,
) -> torch.Tensor:
    """Grey-pixel white-balance gains ``(3,)``, re-selecting the grey pixels after balancing.

    :func:`grey_world_gains` picks the least saturated pixels *of the unbalanced image*:
    under a colour cast those are the pixels whose own tint happens to cancel the cast, so
    the correction falls short. Here the selection is repeated on the image balanced with
    the current gains (up to *iterations* times, until the gains move by < 0.01 %; each
    round removes a fraction of the remaining cast, quickly when the scene holds neutral
    surfaces, ~20 % per round on a scene of uniformly tinted greys, on which 30 rounds leave
    < 1 %). At the fixed point the selected pixels average
    to grey, and the fixed point of ``c * image`` (a pure per-channel cast ``c``) is the
    fixed point of ``image`` divided by ``c``: the balanced result does not depend on the
    cast. Reference pixels (*mask*) exclude those with any channel >= *clip_level* (linear
    0.8 = sRGB 0.91: such pixels clip under a small cast or brightening, and a clipped
    channel has lost its colour) and black ones (max <= 0.01). The mean luminance is kept
    (Rec. 709 weights) and gains are clamped to ``[1 / max_gain, max_gain]``; with fewer than
    100 reference pixels the gains are 1.
    """
    if rgb_linear.ndim != 3 or rgb_linear.shape[0] != 3:
        raise InputRejected(f"rgb_linear must be (3, H, W), got {tuple(rgb_linear.shape)}")
    if not 0.0 < grey_fraction <= 1.0:
        raise ValueError(f"grey_fraction must be in (0, 1], got {grey_fraction}")
    if not 0.0 < clip_level <= 1.0:
        raise ValueError(f"clip_level must be in (0, 1], got {clip_level}")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    mx = rgb_linear.amax(0)
    valid = (mx < clip_level) & (mx > 0.01)
    if mask is not None:
        valid &= mask
    ones = torch.ones(3, dtype=rgb_linear.dtype, device=rgb_linear.device)
    if int(valid.sum()) < 100:
        return ones
    px = rgb_linear[:, valid]  # (3, N)
    if px.shape[1] > _MAX_REFERENCE:  # an evenly strided subsample keeps each round cheap
        px = px[:, :: px.shape[1] // _MAX_REFERENCE + 1]
    lum = torch.tensor(RGB_TO_XYZ[1], dtype=rgb_linear.dtype, device=rgb_linear.device)
    gains = ones
    for _ in range(iterations):
        bal = px * gains.view(3, 1)
        bmx = bal.amax(0)
        sat = (bmx - bal.amin(0)) / bmx.clamp(min=1e-6)
        k = max(1, int(grey_fraction * sat.numel()))
        sel = sat <= sat.kthvalue(k).values
        means = px[:, sel].mean(dim=1)
        if bool((means <= 1e-6).any()):
            return ones
        new = ((lum * means).sum() / means).clamp(1.0 / max_gain, max_gain)
        if bool(torch.allclose(new, gains, rtol=1e-4, atol=0.0)):
            return new
        gains = new
    return gains
