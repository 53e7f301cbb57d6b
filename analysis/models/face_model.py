"""The face model: detector -> face mesh -> iris, run through MONAI on a torch device.

:class:`FaceModel` loads MediaPipe's converted networks once (:mod:`analysis.models.nets`,
weights in ``analysis/models/weights``) and maps a batch of RGB photos to
:class:`FaceLandmarks` in the photos' own pixels, following MediaPipe's face-mesh-with-iris
graph for still images:

1. **Detect** with BlazeFace short-range (128 x 128 letterbox, 896 anchors, values in [-1, 1]);
   photos where it finds nothing go through BlazeFace full-range (192 x 192, 2304 anchors),
   which finds small faces. The best-scoring face is kept, its box and six keypoints averaged
   over the overlapping anchors (weighted non-maximum suppression, IoU > 0.3).
2. **Mesh**: a square ROI 1.5 x the box's long side, rotated so the detector's eye keypoints are
   level, resampled to 192 x 192 (values in [0, 1]); FaceMesh gives 468 points (x, y, z) and
   a face-presence logit. A second pass on the ROI made from the first mesh (eye corners 33 and
   263 level, 1.5 x the landmarks' bounding box) refines it, as MediaPipe does from frame to frame.
3. **Iris**: per eye a square ROI 2.3 x the eye-corner span, level with the corners, resampled
   to 64 x 64 (the image-right eye mirrored, as the model expects); the Iris model gives 71 eye-
   contour points and 5 iris points (centre, then four on the iris edge).

The photos of one call (the views of a study) go through each network as one batch via
:class:`monai.inferers.SimpleInferer`.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt
import torch
from monai.data.meta_tensor import MetaTensor
from monai.inferers.inferer import SimpleInferer
from monai.transforms.intensity.array import ScaleIntensityRange
from torch import nn

from analysis.models.nets import BlazeFaceFullRange, BlazeFaceShortRange, FaceMeshNet, IrisNet
from analysis.models.transforms import LetterboxResize, RotatedCrop, RotatedRect

__all__ = [
    "IMAGE_LEFT_EYE_CORNERS",
    "IMAGE_RIGHT_EYE_CORNERS",
    "FaceLandmarks",
    "FaceModel",
    "ssd_anchors",
]

logger = logging.getLogger(__name__)

#: Mesh indices of the outer and inner corner of the eye on the image's left side of a frontal,
#: unmirrored photo (the patient's right eye); MediaPipe calls it the "left eye".
IMAGE_LEFT_EYE_CORNERS = (33, 133)
#: Mesh indices of the inner and outer corner of the eye on the image's right side (the
#: patient's left eye).
IMAGE_RIGHT_EYE_CORNERS = (362, 263)

#: Where FaceMesh / Iris crop pixels sample their ROI (see :class:`RotatedCrop`).
MESH_PIXEL_OFFSET = 0.0
IRIS_PIXEL_OFFSET = 0.5
_MESH_ROI_SCALE = 1.5
_IRIS_ROI_SCALE = 2.3
_NMS_IOU = 0.3
_RAW_SCORE_LIMIT = 100.0
_WEIGHT_FILES = {
    "short": "face_detection_short_range.safetensors",
    "full": "face_detection_full_range.safetensors",
    "mesh": "face_landmark.safetensors",
    "iris": "iris_landmark.safetensors",
}

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class FaceLandmarks:
    """One face found in one photo; all coordinates in that photo's pixels.

    Coordinates are continuous pixels from the image's top-left corner (the centre of pixel
    ``(row 0, column 0)`` is ``(0.5, 0.5)``); x to the right, y down.

    Attributes
    ----------
    box:
        Detector box ``(x, y, width, height)``.
    detection_score:
        Detector confidence, 0-1 (sigmoid of the best anchor's logit).
    presence:
        FaceMesh's face-presence flag after the sigmoid, 0-1 (low on non-faces).
    mesh:
        ``(468, 3)`` float32 points in MediaPipe's standard face-mesh order (so public index
        lists for lips, face oval and eyes apply); ``z`` is depth relative to the face centre
        (negative = towards the camera) in the same pixel scale as ``x``.
    iris_image_left, iris_image_right:
        ``(5, 2)`` iris points (centre, then four on the iris edge) of the eye on the image's
        left (mesh corners 33/133; the patient's right eye on an unmirrored frontal photo) and
        on the image's right (mesh corners 362/263).
    eye_contour_image_left, eye_contour_image_right:
        ``(71, 2)`` eye-contour, halo and brow points of the same eyes (the first 16 are the
        lid margin: lower lid corner to corner, then the upper lid).
    keypoints:
        ``(6, 2)`` detector keypoints: image-left eye, image-right eye, nose tip, mouth centre,
        image-left tragion, image-right tragion.
    detector:
        ``"short_range"`` or ``"full_range"``.
    """

    box: tuple[float, float, float, float]
    detection_score: float
    presence: float
    mesh: FloatArray
    iris_image_left: FloatArray
    iris_image_right: FloatArray
    eye_contour_image_left: FloatArray
    eye_contour_image_right: FloatArray
    keypoints: FloatArray
    detector: str


def ssd_anchors(input_size: int, strides: Sequence[int], per_cell: Sequence[int]) -> torch.Tensor:
    """Anchor centres ``(N, 2)`` in [0, 1] for a MediaPipe SSD head (fixed anchor size 1).

    ``strides`` lists the feature-map strides (one per distinct map) and ``per_cell`` the
    anchors per cell on each, e.g. short-range: strides (8, 16), per cell (2, 6) -> 896.
    """
    centres: list[torch.Tensor] = []
    for stride, count in zip(strides, per_cell, strict=True):
        cells = input_size // stride
        c = (torch.arange(cells, dtype=torch.float32) + 0.5) / cells
        yy, xx = torch.meshgrid(c, c, indexing="ij")
        grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
        centres.append(grid.repeat_interleave(count, dim=0))
    return torch.cat(centres)


@dataclass(frozen=True, slots=True)
class _Detection:
    score: float
    box: tuple[float, float, float, float]  # x, y, w, h (image px)
    keypoints: FloatArray  # (6, 2) image px
    detector: str


def _load(module: nn.Module, name: str, device: torch.device) -> nn.Module:
    from safetensors.torch import load

    blob = resources.files("analysis.models").joinpath("weights", _WEIGHT_FILES[name]).read_bytes()
    module.load_state_dict(load(blob))
    # NHWC is the layout oneDNN's depthwise kernels want (about 2x faster on CPU than NCHW).
    module = module.to(device)
    return module.to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload,no-any-return]


class FaceModel:
    """MediaPipe face detection, face mesh and iris for a batch of RGB photos.

    Parameters
    ----------
    device:
        Torch device for all networks (``"cpu"``, ``"cuda"``, ...). The caller owns
        ``torch.set_num_threads``.
    min_detection_score:
        Detector confidence below which no face is reported (MediaPipe's default 0.5).
    min_presence:
        Face-mesh presence below which no face is reported (MediaPipe's default 0.5).
    refine:
        Run the mesh a second time on the ROI made from the first mesh (steadier on rotated
        and three-quarter faces; costs one more mesh pass per photo).
    """

    def __init__(
        self,
        device: torch.device | str = "cpu",
        *,
        min_detection_score: float = 0.5,
        min_presence: float = 0.5,
        refine: bool = False,
    ) -> None:
        if not 0.0 <= min_detection_score <= 1.0:
            raise ValueError(f"min_detection_score must be in [0, 1], got {min_detection_score}")
        if not 0.0 <= min_presence <= 1.0:
            raise ValueError(f"min_presence must be in [0, 1], got {min_presence}")
        self.device = torch.device(device)
        self.min_detection_score = float(min_detection_score)
        self.min_presence = float(min_presence)
        self.refine = bool(refine)
        self.short_range = _load(BlazeFaceShortRange(), "short", self.device)
        self.full_range = _load(BlazeFaceFullRange(), "full", self.device)
        self.mesh_net = _load(FaceMeshNet(), "mesh", self.device)
        self.iris_net = _load(IrisNet(), "iris", self.device)
        self._anchors_short = ssd_anchors(128, (8, 16), (2, 6)).to(self.device)
        self._anchors_full = ssd_anchors(192, (4,), (1,)).to(self.device)
        self._inferer = SimpleInferer()
        self._signed_range = ScaleIntensityRange(a_min=0.0, a_max=255.0, b_min=-1.0, b_max=1.0)
        self._unit_range = ScaleIntensityRange(a_min=0.0, a_max=255.0, b_min=0.0, b_max=1.0)
        self._letterbox_short = LetterboxResize(128)
        self._letterbox_full = LetterboxResize(192)
        # Sampling conventions measured on the London templates (docs/methods/pipeline.md):
        # FaceMesh reads its crop as OpenCV warps it (offset 0; with 0.5 every point sat half a
        # crop pixel up-left, -0.011 IPD in x), Iris as pixel centres (offset 0.5; with 0 the
        # pupils moved 0.5 crop pixel the other way, median pupil error 0.9 -> 1.7 % IPD).
        self._crop_mesh = RotatedCrop(192, pixel_offset=MESH_PIXEL_OFFSET)
        self._crop_iris = RotatedCrop(64, pixel_offset=IRIS_PIXEL_OFFSET)

    # -- public -----------------------------------------------------------------------------

    def __call__(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[FaceLandmarks | None]:
        """Find the best face in each photo; ``None`` where there is none.

        Parameters
        ----------
        images:
            RGB photos, each ``(H, W, 3)`` ``uint8``.

        Returns
        -------
        list
            One entry per photo, in order.
        """
        tensors = [self._to_tensor(img, k) for k, img in enumerate(images)]
        if not tensors:
            return []
        with torch.inference_mode():
            detections = self.detect_tensors(tensors)
            found = [k for k, d in enumerate(detections) if d is not None]
            results: list[FaceLandmarks | None] = [None] * len(tensors)
            if not found:
                return results
            rois = [_roi_from_detection(detections[k]) for k in found]  # type: ignore[arg-type]
            mesh, presence = self._mesh([tensors[k] for k in found], rois)
            if self.refine:
                rois = [_roi_from_mesh(m) for m in mesh]
                mesh, presence = self._mesh([tensors[k] for k in found], rois)
            eyes = self._iris([tensors[k] for k in found], mesh)
        for j, k in enumerate(found):
            det = detections[k]
            assert det is not None
            p = float(presence[j])
            if p < self.min_presence:
                logger.debug("face detected but mesh presence %.2f below threshold", p)
                continue
            iris_l, iris_r, eye_l, eye_r = eyes[j]
            results[k] = FaceLandmarks(
                box=det.box,
                detection_score=det.score,
                presence=p,
                mesh=mesh[j].cpu().numpy().astype(np.float32),
                iris_image_left=iris_l,
                iris_image_right=iris_r,
                eye_contour_image_left=eye_l,
                eye_contour_image_right=eye_r,
                keypoints=det.keypoints,
                detector=det.detector,
            )
        return results

    # -- stages -----------------------------------------------------------------------------

    def _to_signed(self, t: torch.Tensor) -> torch.Tensor:
        return _plain(self._signed_range(t))

    def _to_unit(self, t: torch.Tensor) -> torch.Tensor:
        return _plain(self._unit_range(t))

    def _run(self, net: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One network on one NCHW batch through the MONAI inferer."""
        out = self._inferer(batch.contiguous(memory_format=torch.channels_last), net)
        first, second = out  # the face networks return two tensors
        return first, second

    def _to_tensor(self, img: npt.NDArray[np.uint8], index: int) -> torch.Tensor:
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
            shape = getattr(img, "shape", None)
            raise ValueError(f"images[{index}] must be an (H, W, 3) RGB array, got shape {shape}")
        if img.dtype != np.uint8:
            raise TypeError(f"images[{index}] must be uint8, got {img.dtype}")
        if img.shape[0] < 8 or img.shape[1] < 8:
            raise ValueError(f"images[{index}] is too small: {img.shape[:2]}")
        if not img.flags.c_contiguous:
            img = np.ascontiguousarray(img)
        # (3, H, W) uint8 view with NHWC strides: no copy on the CPU. The photo is only read
        # (sliced and resized), so a read-only array (e.g. from PIL) is shared, not copied.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            t = torch.from_numpy(img)
        return t.to(self.device).permute(2, 0, 1)

    def detect_tensors(self, tensors: Sequence[torch.Tensor]) -> list[_Detection | None]:
        """Best face per ``(3, H, W)`` 0-255 tensor: short-range, then full-range for misses."""
        out = self._detect(tensors, self.short_range, self._letterbox_short, self._anchors_short)
        misses = [k for k, d in enumerate(out) if d is None]
        if misses:
            again = self._detect(
                [tensors[k] for k in misses],
                self.full_range,
                self._letterbox_full,
                self._anchors_full,
            )
            for k, d in zip(misses, again, strict=True):
                out[k] = d
        return out

    def _detect(
        self,
        tensors: Sequence[torch.Tensor],
        net: nn.Module,
        letterbox: LetterboxResize,
        anchors: torch.Tensor,
    ) -> list[_Detection | None]:
        batch = torch.stack([self._to_signed(letterbox(t)) for t in tensors])
        raw_boxes, raw_scores = self._run(net, batch)
        size = float(letterbox.size)
        scores = torch.sigmoid(raw_scores[..., 0].clamp(-_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT))
        boxes = raw_boxes.reshape(raw_boxes.shape[0], -1, 8, 2) / size
        boxes[:, :, 0] += anchors
        boxes[:, :, 2:] += anchors[:, None, :]
        name = "short_range" if letterbox.size == 128 else "full_range"
        results: list[_Detection | None] = []
        for k, t in enumerate(tensors):
            det = _best_detection(scores[k], boxes[k], self.min_detection_score)
            if det is None:
                results.append(None)
                continue
            score, centre, wh, kps = det
            geo = letterbox.geometry(int(t.shape[1]), int(t.shape[2]))
            cx, cy = geo.to_image(centre[0] * size, centre[1] * size)
            w, h = wh[0] * size / geo.scale_x, wh[1] * size / geo.scale_y
            kx, ky = geo.to_image(kps[:, 0] * size, kps[:, 1] * size)
            results.append(
                _Detection(
                    score=score,
                    box=(float(cx - w / 2), float(cy - h / 2), float(w), float(h)),
                    keypoints=torch.stack([kx, ky], dim=1).cpu().numpy().astype(np.float32),
                    detector=name,
                )
            )
        return results

    def _mesh(
        self, tensors: Sequence[torch.Tensor], rois: Sequence[RotatedRect]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        batch = torch.stack(
            [self._to_unit(self._crop_mesh(t, r)) for t, r in zip(tensors, rois, strict=True)]
        )
        raw, flag = self._run(self.mesh_net, batch)
        points = raw.reshape(-1, 468, 3)
        mesh = torch.stack([r.crop_to_image(p, 192) for p, r in zip(points, rois, strict=True)])
        return mesh, torch.sigmoid(flag[:, 0])

    def _iris(
        self, tensors: Sequence[torch.Tensor], mesh: torch.Tensor
    ) -> list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]]:
        crops: list[torch.Tensor] = []
        rois: list[RotatedRect] = []
        for t, m in zip(tensors, mesh, strict=True):
            for corners, flip in ((IMAGE_LEFT_EYE_CORNERS, False), (IMAGE_RIGHT_EYE_CORNERS, True)):
                roi = _roi_from_points(m[list(corners), :2], m[corners[0], :2], m[corners[1], :2])
                roi = RotatedRect(roi.cx, roi.cy, roi.size * _IRIS_ROI_SCALE, roi.angle)
                rois.append(roi)
                crops.append(self._to_unit(self._crop_iris(t, roi, flip=flip)))
        eye_raw, iris_raw = self._run(self.iris_net, torch.stack(crops))
        eye_pts = eye_raw.reshape(-1, 71, 3)
        iris_pts = iris_raw.reshape(-1, 5, 3)
        out: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = []
        for j in range(len(tensors)):
            parts: list[FloatArray] = []
            for pts in (iris_pts, eye_pts):
                for side, flip in ((0, False), (1, True)):
                    i = 2 * j + side
                    mapped = rois[i].crop_to_image(pts[i], 64, flip=flip)[:, :2]
                    parts.append(mapped.cpu().numpy().astype(np.float32))
            out.append((parts[0], parts[1], parts[2], parts[3]))
        return out


def _plain(out: object) -> torch.Tensor:
    """A plain tensor from a MONAI transform's output.

    MONAI returns a ``MetaTensor``, whose metadata bookkeeping on every operation would
    otherwise follow the crops through the networks (measured: about half the CPU time).
    """
    if isinstance(out, MetaTensor):
        return out.as_tensor()
    assert isinstance(out, torch.Tensor)
    return out


def _best_detection(
    scores: torch.Tensor, boxes: torch.Tensor, min_score: float
) -> tuple[float, torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """Top anchor and the score-weighted mean of the anchors overlapping it (IoU > 0.3).

    ``boxes`` is ``(N, 8, 2)``: centre, size, six keypoints, normalised to the input square.
    """
    best = int(torch.argmax(scores))
    top = float(scores[best])
    if top < min_score:
        return None
    keep = scores >= min_score
    b = boxes[keep]
    s = scores[keep]
    lo = b[:, 0] - b[:, 1] / 2
    hi = b[:, 0] + b[:, 1] / 2
    blo = boxes[best, 0] - boxes[best, 1] / 2
    bhi = boxes[best, 0] + boxes[best, 1] / 2
    inter = (torch.minimum(hi, bhi) - torch.maximum(lo, blo)).clamp(min=0).prod(dim=1)
    union = b[:, 1].prod(dim=1) + boxes[best, 1].prod() - inter
    iou = inter / union.clamp(min=1e-9)
    cluster = iou > _NMS_IOU
    w = s[cluster] / s[cluster].sum()
    mean = (b[cluster] * w[:, None, None]).sum(dim=0)
    return top, mean[0], mean[1], mean[2:]


def _roi_from_points(points: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> RotatedRect:
    """Square ROI on the bounding box of ``points``, level with the ``start`` -> ``end`` line."""
    lo = points.min(dim=0).values
    hi = points.max(dim=0).values
    centre = (lo + hi) / 2
    side = float((hi - lo).max())
    angle = -math.atan2(-(float(end[1]) - float(start[1])), float(end[0]) - float(start[0]))
    return RotatedRect(float(centre[0]), float(centre[1]), side, angle)


def _roi_from_detection(det: _Detection) -> RotatedRect:
    x, y, w, h = det.box
    kp = det.keypoints
    angle = -math.atan2(-(float(kp[1, 1]) - float(kp[0, 1])), float(kp[1, 0]) - float(kp[0, 0]))
    return RotatedRect(x + w / 2, y + h / 2, max(w, h) * _MESH_ROI_SCALE, angle)


def _roi_from_mesh(mesh: torch.Tensor) -> RotatedRect:
    roi = _roi_from_points(mesh[:, :2], mesh[33, :2], mesh[263, :2])
    return RotatedRect(roi.cx, roi.cy, roi.size * _MESH_ROI_SCALE, roi.angle)
