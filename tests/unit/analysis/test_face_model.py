"""The face model (analysis.models): networks, transforms and the FaceModel runner on real faces."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from analysis.models import (
    IMAGE_LEFT_EYE_CORNERS,
    IMAGE_RIGHT_EYE_CORNERS,
    FaceLandmarks,
    FaceModel,
)
from analysis.models.face_model import ssd_anchors
from analysis.models.nets import TFSamePad
from analysis.models.transforms import LetterboxResize, RotatedCrop, RotatedRect

DATA = Path(__file__).resolve().parents[2] / "data" / "models"

# Pupil centres from the Face Research Lab London templates (points 0 and 1 of NNN_03.tem),
# scaled with the photos from 1350 to 540 px (see tests/data/README.md).
PUPILS = {
    "london_001_03.jpg": ((226.2, 253.0), (311.4, 249.8)),
    "london_014_03.jpg": ((230.6, 232.2), (305.0, 235.4)),
}


def _load(name: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / name).convert("RGB"))


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return FaceModel("cpu")


@pytest.fixture(scope="module")
def faces(model: FaceModel) -> dict[str, FaceLandmarks | None]:
    names = sorted(PUPILS)
    return dict(zip(names, model([_load(n) for n in names]), strict=True))


def test_tf_same_pad_matches_tensorflow_rule() -> None:
    x = torch.ones(1, 1, 6, 6)
    # 3x3 stride 2 on 6: total 1 -> (0 before, 1 after); stride 1: (1, 1);
    # 5x5 stride 2 on 128: (1, 2).
    assert TFSamePad(3, 2)(x).shape[-2:] == (7, 7)
    assert TFSamePad(3, 2)(x)[0, 0, 0, 0] == 1.0  # nothing added before
    assert TFSamePad(3, 2)(x)[0, 0, -1, -1] == 0.0
    assert TFSamePad(3, 1)(x).shape[-2:] == (8, 8)
    assert TFSamePad(5, 2)._pads(128) == (1, 2)


def test_anchor_layout() -> None:
    short = ssd_anchors(128, (8, 16), (2, 6))
    full = ssd_anchors(192, (4,), (1,))
    assert short.shape == (896, 2)
    assert full.shape == (2304, 2)
    # First two anchors share the first 16x16 cell; the 513th starts the 8x8 map.
    assert torch.allclose(short[0], torch.tensor([0.5 / 16, 0.5 / 16]))
    assert torch.equal(short[0], short[1])
    assert torch.allclose(short[512], torch.tensor([0.5 / 8, 0.5 / 8]))
    assert torch.allclose(full[1], torch.tensor([1.5 / 48, 0.5 / 48]))


def test_letterbox_maps_back_to_image() -> None:
    lb = LetterboxResize(128)
    img = torch.zeros(3, 100, 200, dtype=torch.uint8)
    img[:, 40:60, 90:110] = 255
    out = lb(img)
    assert out.shape == (3, 128, 128)
    assert out.dtype == torch.float32
    geo = lb.geometry(100, 200)
    ys, xs = torch.nonzero(out[0] > 127, as_tuple=True)
    x, y = geo.to_image((xs.float() + 0.5).mean(), (ys.float() + 0.5).mean())
    assert abs(float(x) - 100.0) < 1.0
    assert abs(float(y) - 50.0) < 1.0
    assert float(out[0, 0, 64]) == 0.0  # letterbox padding rows


def test_rotated_crop_and_back_are_inverse() -> None:
    img = torch.zeros(3, 200, 300, dtype=torch.uint8)
    img[:, 118:122, 178:182] = 255  # a bright dot centred on (180, 120)
    roi = RotatedRect(150.0, 100.0, 120.0, math.radians(20.0))
    for offset in (0.0, 0.5):
        for flip in (False, True):
            crop = RotatedCrop(64, pixel_offset=offset)(img, roi, flip=flip)
            ys, xs = torch.nonzero(crop[0] > 40, as_tuple=True)
            w = crop[0, ys, xs]
            # Crop pixel j sits at x = j + offset in the frame the networks' points are read in.
            px = ((xs + offset) * w).sum() / w.sum()
            py = ((ys + offset) * w).sum() / w.sum()
            back = roi.crop_to_image(torch.stack([px, py])[None], 64, flip=flip)[0]
            assert torch.allclose(back, torch.tensor([180.0, 120.0]), atol=0.5), (
                offset,
                flip,
                back,
            )


def test_real_faces_are_found_with_pupils_within_two_percent(
    faces: dict[str, FaceLandmarks | None],
) -> None:
    for name, (left, right) in PUPILS.items():
        face = faces[name]
        assert face is not None, name
        ipd = math.dist(left, right)
        err_l = float(np.linalg.norm(face.iris_image_left[0] - left)) / ipd
        err_r = float(np.linalg.norm(face.iris_image_right[0] - right)) / ipd
        assert err_l < 0.02 and err_r < 0.02, (name, err_l, err_r)
        assert face.detection_score > 0.8
        assert face.presence > 0.9
        assert face.detector == "short_range"


def test_landmarks_shapes_and_anatomy(faces: dict[str, FaceLandmarks | None]) -> None:
    face = faces["london_001_03.jpg"]
    assert face is not None
    assert face.mesh.shape == (468, 3) and face.mesh.dtype == np.float32
    for arr in (face.iris_image_left, face.iris_image_right):
        assert arr.shape == (5, 2) and arr.dtype == np.float32
    for arr in (face.eye_contour_image_left, face.eye_contour_image_right):
        assert arr.shape == (71, 2) and arr.dtype == np.float32
    assert face.keypoints.shape == (6, 2)
    mesh = face.mesh
    # Image-left eye corners (33, 133) lie left of the image-right ones (362, 263).
    left_x = mesh[list(IMAGE_LEFT_EYE_CORNERS), 0]
    assert left_x.max() < mesh[list(IMAGE_RIGHT_EYE_CORNERS), 0].min()
    # Forehead (10) above the nose tip (1) above the upper lip (0) above the chin (152).
    assert mesh[10, 1] < mesh[1, 1] < mesh[0, 1] < mesh[152, 1]
    # The nose tip is nearer the camera (more negative z) than the face outline (234, 454).
    assert mesh[1, 2] < mesh[234, 2] and mesh[1, 2] < mesh[454, 2]
    # Iris points: centre inside the eye-lid contour's box, diameter plausible (~ 0.2 IPD).
    diameter = float(np.linalg.norm(face.iris_image_left[1] - face.iris_image_left[3]))
    ipd = float(np.linalg.norm(face.iris_image_left[0] - face.iris_image_right[0]))
    assert 0.15 < diameter / ipd < 0.3
    lid = face.eye_contour_image_left[:16]
    assert lid[:, 0].min() < face.iris_image_left[0, 0] < lid[:, 0].max()
    x, y, w, h = face.box
    assert x < mesh[1, 0] < x + w and y < mesh[1, 1] < y + h


def test_batch_gives_the_same_as_one_by_one(
    model: FaceModel, faces: dict[str, FaceLandmarks | None]
) -> None:
    together = faces["london_014_03.jpg"]  # second of a batch of two
    alone = model([_load("london_014_03.jpg")])[0]
    assert together is not None and alone is not None
    np.testing.assert_allclose(together.mesh, alone.mesh, atol=1e-2)
    np.testing.assert_allclose(together.iris_image_left, alone.iris_image_left, atol=1e-2)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_gives_the_cpu_landmarks(faces: dict[str, FaceLandmarks | None]) -> None:
    on_gpu = FaceModel("cuda")([_load(n) for n in sorted(PUPILS)])
    for name, gpu in zip(sorted(PUPILS), on_gpu, strict=True):
        cpu = faces[name]
        assert cpu is not None and gpu is not None
        assert float(np.abs(cpu.mesh[:, :2] - gpu.mesh[:, :2]).max()) < 0.5, name
        assert float(np.abs(cpu.iris_image_left - gpu.iris_image_left).max()) < 0.5, name
        assert abs(cpu.detection_score - gpu.detection_score) < 1e-3


def test_rotation_and_scale_follow_the_face(model: FaceModel) -> None:
    """A face rotated by 25 degrees gives rotated landmarks; a small face is found by full-range.

    The small face is about 130 px wide in a 1600 px frame (about 16 px at the detector's input),
    which the short-range detector misses.
    """
    img = Image.open(DATA / "london_001_03.jpg").convert("RGB")
    angle = 25.0
    rotated = np.asarray(img.rotate(angle, resample=Image.Resampling.BILINEAR))
    face, turned = model([np.asarray(img), rotated])
    assert face is not None and turned is not None
    c = 270.0
    t = math.radians(-angle)  # PIL rotates counter-clockwise on screen (y down)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    expected = (face.iris_image_left[0] - c) @ rot.T + c
    assert np.linalg.norm(turned.iris_image_left[0] - expected) < 3.0
    small = np.zeros((1600, 1600, 3), np.uint8)
    small[1000:1270, 200:470] = np.asarray(img.resize((270, 270)))
    tiny = model([small])[0]
    assert tiny is not None
    assert tiny.detector == "full_range"
    pupil = np.array(PUPILS["london_001_03.jpg"][0]) * 0.5 + (200, 1000)
    assert np.linalg.norm(tiny.iris_image_left[0] - pupil) < 2.0


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_no_face_in_pictures_without_one(model: FaceModel, name: str) -> None:
    data = pytest.importorskip("skimage.data")
    assert model([getattr(data, name)()]) == [None]


def test_no_face_in_skin_close_ups(model: FaceModel) -> None:
    face = _load("london_014_03.jpg")
    cheek, forehead = face[280:400, 170:290], face[150:225, 200:340]
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert model([cheek, forehead, noise]) == [None, None, None]


def test_scores_are_exposed_with_thresholds_off() -> None:
    data = pytest.importorskip("skimage.data")
    lenient = FaceModel(min_detection_score=0.0, min_presence=0.0)
    result = lenient([data.rocket()])[0]
    assert result is not None
    assert result.detection_score < 0.5
    assert result.presence < 0.5


def test_input_validation(model: FaceModel) -> None:
    assert model([]) == []
    with pytest.raises(ValueError, match=r"images\[0\]"):
        model([np.zeros((10, 10), np.uint8)])
    with pytest.raises(TypeError, match="uint8"):
        model([np.zeros((10, 10, 3), np.float32)])
    with pytest.raises(ValueError, match="min_detection_score"):
        FaceModel(min_detection_score=2.0)


def test_public_api_and_no_dev_only_imports() -> None:
    import subprocess
    import sys

    import analysis.models

    assert sorted(analysis.models.__all__) == [
        "FaceLandmarks",
        "FaceModel",
        "IMAGE_LEFT_EYE_CORNERS",
        "IMAGE_RIGHT_EYE_CORNERS",
    ]
    assert all(hasattr(analysis.models, name) for name in analysis.models.__all__)
    # The converter's dependencies (tflite, ai-edge-litert) are dev-only: never loaded at run time.
    code = (
        "import sys, analysis.models\n"
        "analysis.models.FaceModel('cpu')\n"
        "bad = [m for m in ('tflite', 'ai_edge_litert', 'tensorflow') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=120)
