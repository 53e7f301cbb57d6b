"""MONAI array transforms that prepare photos and crops for the face networks.

All coordinates are continuous image pixels with the origin at the top-left corner of the
image: pixel ``(i, j)`` covers ``[j, j + 1] x [i, i + 1]``, so its centre is ``(j + 0.5, i + 0.5)``.
Images are channel-first tensors ``(3, H, W)`` holding 0-255 RGB values (``uint8`` or float),
on any device; the transforms return float32 tensors with 0-255 values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch idiom)
from monai.transforms.transform import Transform

__all__ = [
    "Letterbox",
    "LetterboxResize",
    "RotatedCrop",
    "RotatedRect",
]

#: Downscale a region with an anti-aliasing filter before resampling when the crop shrinks
#: it by more than this factor (bilinear sampling alone would alias fine texture).
_ANTIALIAS_ABOVE = 1.25


def _resize_aa(img: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize with an anti-aliasing filter; returns float32 0-255.

    On the CPU a ``uint8`` image is resized as ``uint8`` (PyTorch's vectorised path, about ten
    times faster than float on a photo) and converted afterwards.
    """
    if img.dtype == torch.uint8 and img.device.type != "cpu":
        img = img.to(torch.float32)
    out = F.interpolate(
        img[None], size=(height, width), mode="bilinear", align_corners=False, antialias=True
    )[0]
    return out.to(torch.float32)


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an ``H x W`` image was fitted into a ``size x size`` square (scale, then pad)."""

    size: int
    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float

    def to_image(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map square-input pixel coordinates back to image pixels."""
        return (x - self.pad_x) / self.scale_x, (y - self.pad_y) / self.scale_y


class LetterboxResize(Transform):
    """Fit a ``(3, H, W)`` image into a ``size x size`` square, keeping its aspect ratio.

    The long side is resized (bilinear with anti-aliasing) to ``size`` and the short side is
    padded equally on both sides with zeros, as MediaPipe's detector input (``keep_aspect_ratio``
    letterbox) expects. :meth:`geometry` gives the mapping back to image pixels.
    """

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        self.size = size

    def geometry(self, height: int, width: int) -> Letterbox:
        """The scale and padding used for an image of ``height`` x ``width`` pixels."""
        scale = self.size / max(height, width)
        new_h = max(1, min(self.size, round(height * scale)))
        new_w = max(1, min(self.size, round(width * scale)))
        return Letterbox(
            size=self.size,
            scale_x=new_w / width,
            scale_y=new_h / height,
            pad_x=float((self.size - new_w) // 2),
            pad_y=float((self.size - new_h) // 2),
        )

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        _, height, width = img.shape
        geo = self.geometry(int(height), int(width))
        new_h = round(height * geo.scale_y)
        new_w = round(width * geo.scale_x)
        resized = _resize_aa(img, new_h, new_w)
        left, top = int(geo.pad_x), int(geo.pad_y)
        return F.pad(resized, (left, self.size - new_w - left, top, self.size - new_h - top))


@dataclass(frozen=True, slots=True)
class RotatedRect:
    """A square region of interest: centre and side in image pixels, rotation in radians.

    The crop's x axis points along ``(cos(angle), sin(angle))`` in the image (y downwards),
    so a positive angle turns the crop clockwise on screen.
    """

    cx: float
    cy: float
    size: float
    angle: float

    def crop_to_image(
        self, points: torch.Tensor, crop_size: int, flip: bool = False
    ) -> torch.Tensor:
        """Map ``(..., >=2)`` crop-pixel points (x, y[, z]) to image pixels (z scaled alike)."""
        u = points[..., 0] / crop_size
        if flip:
            u = 1.0 - u
        v = points[..., 1] / crop_size
        lx, ly = (u - 0.5) * self.size, (v - 0.5) * self.size
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        out = points.clone()
        out[..., 0] = self.cx + cos * lx - sin * ly
        out[..., 1] = self.cy + sin * lx + cos * ly
        if points.shape[-1] > 2:
            out[..., 2:] = points[..., 2:] * (self.size / crop_size)
        return out


class RotatedCrop(Transform):
    """Resample a rotated square ROI of a ``(3, H, W)`` image into ``size x size`` pixels.

    Bilinear sampling with zeros outside the image (as MediaPipe's ImageToTensor with a zero
    border); a region larger than the output is first reduced with an anti-aliasing filter.
    ``flip`` mirrors the crop left-right (MediaPipe feeds the image-right eye mirrored).

    ``pixel_offset`` says where output pixel ``j`` samples the ROI: at ``(j + pixel_offset) / size``
    of its side (0.5 = the pixel's centre; 0 = OpenCV's ``warpAffine`` convention, which maps
    the ROI's corner to the centre of pixel 0). A network's landmark ``x`` is read back at
    ``x / size`` (:meth:`RotatedRect.crop_to_image`), so the offset must be the one the network
    was trained with, or its points move by ``pixel_offset`` crop pixels.
    """

    def __init__(self, size: int, pixel_offset: float = 0.5) -> None:
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        if not 0.0 <= pixel_offset < 1.0:
            raise ValueError(f"pixel_offset must be in [0, 1), got {pixel_offset}")
        self.size = size
        self.pixel_offset = pixel_offset

    def __call__(  # type: ignore[override]
        self, img: torch.Tensor, roi: RotatedRect, flip: bool = False
    ) -> torch.Tensor:
        _, height, width = (int(s) for s in img.shape)
        n = self.size
        cos, sin = math.cos(roi.angle), math.sin(roi.angle)
        half = 0.5 * roi.size * (abs(cos) + abs(sin)) + 2.0
        x0 = max(0, math.floor(roi.cx - half))
        y0 = max(0, math.floor(roi.cy - half))
        x1 = min(width, math.ceil(roi.cx + half))
        y1 = min(height, math.ceil(roi.cy + half))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return torch.zeros((3, n, n), dtype=torch.float32, device=img.device)
        region = img[:, y0:y1, x0:x1]
        factor = roi.size / n
        if factor > _ANTIALIAS_ABOVE:
            new_h = max(2, round((y1 - y0) / factor))
            new_w = max(2, round((x1 - x0) / factor))
            region = _resize_aa(region, new_h, new_w)
        else:
            region = region.to(torch.float32)
        rh, rw = int(region.shape[1]), int(region.shape[2])
        sx, sy = rw / (x1 - x0), rh / (y1 - y0)
        # Output pixel centres in crop coordinates -> image -> region-normalised [-1, 1].
        t = (torch.arange(n, device=img.device, dtype=torch.float32) + self.pixel_offset) / n
        u = (1.0 - t) if flip else t
        lx = (u - 0.5) * roi.size
        ly = (t - 0.5) * roi.size
        ly_g, lx_g = torch.meshgrid(ly, lx, indexing="ij")
        px = roi.cx + cos * lx_g - sin * ly_g
        py = roi.cy + sin * lx_g + cos * ly_g
        gx = (px - x0) * sx / rw * 2.0 - 1.0
        gy = (py - y0) * sy / rh * 2.0 - 1.0
        grid = torch.stack([gx, gy], dim=-1)[None]
        out = F.grid_sample(
            region[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        return out[0]
