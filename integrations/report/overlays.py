"""Pictures drawn over a photo: zone outlines and feature maps (also burned into the
Secondary Capture), heat panels of continuous maps, and before/after difference images."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from analysis.types import FeatureMap, ImageResult, MapKind
from integrations.dicom_seg import segment_colour

__all__ = [
    "DRAW_MAX_SIDE",
    "base_rgb",
    "diff_image",
    "fit",
    "heat_image",
    "outline",
    "overlay_image",
    "paint",
    "resize_mask",
]


def outline(mask: npt.NDArray[np.bool_], width: int) -> npt.NDArray[np.bool_]:
    inner = mask.copy()
    for _ in range(width):
        shrunk = inner.copy()
        shrunk[1:, :] &= inner[:-1, :]
        shrunk[:-1, :] &= inner[1:, :]
        shrunk[:, 1:] &= inner[:, :-1]
        shrunk[:, :-1] &= inner[:, 1:]
        inner = shrunk
    return np.asarray(mask & ~inner)


#: Long side (px) at which photos are drawn for the report (900 px are placed on the page).
DRAW_MAX_SIDE = 1200


def fit(
    image: ImageResult, photo: npt.NDArray[np.uint8] | None, max_side: int | None
) -> tuple[tuple[int, int], npt.NDArray[np.uint8] | None, float]:
    """The drawing size, the photo at that size and the scale (1 = source size)."""
    h, w = image.image_shape
    f = 1.0 if not max_side or max(h, w) <= max_side else max_side / max(h, w)
    shape = (max(1, round(h * f)), max(1, round(w * f)))
    if photo is not None and photo.shape[:2] == (h, w) and f < 1.0:
        photo = np.asarray(
            cv2.resize(photo, (shape[1], shape[0]), interpolation=cv2.INTER_AREA), np.uint8
        )
    return shape, photo, f


def resize_mask(mask: npt.NDArray[np.bool_], shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    if mask.shape == shape:
        return mask
    small = cv2.resize(mask.view(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return np.asarray(small.astype(bool))


def base_rgb(
    photo: npt.NDArray[np.uint8] | None, shape: tuple[int, int]
) -> npt.NDArray[np.float32]:
    if photo is None or photo.shape[:2] != shape:
        return np.full((*shape, 3), 96.0, np.float32)
    rgb = photo if photo.ndim == 3 else np.repeat(photo[..., None], 3, axis=2)
    return rgb[..., :3].astype(np.float32)


def overlay_image(
    image: ImageResult, photo: npt.NDArray[np.uint8] | None, max_side: int | None = None
) -> Image.Image:
    """The photo with zone outlines and binary features filled in their colours.

    With *max_side*, drawn at most that many pixels on the long side (for the report; a
    12-megapixel photo is not drawn at full size for a page).
    """
    shape, photo, _ = fit(image, photo, max_side)
    out = base_rgb(photo, shape)
    width = max(1, round(max(shape) / 300))
    for zone in image.zones:
        if zone.region in ("face", "skin"):
            continue
        edge = outline(resize_mask(zone.mask, shape), width)
        out[edge] = np.asarray(segment_colour(zone.region), np.float32)
    for fmap in image.maps:
        if fmap.kind is MapKind.BINARY:
            colour = np.asarray(segment_colour(fmap.name), np.float32)
            sel = resize_mask(fmap.data, shape)
            out[sel] = 0.4 * out[sel] + 0.6 * colour
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def heat_image(
    image: ImageResult,
    fmap: FeatureMap,
    photo: npt.NDArray[np.uint8] | None,
    max_side: int | None = None,
) -> Image.Image:
    shape, photo, _ = fit(image, photo, max_side)
    out = base_rgb(photo, shape) * 0.5
    colour = np.asarray(segment_colour(fmap.name), np.float32)
    data = fmap.data
    if data.shape != shape:
        data = cv2.resize(data, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    alpha = np.clip(data, 0.0, 1.0)[..., None]
    out = (1 - alpha) * out + alpha * colour
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def paint(
    base: npt.NDArray[np.uint8],
    zones: Sequence[tuple[str, npt.NDArray[np.bool_]]],
    masks: Sequence[tuple[str, npt.NDArray[np.bool_]]],
) -> Image.Image:
    out = base.astype(np.float32)
    shape = (base.shape[0], base.shape[1])
    width = max(1, round(max(shape) / 300))
    for region, mask in zones:
        if region in ("face", "skin"):
            continue
        edge = outline(resize_mask(mask, shape), width)
        out[edge] = np.asarray(segment_colour(region), np.float32)
    for name, mask in masks:
        sel = resize_mask(mask, shape)
        out[sel] = 0.4 * out[sel] + 0.6 * np.asarray(segment_colour(name), np.float32)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def diff_image(base: npt.NDArray[np.uint8], data: npt.NDArray[np.float32]) -> Image.Image:
    """Current minus earlier over a dimmed grey photo: red = more, blue = less, hatched
    grey where the earlier photo does not reach."""
    grey = base.astype(np.float32).mean(axis=2, keepdims=True) * 0.45 + 60
    out = np.repeat(grey, 3, axis=2)
    finite = np.isfinite(data)
    d = np.where(finite, data, 0.0)
    scale = float(np.nanpercentile(np.abs(data), 99)) if finite.any() else 0.0
    scale = max(scale, 1e-3)
    a = np.clip(np.abs(d) / scale, 0, 1)[..., None]
    red = np.asarray((220, 30, 30), np.float32)
    blue = np.asarray((30, 80, 220), np.float32)
    colour = np.where((d > 0)[..., None], red, blue)
    out = (1 - a) * out + a * colour
    out[~finite] = (150, 150, 150)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
