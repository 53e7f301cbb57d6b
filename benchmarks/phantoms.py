"""Sensitivity and false detections of spots, red lesions and wrinkles on real faces.

Usage::

    python benchmarks/phantoms.py [--faces 12] [--per-face 10] [--kinds brown,red,line]
    python benchmarks/phantoms.py --outlines [--faces 12]
    python benchmarks/phantoms.py --kinds line [--placements P.json]
        [--ablate symmetry,outline,weber]
    python benchmarks/phantoms.py --synthetic [--seeds 5] [--spacing 0.1]
    python benchmarks/phantoms.py --timing [--threads 2]

Real-face mode (the default): for each of the first ``--faces`` frontal photos of
``faces-london/neutral_front`` (``--data``), the whole pipeline (:class:`analysis.pipeline.
Analyzer`) runs on the clean photo, then on copies with soft-edged features drawn into the
skin (:func:`analysis.phantoms.draw_on_photo`): brown macules (melanin, 1-15 mm), red macules
(haemoglobin, 1.5-8 mm) and neutral lines (wrinkles, 8-30 mm long, 0.5-1.5 mm wide). Each
feature's *visible contrast* is the CIEDE2000 difference, at its centre, between the photo
after and before drawing (both smoothed at 0.25 mm), so the bins are perceptual, not the
drawing amplitude. Features are placed in the cheeks, forehead and chin, inside the skin
mask, away from each other and from what the clean photo already showed.

A drawn spot/lesion is *found* when a detected component of the matching map covers its
centre (or lies within its radius); a drawn line when >= 50 % of its length lies within
1 mm of the wrinkle/fine-line map. A *false detection* is a detected component in the copy
that matches no drawn feature and was not already in the clean photo. The clean photos'
own detections are reported beside (real freckles and lentigines exist: there is no truth
for them). Prints one table per kind (sensitivity per contrast x size bin) and a summary.

``--placements P.json`` places the lines once and reuses them: the file is written
on the first run and read on later ones, so variants are compared on the same drawn lines.
``--outlines`` counts the detected lines along the nose outline and the jaw line on the
demo face and ``--faces`` London faces, without and with the wrinkle detector's rules.
``--ablate symmetry,outline,weber`` switches off the wrinkle detector's both-flanks rule,
its face-outline rule and/or its Weber lightness (L* instead): the "before" rows of
docs/methods/measures.md.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

# run as a script, benchmarks/ comes first on sys.path and its analysis.py would shadow the
# analysis package: put the repository root first instead
sys.path[0] = str(Path(__file__).resolve().parents[1])

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from analysis.color import linear_rgb_to_lab, srgb_to_linear, to_unit_float  # noqa: E402
from analysis.measures import MEASURES, wrinkles  # noqa: E402
from analysis.measures.contrast import ciede2000  # noqa: E402
from analysis.phantoms import (  # noqa: E402
    DrawnLine,
    PhantomSpec,
    SoftSpot,
    draw_on_photo,
    make_phantom,
    phantom_skin_image,
)
from analysis.pipeline import Analyzer, MeasureFn  # noqa: E402
from analysis.types import ImageDescription, ImageResult, View  # noqa: E402

DEFAULT_DATA = Path("/work/shared/data/faces-london")
PLACE_ZONES = ("cheek_left", "cheek_right", "forehead", "chin")
DE_BINS = (0.0, 1.5, 2.5, 4.0, 7.0, math.inf)
SIZE_BINS = {
    "brown": (1.0, 2.0, 4.0, 8.0, 15.0),
    "red": (1.5, 3.0, 5.0, 8.0),
    "line": (8.0, 15.0, 30.0),
}
AMPLITUDES = {"brown": (0.015, 0.03, 0.05, 0.08, 0.12), "red": (0.02, 0.04, 0.07, 0.11, 0.16)}
LINE_DEPTHS = (0.02, 0.04, 0.07, 0.11)
MAP_OF = {"brown": ("spots",), "red": ("red_lesions",), "line": ("wrinkles", "fine_lines")}


@dataclass
class Drawn:
    """One drawn feature and what became of it."""

    kind: str
    zone: str
    size: float  # diameter or length, mm
    de00: float
    found: bool = False


def _bin(value: float, edges: tuple[float, ...]) -> str:
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if lo <= value < hi:
            return f"{lo:g}-{hi:g}" if math.isfinite(hi) else f">= {lo:g}"
    return f">= {edges[-1]:g}" if value >= edges[-1] else f"< {edges[0]:g}"


def _map(res: ImageResult, names: tuple[str, ...]) -> np.ndarray:
    out = np.zeros(res.image_shape, dtype=bool)
    for m in res.maps:
        if m.name in names:
            out |= np.asarray(m.data, dtype=bool)
    return out


def _zones(res: ImageResult) -> dict[str, np.ndarray]:
    return {z.region: np.asarray(z.mask, dtype=bool) for z in res.zones}


def _smoothed_lab(img: np.ndarray, sigma: float) -> torch.Tensor:
    lin = srgb_to_linear(to_unit_float(img))
    arr = lin.numpy().transpose(1, 2, 0)
    arr = cv2.GaussianBlur(arr, (0, 0), max(sigma, 0.5))
    return linear_rgb_to_lab(torch.from_numpy(arr.transpose(2, 0, 1).copy()))


def _place(
    rng: np.random.Generator,
    kind: str,
    zones: dict[str, np.ndarray],
    skin: np.ndarray,
    avoid: np.ndarray,
    spacing: float,
    n: int,
) -> list[SoftSpot | DrawnLine]:
    px = 1.0 / spacing
    taken = avoid.copy()
    out: list[SoftSpot | DrawnLine] = []
    edges = SIZE_BINS[kind]
    for i in range(n):
        zone = PLACE_ZONES[i % len(PLACE_ZONES)]
        if zone not in zones:
            continue
        lo, hi = edges[i % (len(edges) - 1)], edges[i % (len(edges) - 1) + 1]
        size = float(np.exp(rng.uniform(math.log(lo), math.log(hi))))
        for _ in range(200):
            ys, xs = np.nonzero(zones[zone] & skin)
            if ys.size == 0:
                break
            j = rng.integers(ys.size)
            r, c = float(ys[j]), float(xs[j])
            if kind == "line":
                ang = rng.uniform(-0.35, 0.35) if zone == "forehead" else rng.uniform(0, math.pi)
                half = 0.5 * size * px
                dr, dc = half * math.sin(ang), half * math.cos(ang)
                n_s = max(2, int(2 * half))
                rr = np.linspace(r - dr, r + dr, n_s).round().astype(int)
                cc = np.linspace(c - dc, c + dc, n_s).round().astype(int)
                h, w = skin.shape
                if rr.min() < 0 or cc.min() < 0 or rr.max() >= h or cc.max() >= w:
                    continue
                margin = int(2.5 * px)
                if not skin[rr, cc].all() or taken[rr, cc].any():
                    continue
                if not _inside(skin, rr, cc, margin):
                    continue
                width = float(rng.uniform(0.5, 1.5))
                depth = LINE_DEPTHS[int(rng.integers(len(LINE_DEPTHS)))]
                out.append(DrawnLine(r - dr, c - dc, r + dr, c + dc, width, depth))
                _mark_line(taken, rr, cc, int(3 * px))
                break
            rad = 0.5 * size * px
            reach = int(rad * 1.6 + 2 * px)
            y0, y1, x0, x1 = int(r) - reach, int(r) + reach + 1, int(c) - reach, int(c) + reach + 1
            if y0 < 0 or x0 < 0 or y1 > skin.shape[0] or x1 > skin.shape[1]:
                continue
            if not skin[y0:y1, x0:x1].all() or taken[y0:y1, x0:x1].any():
                continue
            amp = AMPLITUDES[kind][int(rng.integers(len(AMPLITUDES[kind])))]
            out.append(SoftSpot(r, c, size, amp, kind))
            taken[y0:y1, x0:x1] = True
            break
    return out


def _inside(skin: np.ndarray, rr: np.ndarray, cc: np.ndarray, margin: int) -> bool:
    h, w = skin.shape
    for dy, dx in ((margin, 0), (-margin, 0), (0, margin), (0, -margin)):
        y, x = np.clip(rr + dy, 0, h - 1), np.clip(cc + dx, 0, w - 1)
        if not skin[y, x].all():
            return False
    return True


def _mark_line(taken: np.ndarray, rr: np.ndarray, cc: np.ndarray, pad: int) -> None:
    h, w = taken.shape
    for r, c in zip(rr, cc, strict=True):
        taken[max(0, r - pad) : min(h, r + pad + 1), max(0, c - pad) : min(w, c + pad + 1)] = True


def _components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return n - 1, labels


def evaluate_face(
    analyzer: Analyzer,
    path: Path,
    kinds: tuple[str, ...],
    per_face: int,
    seed: int,
    placed: dict[str, list[list[float]]] | None = None,
    chroma_420: bool = True,
) -> tuple[list[Drawn], dict[str, int], dict[str, int]]:
    """Draw features of each kind into one face; return them, new false and clean counts.

    *placed* (``{kind: [[r0, c0, r1, c1, width, depth], ...]}``, lines only) is used instead
    of placing lines anew when it holds the kind, and filled when it does not.
    """
    image = np.array(Image.open(path).convert("RGB"))
    desc = ImageDescription(source=path.name, view=View.FRONTAL)
    clean = analyzer.analyze(image, desc)
    if not clean.quality.usable or clean.spacing.value is None or not clean.zones:
        return [], {}, {}
    spacing = float(clean.spacing.value)
    zones = _zones(clean)
    skin = zones.get("face", np.zeros(clean.image_shape, dtype=bool))
    rng = np.random.default_rng(seed)
    drawn: list[Drawn] = []
    false_new: dict[str, int] = {}
    clean_n: dict[str, int] = {}
    lab0 = _smoothed_lab(image, 0.25 / spacing)
    for kind in kinds:
        base = _map(clean, MAP_OF[kind])
        clean_n[kind] = _components(base)[0]
        if kind == "line":
            avoid = cv2.dilate(base.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
        else:
            # spots: placed without looking at the detector (the same spots for every
            # version of it); one whose centre the clean photo's map already covers is
            # left out of the tables (ambiguous), below
            avoid = np.zeros_like(base)
        if placed is not None and kind == "line" and kind in placed:
            feats: list[SoftSpot | DrawnLine] = [DrawnLine(*v) for v in placed[kind]]
        else:
            feats = _place(rng, kind, zones, skin, avoid, spacing, per_face)
            if placed is not None and kind == "line":
                placed[kind] = [
                    [f.r0, f.c0, f.r1, f.c1, f.width_mm, f.depth]
                    for f in feats
                    if isinstance(f, DrawnLine)
                ]
        spots = tuple(f for f in feats if isinstance(f, SoftSpot))
        lines = tuple(f for f in feats if isinstance(f, DrawnLine))
        mod = draw_on_photo(image, spacing, spots=spots, lines=lines)
        if spots and chroma_420:
            mod = _camera_chroma(mod, image)
        res = analyzer.analyze(mod, desc)
        found_map = _map(res, MAP_OF[kind]) if res.quality.usable else np.zeros_like(base)
        lab1 = _smoothed_lab(mod, 0.25 / spacing)
        n_comp, labels = _components(found_map)
        matched = np.zeros(n_comp + 1, dtype=bool)
        for f in feats:
            zone = _zone_at(zones, f)
            if isinstance(f, SoftSpot):
                r, c = int(round(f.row)), int(round(f.col))
                de = float(ciede2000(lab0[:, r, c], lab1[:, r, c]))
                rad = max(1, int(0.5 * f.diameter_mm / spacing))
                win = labels[
                    max(0, r - rad) : r + rad + 1,
                    max(0, c - rad) : c + rad + 1,
                ]
                hit = np.unique(win[win > 0])
                matched[hit] = True
                if base[r, c]:
                    continue  # on a detection of the clean photo: ambiguous
                drawn.append(Drawn(kind, zone, f.diameter_mm, de, hit.size > 0))
            else:
                n_s = max(2, int(math.hypot(f.r1 - f.r0, f.c1 - f.c0)))
                rr = np.linspace(f.r0, f.r1, n_s).round().astype(int)
                cc = np.linspace(f.c0, f.c1, n_s).round().astype(int)
                near = cv2.dilate(found_map.astype(np.uint8), _disk(int(1.0 / spacing) + 1))
                on = near[rr, cc] > 0
                rm, cm = (rr.mean(), cc.mean())
                de = float(ciede2000(lab0[:, int(rm), int(cm)], lab1[:, int(rm), int(cm)]))
                length = math.hypot(f.r1 - f.r0, f.c1 - f.c0) * spacing
                drawn.append(Drawn(kind, zone, length, de, bool(on.mean() >= 0.5)))
                pad = int(1.0 / spacing) + 1
                for r, c in zip(rr, cc, strict=True):
                    win = labels[max(0, r - pad) : r + pad + 1, max(0, c - pad) : c + pad + 1]
                    matched[np.unique(win[win > 0])] = True
        base_near = cv2.dilate(base.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        false = 0
        for i in range(1, n_comp + 1):
            if matched[i]:
                continue
            if (base_near & (labels == i)).any():
                continue
            false += 1
        false_new[kind] = false
    return drawn, false_new, clean_n


def _camera_chroma(mod: np.ndarray, image: np.ndarray) -> np.ndarray:
    """*mod* with the camera's 4:2:0 chroma where it differs from *image* (the drawn spots).

    The London photos are JPEG at quality 100 with 4:2:0 chroma (colour at half resolution,
    no quantisation loss); a spot drawn into the decoded pixels has full-resolution colour,
    which a real macule in the same photo never had. The copy is re-encoded the same way
    (quality 100, 4:2:0) and only the 16 x 16 blocks that drawing changed are taken from it,
    so the rest of the photo stays bit-identical.
    """
    buf = io.BytesIO()
    Image.fromarray(mod).save(buf, format="JPEG", quality=100, subsampling=2)
    enc = np.array(Image.open(buf).convert("RGB"))
    changed = (mod != image).any(axis=2)
    h, w = changed.shape
    hb, wb = -(-h // 16), -(-w // 16)
    pad = np.zeros((hb * 16, wb * 16), dtype=bool)
    pad[:h, :w] = changed
    blocks = pad.reshape(hb, 16, wb, 16).any(axis=(1, 3))
    take = np.repeat(np.repeat(blocks, 16, axis=0), 16, axis=1)[:h, :w]
    out = mod.copy()
    out[take] = enc[take]
    return out


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _zone_at(zones: dict[str, np.ndarray], f: SoftSpot | DrawnLine) -> str:
    if isinstance(f, SoftSpot):
        r, c = int(round(f.row)), int(round(f.col))
    else:
        r, c = int(round((f.r0 + f.r1) / 2)), int(round((f.c0 + f.c1) / 2))
    for z in PLACE_ZONES:
        if z in zones and zones[z][r, c]:
            return z
    return "face"


def real_faces(
    data: Path,
    faces: int,
    per_face: int,
    kinds: tuple[str, ...],
    placements: Path | None = None,
    chroma_420: bool = True,
) -> None:
    paths = sorted(
        p for p in (data / "neutral_front").glob("*_03.jpg") if not p.name.startswith(".")
    )
    paths = paths[:faces]
    analyzer = Analyzer("cpu", measures=_measures_for(kinds), detail_mm=None)
    placed: dict[str, dict[str, list[list[float]]]] = {}
    if placements is not None and placements.exists():
        placed = json.loads(placements.read_text())
    drawn: list[Drawn] = []
    false_new: dict[str, list[int]] = defaultdict(list)
    clean_n: dict[str, list[int]] = defaultdict(list)
    t0 = time.perf_counter()
    for i, p in enumerate(paths):
        here = placed.setdefault(p.name, {}) if placements is not None else None
        d, f, c = evaluate_face(
            analyzer, p, kinds, per_face, seed=i, placed=here, chroma_420=chroma_420
        )
        drawn += d
        for k, v in f.items():
            false_new[k].append(v)
        for k, v in c.items():
            clean_n[k].append(v)
    if placements is not None and not placements.exists():
        placements.write_text(json.dumps(placed))
    print(
        f"# {len(paths)} faces of faces-london/neutral_front (1350 x 1350), {per_face} features "
        f"of each kind per face, whole pipeline on CPU, {time.perf_counter() - t0:.0f} s"
    )
    for kind in kinds:
        items = [d for d in drawn if d.kind == kind]
        if not items:
            continue
        sizes = SIZE_BINS[kind]
        unit = "length mm" if kind == "line" else "diameter mm"
        cols = [_bin(0.5 * (a + b), sizes) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        print(f"\n### {kind}: found / drawn per visible contrast (ΔE00) and {unit}\n")
        print("| ΔE00 | " + " | ".join(cols) + " | all |")
        print("|---|" + "---:|" * (len(cols) + 1))
        for lo, hi in zip(DE_BINS[:-1], DE_BINS[1:], strict=True):
            row = [d for d in items if lo <= d.de00 < hi]
            if not row:
                continue
            cells = []
            for col in cols:
                sel = [d for d in row if _bin(d.size, sizes) == col]
                cells.append(f"{sum(d.found for d in sel)}/{len(sel)}" if sel else "-")
            allc = f"{sum(d.found for d in row)}/{len(row)}"
            name = _bin(0.5 * (lo + hi) if math.isfinite(hi) else lo, DE_BINS)
            print(f"| {name} | " + " | ".join(cells) + f" | {allc} |")
        vis = [d for d in items if d.de00 >= 2.5]
        faint = [d for d in items if d.de00 < 1.5]
        fn = false_new.get(kind, [])
        cn = clean_n.get(kind, [])
        print(
            f"\nsensitivity at ΔE00 >= 2.5: {_pct(vis)}; at < 1.5: {_pct(faint)}; "
            f"new false detections per face: {statistics.fmean(fn) if fn else 0:.2f} "
            f"(max {max(fn, default=0)}); detections on the clean photos per face: "
            f"{statistics.fmean(cn) if cn else 0:.1f}"
        )


def _measures_for(kinds: tuple[str, ...]) -> tuple[MeasureFn, ...]:
    """Only the measures whose maps the *kinds* are scored on (the others cost time)."""
    from analysis.measures import pigmentation, redness, wrinkles

    need = {"brown": pigmentation.measure, "red": redness.measure, "line": wrinkles.measure}
    return tuple(need[k] for k in ("brown", "red", "line") if k in kinds)


def _pct(items: list[Drawn]) -> str:
    if not items:
        return "n/a"
    k = sum(d.found for d in items)
    return f"{100.0 * k / len(items):.0f} % ({k}/{len(items)})"


# --------------------------------------------------------------------------- synthetic

BASE = PhantomSpec(
    size_px=(800, 800),
    n_spots=8,
    spot_diameter_mm=(1.5, 5.0),
    n_pores=120,
    pore_diameter_mm=(0.2, 0.45),
    n_fine_lines=4,
    fine_length_mm=10.0,
    n_wrinkles=3,
    wrinkle_length_mm=15.0,
    red_patch_radius_mm=6.0,
    n_lesions=4,
    shine_radius_mm=5.0,
    texture=0.01,
)


def synthetic(seeds: int, spacing: float, device: str) -> None:
    rows: dict[str, list[tuple[float, float]]] = {}

    def add(name: str, truth: float, measured: float) -> None:
        rows.setdefault(name, []).append((truth, measured))

    scale = BASE.spacing_mm / spacing
    size = (round(BASE.size_px[0] * scale), round(BASE.size_px[1] * scale))
    for seed in range(seeds):
        ph = make_phantom(replace(BASE, seed=seed, spacing_mm=spacing, size_px=size))
        img = phantom_skin_image(ph, device=device)
        values: dict[str, float] = {}
        for fn in MEASURES:
            for m in fn(img).measurements:
                if m.region == "skin":
                    values[m.key] = m.value
        tr = ph.truth
        add("spots: count", len(tr.spots), values["pigmentation.spots.count"])
        add("spots: area %", tr.area_pct("spots"), values["pigmentation.spots.area_pct"])
        add("red area %", tr.area_pct("red"), values["redness.area_pct"])
        add("inflamed lesions: count", len(tr.lesions), values["redness.lesions.count"])
        add("pores: count", len(tr.pores), values.get("pores.count", float("nan")))
        add("wrinkles: count", len(tr.wrinkles), values["wrinkles.count"])
        add(
            "wrinkles: length mm",
            sum(ln.length_mm for ln in tr.wrinkles),
            values["wrinkles.length_mm"],
        )
        add("fine lines: count", len(tr.fine_lines), values.get("wrinkles.fine_lines.count", 0))
        add("shine: area %", tr.area_pct("shine"), values["oil.shine_area_pct"])
    print(f"# {seeds} synthetic phantoms {size[1]}x{size[0]} px at {spacing} mm/px on {device}")
    print("| quantity | truth (mean) | measured (mean) | error |")
    print("|---|---:|---:|---:|")
    for name, pairs in rows.items():
        t = statistics.fmean(p[0] for p in pairs)
        mv = statistics.fmean(p[1] for p in pairs)
        err = 100.0 * (mv - t) / t if t else float("nan")
        print(f"| {name} | {t:.3f} | {mv:.3f} | {err:+.1f} % |")


def timing(device: str) -> None:
    spec = replace(
        BASE,
        size_px=(1500, 1200),
        spacing_mm=0.15,
        n_spots=20,
        n_pores=300,
        n_fine_lines=10,
        n_wrinkles=5,
    )
    img = phantom_skin_image(make_phantom(spec), device=device)
    for fn in MEASURES:  # warm-up
        fn(img)
    best: dict[str, tuple[float, float]] = {}
    for _ in range(3):
        for fn in MEASURES:
            name = fn.__module__.rsplit(".", 1)[1]
            w0, c0 = time.perf_counter(), time.process_time()
            fn(img)
            w, c = time.perf_counter() - w0, time.process_time() - c0
            if name not in best or w < best[name][0]:
                best[name] = (w, c)
    print(
        f"# 1200x1500 px phantom at 0.15 mm/px on {device}, {torch.get_num_threads()} "
        f"threads, {os.cpu_count()} CPUs visible; best of 3"
    )
    print("| measure | wall s | CPU s |")
    print("|---|---:|---:|")
    for name, (w, c) in best.items():
        print(f"| {name} | {w:.3f} | {c:.3f} |")
    print(
        f"| **all six** | **{sum(v[0] for v in best.values()):.3f}** | "
        f"**{sum(v[1] for v in best.values()):.3f}** |"
    )


def outline_lines(data: Path, faces: int) -> None:
    """Detected lines along the nose outline / in the jaw band, without and with the rules.

    The demo face and the first *faces* London faces; a line is "on" an outline when >= half
    its pixels lie in the band of :func:`analysis.measures.wrinkles.outline_mask` (whatever
    its direction). "before": ``SYMMETRY = 0`` and no outline rule.
    """
    from analysis.measures.base import ConcernOutput, SkinImage
    from dicom_node.demo import sample_photo_path

    paths = [sample_photo_path()] + sorted(
        p for p in (data / "neutral_front").glob("*_03.jpg") if not p.name.startswith(".")
    )[:faces]
    box: list[SkinImage] = []

    def capture(img: SkinImage) -> ConcernOutput:
        box.append(img)
        return ConcernOutput(())

    analyzer = Analyzer("cpu", measures=[capture], detail_mm=None)
    rule, sym = wrinkles.outline_of, wrinkles.SYMMETRY
    totals = {"before": [0, 0, 0], "after": [0, 0, 0]}
    for p in paths:
        box.clear()
        image = np.array(Image.open(p).convert("RGB"))
        analyzer.analyze(image, ImageDescription(source=p.name, view=View.FRONTAL))
        if not box or "nose" not in box[0].regions:
            continue
        img = box[0]
        px = 1.0 / img.scale_mm
        nose = wrinkles._filled(img.regions["nose"].cpu().numpy())
        d_nose = wrinkles._signed_distance(nose)
        nose_band = (d_nose <= wrinkles.OUTLINE_NOSE_IN_MM * px) & (
            d_nose >= -wrinkles.OUTLINE_NOSE_OUT_MM * px
        )
        d_face = wrinkles._signed_distance(wrinkles._filled(img.regions["face"].cpu().numpy()))
        jaw = (d_face >= -px) & (d_face <= wrinkles.OUTLINE_JAW_MM * px)
        top = int(np.nonzero(nose.any(axis=1))[0].max()) + 1
        if "perioral" in img.regions and bool(img.regions["perioral"].any()):
            top = max(top, int(np.nonzero(img.regions["perioral"].cpu().numpy())[0].mean()))
        jaw[:top] = False
        for name in ("before", "after"):
            wrinkles.outline_of = _no_outline if name == "before" else rule
            wrinkles.SYMMETRY = 0.0 if name == "before" else sym
            labels = wrinkles.detect_lines(img).labels
            for i in range(1, int(labels.max()) + 1):
                m = labels == i
                t = totals[name]
                t[0] += 1
                if nose_band[m].mean() >= 0.5:
                    t[1] += 1
                elif jaw[m].mean() >= 0.5:
                    t[2] += 1
    wrinkles.outline_of, wrinkles.SYMMETRY = rule, sym
    print(f"# demo face + {faces} London faces")
    print("| | lines | on the nose outline | in the jaw band | elsewhere |")
    print("|---|---:|---:|---:|---:|")
    for name, (n, on_nose, on_jaw) in totals.items():
        print(f"| {name} | {n} | {on_nose} | {on_jaw} | {n - on_nose - on_jaw} |")


def _no_outline(img: object) -> np.ndarray:
    """In place of :func:`analysis.measures.wrinkles.outline_of` (the measure's cached rule)."""
    return np.zeros(tuple(img.lab.shape[-2:]), dtype=bool)  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--faces", type=int, default=12)
    ap.add_argument("--per-face", type=int, default=10)
    ap.add_argument("--kinds", default="brown,red,line")
    ap.add_argument(
        "--full-chroma",
        action="store_true",
        help="keep drawn spots' colour at full resolution (no 4:2:0 re-encoding)",
    )
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--spacing", type=float, default=0.1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timing", action="store_true")
    ap.add_argument("--placements", type=Path, help="JSON of drawn lines: written, then reused")
    ap.add_argument("--ablate", default="", help="wrinkle rules off: symmetry,outline,weber")
    ap.add_argument(
        "--outlines", action="store_true", help="count lines along the nose/jaw outlines"
    )
    args = ap.parse_args()
    ablate = {a for a in args.ablate.split(",") if a}
    if "symmetry" in ablate:
        wrinkles.SYMMETRY = 0.0
    if "weber" in ablate:
        wrinkles.LOG_CONTRAST = False
    if "outline" in ablate:
        wrinkles.outline_of = _no_outline
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    if args.outlines:
        outline_lines(args.data, args.faces)
    elif args.timing:
        timing(args.device)
    elif args.synthetic:
        synthetic(args.seeds, args.spacing, args.device)
    else:
        real_faces(
            args.data,
            args.faces,
            args.per_face,
            tuple(args.kinds.split(",")),
            placements=args.placements,
            chroma_420=not args.full_chroma,
        )


if __name__ == "__main__":
    main()
