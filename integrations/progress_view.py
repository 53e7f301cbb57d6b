"""What the outputs need to show progress: the comparison and the earlier photo of one view.

The service (``dicom_node.worker``) builds one :class:`PriorView` per current photo that has
earlier results and passes them to :func:`integrations.outputs.write_outputs` (``progress=``,
same order as ``result.images``; None for a photo without priors). The SR and the HL7 ORU
use only :attr:`PriorView.comparison`; the PDF also draws the before/after pair and the
difference maps, prepared here by :func:`before_after`.

Before/after images are prepared at drawing size: both photos are first downscaled so that
the long side is at most ``max_side`` (1200 px for the report), then registered
(:func:`analysis.registration.register`, earlier -> current), and the maps of both results
are downscaled to the same frames before :func:`analysis.registration.difference_map`. A
12-megapixel photo is therefore never warped or differenced at full size. Difference maps
are made only when the pair is fair (:attr:`analysis.registration.Registration.fair`): an
unfair pair (pose, lighting, framing) would show differences of the capture, not the skin.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from analysis.progress import Comparison
from analysis.registration import (
    DifferenceMap,
    Registration,
    difference_map,
    register,
    warp_to_current,
)
from analysis.types import FeatureMap, ImageResult, MapKind

__all__ = ["DRAW_MAX_SIDE", "BeforeAfter", "MapDifference", "PriorView", "before_after"]

logger = logging.getLogger(__name__)

#: Long side (px) at which before/after pairs are registered and drawn.
DRAW_MAX_SIDE = 1200


@dataclass(frozen=True, slots=True, eq=False)
class PriorView:
    """The progress information of one current photo.

    Parameters
    ----------
    comparison
        :func:`analysis.progress.compare` of this photo's visit values with the patient's
        earlier visits of the same view (``comparable`` may be false, with its reason).
    earlier_photo
        RGB uint8 ``(H, W, 3)`` pixels of the previous visit's photo of the same view, at its
        source size, or None when it is not available (e.g. priors read from the PACS).
    earlier_result
        The analysis of that earlier photo (its maps give the difference maps), or None.
    """

    comparison: Comparison
    earlier_photo: npt.NDArray[np.uint8] | None = None
    earlier_result: ImageResult | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.comparison, Comparison):
            raise TypeError(
                f"comparison must be an analysis.progress.Comparison, got "
                f"{type(self.comparison).__name__}"
            )
        photo = self.earlier_photo
        if photo is not None and (
            photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8
        ):
            raise ValueError(
                f"earlier_photo must be an (H, W, 3) uint8 RGB array, got shape "
                f"{photo.shape} dtype {photo.dtype}"
            )


@dataclass(frozen=True, slots=True, eq=False)
class MapDifference:
    """One feature map of the current photo minus the same map of the earlier photo."""

    name: str
    kind: MapKind
    difference: DifferenceMap


@dataclass(frozen=True, slots=True, eq=False)
class BeforeAfter:
    """A before/after pair at drawing size.

    Attributes
    ----------
    current
        The current photo, downscaled (long side <= ``max_side``).
    earlier
        The earlier photo registered into the frame of ``current`` (black where it does not
        reach).
    registration
        The registration at drawing size (its ``fair`` / ``reasons`` are the verdict).
    differences
        Per map present in both results (same name and kind), the difference map; empty when
        the pair is not fair or the earlier result has no maps.
    earlier_masks
        The binary maps of the earlier result, ``(name, mask)``, warped into the frame of
        ``current`` (to draw them on the earlier photo); empty without an earlier result.
    """

    current: npt.NDArray[np.uint8]
    earlier: npt.NDArray[np.uint8]
    registration: Registration
    differences: tuple[MapDifference, ...]
    earlier_masks: tuple[tuple[str, npt.NDArray[np.bool_]], ...] = ()


def _factor(shape: tuple[int, ...], max_side: int) -> float:
    long_side = max(shape[0], shape[1])
    return 1.0 if long_side <= max_side else max_side / long_side


def _shrink_photo(photo: npt.NDArray[np.uint8], max_side: int) -> npt.NDArray[np.uint8]:
    f = _factor(photo.shape, max_side)
    if f >= 1.0:
        return np.ascontiguousarray(photo[..., :3])
    h, w = photo.shape[:2]
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return np.asarray(cv2.resize(photo[..., :3], size, interpolation=cv2.INTER_AREA), np.uint8)


def _resize(data: npt.NDArray[Any], shape: tuple[int, int]) -> npt.NDArray[Any]:
    """A bool mask (nearest) or a float map (area) at *shape*."""
    if data.shape == shape:
        return data
    size = (shape[1], shape[0])
    if data.dtype == np.bool_:
        out = cv2.resize(data.view(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        return np.asarray(out > 0)
    return np.asarray(
        cv2.resize(data.astype(np.float32), size, interpolation=cv2.INTER_AREA), np.float32
    )


def _maps_by_name(result: ImageResult) -> dict[str, FeatureMap]:
    return {m.name: m for m in result.maps}


#: The last few before/after pairs, so the clinician and the patient report (rendered one after
#: the other from the same objects) register each pair once. Entries hold their inputs, so an
#: identity match is never a reused id.
_RECENT: list[tuple[tuple[object, object, object, int], BeforeAfter | None]] = []
_RECENT_MAX = 4
_RECENT_LOCK = threading.Lock()


def before_after(
    current_photo: npt.NDArray[np.uint8] | None,
    current_result: ImageResult,
    prior: PriorView,
    *,
    max_side: int = DRAW_MAX_SIDE,
) -> BeforeAfter | None:
    """Register the earlier photo of *prior* to the current photo and diff the common maps.

    Parameters
    ----------
    current_photo
        RGB uint8 pixels of the current photo (source size), or None.
    current_result
        Its analysis (view, zones, maps; ``image_shape`` is the frame of the maps).
    prior
        The earlier photo and result.
    max_side
        Long side of the drawing size (>= 64).

    Returns
    -------
    BeforeAfter or None
        None when either photo is missing or the registration failed (logged).

    The last few results are kept (by the identity of the inputs): rendering the clinician
    and the patient report of one study registers each pair once.
    """
    if max_side < 64:
        raise ValueError(f"max_side must be >= 64, got {max_side}")
    if current_photo is None or prior.earlier_photo is None:
        return None
    key = (current_photo, current_result, prior, max_side)
    with _RECENT_LOCK:
        for k, value in _RECENT:
            if all(a is b for a, b in zip(k[:3], key[:3], strict=True)) and k[3] == max_side:
                return value
    value = _before_after(current_photo, current_result, prior, max_side)
    with _RECENT_LOCK:
        _RECENT.append((key, value))
        del _RECENT[:-_RECENT_MAX]
    return value


def _before_after(
    current_photo: npt.NDArray[np.uint8],
    current_result: ImageResult,
    prior: PriorView,
    max_side: int,
) -> BeforeAfter | None:
    assert prior.earlier_photo is not None
    cur = _shrink_photo(current_photo, max_side)
    ear = _shrink_photo(prior.earlier_photo, max_side)
    try:
        reg = register(ear, cur, view=current_result.description.view)
    except (ValueError, cv2.error) as exc:
        logger.warning("before/after registration failed (%s)", type(exc).__name__)
        return None
    differences: list[MapDifference] = []
    earlier_result = prior.earlier_result
    small_c = (cur.shape[0], cur.shape[1])
    small_e = (ear.shape[0], ear.shape[1])
    masks: list[tuple[str, npt.NDArray[np.bool_]]] = []
    if earlier_result is not None:
        for fmap in earlier_result.maps:
            if fmap.kind is MapKind.BINARY:
                masks.append((fmap.name, warp_to_current(_resize(fmap.data, small_e), reg)))
    if reg.fair and earlier_result is not None and current_result.maps:
        zones = {
            z.region: _resize(z.mask, small_c)
            for z in current_result.zones
            if z.mask.shape == tuple(current_result.image_shape)
        }
        earlier_maps = _maps_by_name(earlier_result)
        for fmap in current_result.maps:
            other = earlier_maps.get(fmap.name)
            if other is None or other.kind is not fmap.kind:
                continue
            diff = difference_map(
                _resize(fmap.data, small_c), _resize(other.data, small_e), reg, zones
            )
            differences.append(MapDifference(fmap.name, fmap.kind, diff))
    logger.debug(
        "before/after at %dx%d: fair %s, %d difference map(s)",
        cur.shape[1],
        cur.shape[0],
        reg.fair,
        len(differences),
    )
    warped = np.asarray(reg.warped, np.uint8)
    return BeforeAfter(cur, warped, reg, tuple(differences), tuple(masks))
