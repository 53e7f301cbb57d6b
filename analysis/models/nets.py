"""PyTorch networks for MediaPipe's face detector, face mesh and iris models.

The four networks below are written from the layer graphs of MediaPipe's published TFLite
models (BlazeFace short-range and full-range, FaceMesh ``face_landmark`` and ``iris_landmark``;
Apache-2.0, see ``analysis/models/NOTICE``). Their weights are converted once by
:mod:`analysis.models.convert_tflite` and loaded from ``analysis/models/weights``.

Conventions kept from TensorFlow so the converted weights give the same numbers:

- inputs are NCHW float tensors in the value range each model was trained on (the runner in
  :mod:`analysis.models.face_model` prepares them);
- TensorFlow's ``SAME`` padding is asymmetric for stride 2 on even sizes (the extra row and
  column go after), which :class:`TFSamePad` reproduces before an unpadded convolution;
- skip connections that change width are padded with zero channels at the end (TFLite ``PAD``);
- reshaped detector outputs keep TensorFlow's NHWC order (anchor = (row, column, box)).

Each module registers its convolution / depthwise / PReLU layers in the order the original
Keras model created them, which is what the converter relies on to map the weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch idiom)
from torch import nn

__all__ = [
    "BlazeFaceFullRange",
    "BlazeFaceShortRange",
    "FaceMeshNet",
    "IrisNet",
    "TFSamePad",
]


class TFSamePad(nn.Module):
    """Zero padding equal to TensorFlow's ``SAME`` for a ``kernel`` x ``kernel`` window.

    ``total = max((ceil(n / stride) - 1) * stride + kernel - n, 0)``; ``total // 2`` goes before
    and the rest after (TensorFlow's rule, which differs from PyTorch's symmetric padding when
    the total is odd, e.g. a 3 x 3 kernel with stride 2 on an even size pads (0, 1)).
    """

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def _pads(self, n: int) -> tuple[int, int]:
        total = max((math.ceil(n / self.stride) - 1) * self.stride + self.kernel - n, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._pads(int(x.shape[-2]))
        left, right = self._pads(int(x.shape[-1]))
        if top == bottom == left == right == 0:
            return x
        return F.pad(x, (left, right, top, bottom))


def _conv(cin: int, cout: int, kernel: int = 1, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=0, bias=True)


def _dw(channels: int, stride: int = 1) -> nn.Conv2d:
    # Stride 1: TF SAME is symmetric (1, 1), which the convolution pads itself; stride 2 is
    # preceded by :func:`_same_pad`.
    pad = 1 if stride == 1 else 0
    return nn.Conv2d(channels, channels, 3, stride=stride, padding=pad, groups=channels, bias=True)


def _same_pad(kernel: int, stride: int) -> nn.Module:
    """Explicit TF ``SAME`` padding in front of a strided 3x3 depthwise conv (none for stride 1)."""
    return TFSamePad(kernel, stride) if stride != 1 else nn.Identity()


def _pad_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    extra = channels - int(x.shape[1])
    if extra <= 0:
        return x
    return F.pad(x, (0, 0, 0, 0, 0, extra))


class _BlazeBlock(nn.Module):
    """Depthwise 3x3 (stride 1 or 2) -> 1x1 conv, plus the skip path, then the activation.

    The skip is the input (stride 1) or a 2x2 max pool (stride 2), zero-padded in channels.
    """

    def __init__(self, cin: int, cout: int, stride: int, act: nn.Module) -> None:
        super().__init__()
        self.cout = cout
        self.stride = stride
        self.pad = _same_pad(3, stride)
        self.dw = _dw(cin, stride)
        self.pw = _conv(cin, cout)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(self.pad(x)))
        skip = F.max_pool2d(x, 2, 2) if self.stride == 2 else x
        return self.act(y + _pad_channels(skip, self.cout))  # type: ignore[no-any-return]


class BlazeFaceShortRange(nn.Module):
    """BlazeFace short-range detector: 128 x 128 RGB in [-1, 1] -> 896 anchors.

    Returns ``(regressors, classificators)`` shaped ``(N, 896, 16)`` and ``(N, 896, 1)``:
    per anchor the box centre, size and six keypoints in input pixels relative to the anchor,
    and the raw face logit.
    """

    input_size = 128

    def __init__(self) -> None:
        super().__init__()
        self.stem_pad = TFSamePad(5, 2)
        self.stem = _conv(3, 24, 5, 2)
        plan = [
            (24, 24, 1),
            (24, 28, 1),
            (28, 32, 2),
            (32, 36, 1),
            (36, 42, 1),
            (42, 48, 2),
            (48, 56, 1),
            (56, 64, 1),
            (64, 72, 1),
            (72, 80, 1),
            (80, 88, 1),
        ]
        self.backbone1 = nn.Sequential(*[_BlazeBlock(a, b, s, nn.ReLU()) for a, b, s in plan])
        self.backbone2 = nn.Sequential(
            _BlazeBlock(88, 96, 2, nn.ReLU()),
            *[_BlazeBlock(96, 96, 1, nn.ReLU()) for _ in range(4)],
        )
        self.classifier_8 = _conv(88, 2)
        self.classifier_16 = _conv(96, 6)
        self.regressor_8 = _conv(88, 32)
        self.regressor_16 = _conv(96, 96)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        h = F.relu(self.stem(self.stem_pad(x)))
        f8 = self.backbone1(h)
        f16 = self.backbone2(f8)
        c = torch.cat(
            [
                self.classifier_8(f8).permute(0, 2, 3, 1).reshape(n, -1, 1),
                self.classifier_16(f16).permute(0, 2, 3, 1).reshape(n, -1, 1),
            ],
            dim=1,
        )
        r = torch.cat(
            [
                self.regressor_8(f8).permute(0, 2, 3, 1).reshape(n, -1, 16),
                self.regressor_16(f16).permute(0, 2, 3, 1).reshape(n, -1, 16),
            ],
            dim=1,
        )
        return r, c


class _Bottleneck(nn.Module):
    """Full-range block: dw 3x3 -> 1x1 (narrow) -> ReLU -> dw 3x3 -> 1x1 (wide), skip, ReLU."""

    def __init__(self, cin: int, mid: int, cout: int, stride: int) -> None:
        super().__init__()
        self.cout = cout
        self.stride = stride
        self.pad1 = _same_pad(3, stride)
        self.dw1 = _dw(cin, stride)
        self.pw1 = _conv(cin, mid)
        self.pad2 = _same_pad(3, 1)
        self.dw2 = _dw(mid)
        self.pw2 = _conv(mid, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.pw1(self.dw1(self.pad1(x))))
        y = self.pw2(self.dw2(self.pad2(y)))
        skip = F.max_pool2d(x, 2, 2) if self.stride == 2 else x
        return F.relu(y + _pad_channels(skip, self.cout))


class _FPNStage(nn.Module):
    """Top-down step: 1x1 lateral + 1x1 of the coarser map upsampled x2, then ``n`` blocks."""

    def __init__(self, c_top: int, c_lat: int, cout: int, n: int) -> None:
        super().__init__()
        # Keras creation order: top 1x1 first, then the lateral 1x1.
        self.top = _conv(c_top, cout)
        self.lateral = _conv(c_lat, cout)
        self.blocks = nn.Sequential(*[_Bottleneck(cout, cout // 2, cout, 1) for _ in range(n)])

    def forward(self, top: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(
            F.relu(self.top(top)), scale_factor=2.0, mode="bilinear", align_corners=False
        )
        return self.blocks(F.relu(self.lateral(lateral)) + up)  # type: ignore[no-any-return]


class BlazeFaceFullRange(nn.Module):
    """BlazeFace full-range detector: 192 x 192 RGB in [-1, 1] -> 2304 anchors (48 x 48).

    Returns ``(regressors, classificators)`` shaped ``(N, 2304, 16)`` and ``(N, 2304, 1)``.
    """

    input_size = 192

    def __init__(self) -> None:
        super().__init__()
        self.stem_pad = TFSamePad(3, 2)
        self.stem = _conv(3, 32, 3, 2)

        def stage(plan: list[tuple[int, int, int, int]]) -> nn.Sequential:
            return nn.Sequential(*[_Bottleneck(*p) for p in plan])

        self.stage48 = stage(
            [(32, 8, 32, 1), (32, 8, 32, 1), (32, 12, 48, 2), (48, 12, 48, 1), (48, 16, 64, 1)]
        )
        self.stage24 = stage([(64, 24, 96, 2), (96, 32, 128, 1), (128, 32, 128, 1)])
        self.stage12 = stage([(128, 36, 144, 2), (144, 48, 192, 1), (192, 64, 256, 1)])
        self.stage6 = stage([(256, 96, 384, 2)] + [(384, 96, 384, 1)] * 3)
        self.fpn12 = _FPNStage(384, 256, 96, 2)
        self.fpn24 = _FPNStage(96, 128, 64, 2)
        self.fpn48 = _FPNStage(64, 64, 48, 1)
        self.classifier = _conv(48, 1)
        self.regressor = _conv(48, 16)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        h = F.relu(self.stem(self.stem_pad(x)))
        f48 = self.stage48(h)
        f24 = self.stage24(f48)
        f12 = self.stage12(f24)
        f6 = self.stage6(f12)
        p = self.fpn48(self.fpn24(self.fpn12(f6, f12), f24), f48)
        c = self.classifier(p).permute(0, 2, 3, 1).reshape(n, -1, 1)
        r = self.regressor(p).permute(0, 2, 3, 1).reshape(n, -1, 16)
        return r, c


class _PBlock(nn.Module):
    """FaceMesh block: dw 3x3 (stride 1/2) -> 1x1, skip (max pool when strided), PReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.cout = cout
        self.stride = stride
        self.pad = _same_pad(3, stride)
        self.dw = _dw(cin, stride)
        self.pw = _conv(cin, cout)
        self.act = nn.PReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(self.pad(x)))
        skip = F.max_pool2d(x, 2, 2) if self.stride == 2 else x
        return self.act(y + _pad_channels(skip, self.cout))  # type: ignore[no-any-return]


class FaceMeshNet(nn.Module):
    """FaceMesh landmark network: 192 x 192 RGB in [0, 1] -> 468 x 3 points and a face logit.

    Returns ``(landmarks, face_logit)`` shaped ``(N, 1404)`` (x, y in input pixels, z in the
    same scale) and ``(N, 1)``.
    """

    input_size = 192

    def __init__(self) -> None:
        super().__init__()
        self.stem_pad = TFSamePad(3, 2)
        self.stem = _conv(3, 16, 3, 2)
        self.stem_act = nn.PReLU(16)
        plan = [
            (16, 16, 1),
            (16, 16, 1),
            (16, 32, 2),
            (32, 32, 1),
            (32, 32, 1),
            (32, 64, 2),
            (64, 64, 1),
            (64, 64, 1),
            (64, 128, 2),
            (128, 128, 1),
            (128, 128, 1),
            (128, 128, 2),
            (128, 128, 1),
            (128, 128, 1),
        ]
        self.backbone = nn.Sequential(*[_PBlock(a, b, s) for a, b, s in plan])
        # Landmark head (created first in the Keras model).
        self.mesh_blocks = nn.Sequential(
            _PBlock(128, 128, 2), _PBlock(128, 128, 1), _PBlock(128, 128, 1)
        )
        self.mesh_reduce = _conv(128, 32)
        self.mesh_reduce_act = nn.PReLU(32)
        self.mesh_block = _PBlock(32, 32, 1)
        self.mesh_out = _conv(32, 1404, 3)
        # Face-presence head.
        self.flag_block = _PBlock(128, 128, 2)
        self.flag_reduce = _conv(128, 32)
        self.flag_reduce_act = nn.PReLU(32)
        self.flag_block2 = _PBlock(32, 32, 1)
        self.flag_out = _conv(32, 1, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.backbone(self.stem_act(self.stem(self.stem_pad(x))))
        m = self.mesh_reduce_act(self.mesh_reduce(self.mesh_blocks(h)))
        mesh = self.mesh_out(self.mesh_block(m)).flatten(1)
        f = self.flag_reduce_act(self.flag_reduce(self.flag_block(h)))
        flag = self.flag_out(self.flag_block2(f)).flatten(1)
        return mesh, flag


class _IrisBlock(nn.Module):
    """Iris block: 1x1 (or 2x2 stride 2) to half width, PReLU, dw 3x3, 1x1 out, skip, PReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        mid = cout // 2
        self.cout = cout
        self.stride = stride
        self.reduce = _conv(cin, mid, 2 if stride == 2 else 1, stride)
        self.reduce_act = nn.PReLU(mid)
        self.pad = _same_pad(3, 1)
        self.dw = _dw(mid)
        self.pw = _conv(mid, cout)
        self.act = nn.PReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(self.pad(self.reduce_act(self.reduce(x)))))
        skip = F.max_pool2d(x, 2, 2) if self.stride == 2 else x
        return self.act(y + _pad_channels(skip, self.cout))  # type: ignore[no-any-return]


def _iris_branch() -> nn.Sequential:
    return nn.Sequential(
        _IrisBlock(128, 128, 1),
        _IrisBlock(128, 128, 1),
        _IrisBlock(128, 128, 2),
        _IrisBlock(128, 128, 1),
        _IrisBlock(128, 128, 1),
        _IrisBlock(128, 128, 2),
        _IrisBlock(128, 128, 1),
        _IrisBlock(128, 128, 1),
    )


class IrisNet(nn.Module):
    """Iris landmark network: 64 x 64 RGB eye crop in [0, 1] -> 71 eye + 5 iris points.

    Returns ``(eye, iris)`` shaped ``(N, 213)`` and ``(N, 15)`` (x, y, z in input pixels).
    The model sees the image-left eye as it is and the image-right eye mirrored.
    """

    input_size = 64

    def __init__(self) -> None:
        super().__init__()
        self.stem_pad = TFSamePad(3, 2)
        self.stem = _conv(3, 64, 3, 2)
        self.stem_act = nn.PReLU(64)
        self.backbone = nn.Sequential(
            *[_IrisBlock(64, 64, 1) for _ in range(4)],
            _IrisBlock(64, 128, 2),
            *[_IrisBlock(128, 128, 1) for _ in range(4)],
            _IrisBlock(128, 128, 2),
        )
        self.eye_branch = _iris_branch()
        self.iris_branch = _iris_branch()
        self.eye_out = _conv(128, 213, 2)
        self.iris_out = _conv(128, 15, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.backbone(self.stem_act(self.stem(self.stem_pad(x))))
        eye = self.eye_out(self.eye_branch(h)).flatten(1)
        iris = self.iris_out(self.iris_branch(h)).flatten(1)
        return eye, iris
