"""Learned face models (MediaPipe BlazeFace, FaceMesh, Iris) in PyTorch, run through MONAI.

``FaceModel(device)`` loads the converted weights shipped in ``analysis/models/weights`` once;
calling it with RGB photos returns one :class:`FaceLandmarks` (or ``None``) per photo, in the
photos' own pixels. See :mod:`analysis.models.face_model` for the steps and
``analysis/models/NOTICE`` for the weights' origin and licence (Apache-2.0).
"""

from __future__ import annotations

from analysis.models.face_model import (
    IMAGE_LEFT_EYE_CORNERS,
    IMAGE_RIGHT_EYE_CORNERS,
    FaceLandmarks,
    FaceModel,
)

__all__ = [
    "IMAGE_LEFT_EYE_CORNERS",
    "IMAGE_RIGHT_EYE_CORNERS",
    "FaceLandmarks",
    "FaceModel",
]
