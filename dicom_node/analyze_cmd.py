"""``dermnode analyze PATH... --out DIR``: one-shot analysis of DICOM files or images.

DICOM files are recognised by their ``DICM`` preamble (PS3.10 7.1) and decoded by
:mod:`dicom_node.decode`; anything else is opened with Pillow (PNG, JPEG, TIFF ...) with its
EXIF orientation applied; a DICOM data set without preamble and File Meta Information is
recognised too. Every input is read on its own: one that cannot be read, decoded (too large,
corrupt) or analysed is left out with a line ``dermnode analyze: FILE: reason`` on stderr, and
the others are analysed together as one study. The JSON of DESIGN.md §5 for what could be
analysed always goes to stdout (``"images": []`` when nothing could); with ``--out`` also
``result.json`` and one PNG overlay per image (zones outlined, feature maps tinted).

Exit status: 0 every input analysed; 2 some input could not be read, decoded or analysed
(the JSON still holds the others); 1 the outputs (SR/SEG/PDF) could not be written.
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
from dicom_node.decode import DecodeLimits

__all__ = ["LoadedInput", "analyze_command", "load_each", "load_inputs", "render_overlay"]

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
    paths: Sequence[str | Path],
    view: str | None = None,
    spacing_mm: float | None = None,
    limits: DecodeLimits | None = None,
) -> list[LoadedInput]:
    """Read every input (DICOM frames become separate inputs).

    *view* and *spacing_mm* apply to ordinary images; a DICOM file's own attributes win,
    unless *view* is given explicitly.

    Raises
    ------
    InputRejected
        A path is missing or cannot be decoded (the message names it).
    """
    loaded, failed = load_each(paths, view, spacing_mm, limits)
    if failed:
        raise InputRejected(f"{failed[0][0]}: {failed[0][1]}")
    return loaded


def load_each(
    paths: Sequence[str | Path],
    view: str | None = None,
    spacing_mm: float | None = None,
    limits: DecodeLimits | None = None,
) -> tuple[list[LoadedInput], list[tuple[str, str]]]:
    """Read every input on its own: the loaded ones, and ``(path, reason)`` for the others."""
    v = View(view) if view is not None else View.FRONTAL
    out: list[LoadedInput] = []
    failed: list[tuple[str, str]] = []
    for raw in paths:
        p = Path(raw)
        try:
            out.extend(_load_one(p, v, view is not None, spacing_mm, limits))
        except InputRejected as exc:
            failed.append((str(p), _reason(str(exc), p)))
        except MemoryError:
            failed.append((str(p), "not enough memory to read it"))
        except Exception as exc:  # a bug must not hide the other inputs' results
            failed.append((str(p), f"cannot be read ({type(exc).__name__})"))
    return out, failed


def _reason(message: str, path: Path) -> str:
    """The message without a leading ``path:`` (the caller names the file)."""
    for prefix in (f"{path}: ", f"{path.name}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _load_one(
    p: Path, v: View, view_given: bool, spacing_mm: float | None, limits: DecodeLimits | None
) -> list[LoadedInput]:
    from dicom_node.decode import (
        DEFAULT_LIMITS,
        decode_dataset,
        is_dicom_file,
        read_dataset,
        sanitize_source,
    )

    if not p.is_file():
        raise InputRejected(f"{p}: no such file")
    dicom = is_dicom_file(p)
    if not dicom:
        try:
            return [_load_image(p, v, spacing_mm)]
        except InputRejected:
            if not _looks_like_bare_dataset(p):
                raise
    ds = read_dataset(p)
    out: list[LoadedInput] = []
    decoded = decode_dataset(ds, source=str(p), limits=limits or DEFAULT_LIMITS)
    ds, _ = sanitize_source(ds)
    for dec in decoded:
        d = dec.description
        desc = ImageDescription(
            source=d.source,
            view=v if view_given else d.view,
            spacing_mm=d.spacing_mm if d.spacing_mm is not None else spacing_mm,
            body_site=d.body_site,
        )
        out.append(LoadedInput(p, dec.pixels, desc, ds))
    return out


def _looks_like_bare_dataset(p: Path) -> bool:
    """A data set without preamble starts with a group 0x0002 or 0x0008 element (PS3.5 7.1)."""
    try:
        with p.open("rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return len(head) == 4 and head[:2] in (b"\x02\x00", b"\x08\x00")


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


def _analyse_each(
    analyzer: Any, inputs: Sequence[LoadedInput], failed: list[tuple[str, str]]
) -> tuple[AnalysisResult | None, list[LoadedInput]]:
    """Analyse *inputs* together; when that fails, find and drop the inputs that fail alone."""
    if not inputs:
        return None, []
    try:
        return analyzer.analyze_many((i.pixels, i.description) for i in inputs), list(inputs)
    except MemoryError:
        pass
    except Exception as exc:
        logger.warning("analysis of the set failed (%s); analysing each input", type(exc).__name__)
    good: list[LoadedInput] = []
    for inp in inputs:
        try:
            analyzer.analyze(inp.pixels, inp.description)
            good.append(inp)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, DermNodeError) else type(exc).__name__
            failed.append((str(inp.path), f"analysis failed ({reason})"))
    if len(good) == len(inputs):  # each alone is fine: the set itself fails
        for inp in inputs:
            failed.append((str(inp.path), "analysis of the set failed"))
        return None, []
    return _analyse_each(analyzer, good, failed)


def analyze_command(
    paths: Sequence[str],
    out: str | None = None,
    view: str | None = None,
    spacing_mm: float | None = None,
    device: str = "auto",
    language: str = "en",
    rules: str | None = None,
    limits: DecodeLimits | None = None,
) -> int:
    """Run ``dermnode analyze``; returns the exit status (module docstring)."""
    setup.apply()
    setup.retain_freed_memory()  # several photos in one process: keep their freed arrays
    try:
        if view is not None:
            View(view)
        rule_set = None
        if rules is not None:
            from dicom_node.treatment import load_clinic_rules

            rule_set = load_clinic_rules(rules)
    except (InputRejected, ValueError) as exc:
        print(f"dermnode analyze: {exc}", file=sys.stderr)
        return 2
    inputs, failed = load_each(paths, view=view, spacing_mm=spacing_mm, limits=limits)
    result: AnalysisResult | None = None
    if inputs:
        from analysis.pipeline import Analyzer

        try:
            analyzer = Analyzer(device)
        except (DermNodeError, ValueError) as exc:
            print(f"dermnode analyze: analysis failed: {exc}", file=sys.stderr)
            return 1
        result, inputs = _analyse_each(analyzer, inputs, failed)
    status = 2 if failed else 0
    support = None
    if rule_set is not None and result is not None:
        from analysis.treatment import evaluate

        support = evaluate(rule_set.rules, result, rule_set=rule_set.name)
    outputs: dict[str, Any] = {}
    if out is not None:
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
        if result is not None:
            try:
                outputs = _write_outputs(result, inputs, out_dir, language, support)
            except Exception as exc:
                # the type only: an encoder's message may quote a copied value
                print(
                    f"dermnode analyze: outputs not written ({type(exc).__name__})",
                    file=sys.stderr,
                )
                status = 1
    if result is None:
        result = AnalysisResult(images=())
    if out is not None:
        doc = _document(result, outputs, support)
        (out_dir / "result.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    for path, reason in failed:
        print(f"dermnode analyze: {path}: {reason}", file=sys.stderr)
    print(json.dumps(_document(result, outputs, support), indent=2))
    logger.info("analysed %d image(s), %d input(s) not usable", len(inputs), len(failed))
    return status
