"""``dermnode analyze PATH... --out DIR``: one-shot analysis of DICOM files or images.

DICOM files are recognised by their ``DICM`` preamble (PS3.10 7.1) and decoded by
:mod:`dicom_node.decode`; anything else is opened with Pillow (PNG, JPEG, TIFF ...) with its
EXIF orientation applied. All inputs are read first (an unreadable one stops the command
with a message naming it and exit status 2), then analysed together as one study. The JSON
of DESIGN.md §5 goes to stdout; with ``--out`` also ``result.json`` and one PNG overlay per
image (zones outlined, feature maps tinted).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from analysis.errors import DermNodeError, InputRejected
from analysis.treatment import TreatmentSupport
from analysis.types import AnalysisResult, ImageDescription, ImageResult, MapKind, View
from dicom_node import setup

__all__ = ["LoadedInput", "analyze_command", "load_inputs", "render_overlay"]

logger = logging.getLogger(__name__)

#: Overlay colours (RGB) per feature map name.
MAP_COLOURS: dict[str, tuple[int, int, int]] = {
    "spots": (140, 70, 20),
    "red_areas": (255, 60, 60),
    "red_lesions": (200, 0, 0),
    "pores": (40, 110, 255),
    "wrinkles": (255, 220, 0),
    "fine_lines": (255, 160, 0),
    "shine": (0, 230, 230),
}
_OVERLAY_LONG_SIDE = 2048


@dataclass(frozen=True, slots=True, eq=False)
class LoadedInput:
    """One decoded input: pixels, description and (for DICOM) the source dataset."""

    path: Path
    pixels: npt.NDArray[Any]
    description: ImageDescription
    dataset: Any = None  # pydicom Dataset for DICOM inputs (for the SR/SEG outputs)


def _load_image(path: Path, view: View, spacing_mm: float | None) -> LoadedInput:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            im = ImageOps.exif_transpose(opened)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey
                arr16 = np.array(im, dtype=np.uint16)
                pixels: npt.NDArray[Any] = np.repeat(arr16[..., None], 3, axis=2)
            else:
                pixels = np.array(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputRejected(f"{path}: not a readable image ({exc})") from exc
    desc = ImageDescription(source=str(path), view=view, spacing_mm=spacing_mm)
    return LoadedInput(path, np.ascontiguousarray(pixels), desc)


def load_inputs(
    paths: Sequence[str | Path], view: str | None = None, spacing_mm: float | None = None
) -> list[LoadedInput]:
    """Read every input (DICOM frames become separate inputs).

    *view* and *spacing_mm* apply to ordinary images; a DICOM file's own attributes win,
    unless *view* is given explicitly.

    Raises
    ------
    InputRejected
        A path is missing or cannot be decoded (the message names it).
    """
    from dicom_node.decode import decode_dataset, is_dicom_file

    v = View(view) if view is not None else View.FRONTAL
    out: list[LoadedInput] = []
    for raw in paths:
        p = Path(raw)
        if not p.is_file():
            raise InputRejected(f"{p}: no such file")
        if is_dicom_file(p):
            import pydicom

            try:
                ds = pydicom.dcmread(str(p))
            except Exception as exc:  # pydicom raises many types for a broken file
                raise InputRejected(f"{p}: not a readable DICOM file ({exc})") from exc
            for dec in decode_dataset(ds, source=str(p)):
                d = dec.description
                desc = ImageDescription(
                    source=d.source,
                    view=v if view is not None else d.view,
                    spacing_mm=d.spacing_mm if d.spacing_mm is not None else spacing_mm,
                    body_site=d.body_site,
                )
                out.append(LoadedInput(p, dec.pixels, desc, ds))
        else:
            out.append(_load_image(p, v, spacing_mm))
    return out


def render_overlay(
    pixels: npt.NDArray[Any], result: ImageResult, long_side: int = _OVERLAY_LONG_SIDE
) -> npt.NDArray[np.uint8]:
    """An RGB uint8 overlay: binary maps tinted, zone outlines in white, reduced in size."""
    import cv2

    rgb = pixels if pixels.dtype == np.uint8 else (pixels >> 8).astype(np.uint8)
    h, w = rgb.shape[:2]
    f = min(1.0, long_side / max(h, w))
    size = (max(1, round(w * f)), max(1, round(h * f)))

    def small(mask: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
        m: npt.NDArray[Any] = mask.astype(np.uint8)
        if f < 1.0:
            m = cv2.resize(m, size, interpolation=cv2.INTER_NEAREST)
        return m.astype(bool)

    out = rgb.copy() if f >= 1.0 else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    out = out.astype(np.float32)
    for fm in result.maps:
        if fm.kind is not MapKind.BINARY:
            continue
        colour = np.array(MAP_COLOURS.get(fm.name, (255, 0, 255)), np.float32)
        m = small(fm.data)
        out[m] = 0.45 * out[m] + 0.55 * colour
    out8 = np.clip(out, 0, 255).astype(np.uint8)
    for z in result.zones:
        if z.region in ("face", "skin"):
            continue
        contours, _ = cv2.findContours(
            small(z.mask).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        cv2.drawContours(out8, contours, -1, (255, 255, 255), 1)
    return out8


def _safe_name(i: int, path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem)[:60] or "image"
    return f"{i:02d}_{stem}_overlay.png"


def _document(
    result: AnalysisResult, outputs: dict[str, Any], support: TreatmentSupport | None
) -> dict[str, Any]:
    doc = result.to_json(outputs)
    if support is not None:
        doc["treatment_support"] = support.to_json()
    return doc


def _write_outputs(
    result: AnalysisResult,
    inputs: Sequence[LoadedInput],
    out_dir: Path,
    language: str = "en",
    support: TreatmentSupport | None = None,
) -> dict[str, Any]:
    """Write overlays; return the ``outputs`` object of the JSON (paths as strings)."""
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    overlays: list[str] = []
    for i, (inp, img) in enumerate(zip(inputs, result.images, strict=True)):
        path = out_dir / _safe_name(i, inp.path)
        Image.fromarray(render_overlay(inp.pixels, img)).save(path)
        overlays.append(str(path))
    outputs: dict[str, Any] = {"overlays": overlays}
    from integrations.outputs import write_outputs

    photos = [inp.pixels if inp.pixels.dtype == np.uint8 else None for inp in inputs]
    outputs.update(
        write_outputs(
            result,
            [i.dataset for i in inputs],
            out_dir,
            photos=photos,
            patient_languages=(language,),
            treatment=support,
        )
    )
    return outputs


def analyze_command(
    paths: Sequence[str],
    out: str | None = None,
    view: str | None = None,
    spacing_mm: float | None = None,
    device: str = "auto",
    language: str = "en",
    rules: str | None = None,
) -> int:
    """Run ``dermnode analyze``; returns the exit status (0 ok, 2 bad input, 1 failure)."""
    setup.apply()
    try:
        if view is not None:
            View(view)
        inputs = load_inputs(paths, view=view, spacing_mm=spacing_mm)
        rule_set = None
        if rules is not None:
            from dicom_node.treatment import load_clinic_rules

            rule_set = load_clinic_rules(rules)
    except (InputRejected, ValueError) as exc:
        print(f"dermnode analyze: {exc}", file=sys.stderr)
        return 2
    from analysis.pipeline import Analyzer

    try:
        analyzer = Analyzer(device)
        result = analyzer.analyze_many((i.pixels, i.description) for i in inputs)
    except (DermNodeError, ValueError) as exc:
        print(f"dermnode analyze: analysis failed: {exc}", file=sys.stderr)
        return 1
    support = None
    if rule_set is not None:
        from analysis.treatment import evaluate

        support = evaluate(rule_set.rules, result, rule_set=rule_set.name)
    outputs: dict[str, Any] = {}
    if out is not None:
        out_dir = Path(out)
        outputs = _write_outputs(result, inputs, out_dir, language, support)
        doc = _document(result, outputs, support)
        (out_dir / "result.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(_document(result, outputs, support), indent=2))
    logger.info("analysed %d image(s)", len(inputs))
    return 0
