"""Fine lines at the camera's resolution (issue 13 item 3): drawn lines found, and their length.

The clinic close-up of ``benchmarks/analysis.py`` (:func:`make_closeup_face`: the demo face
cropped and upscaled so the face is ~2200 px wide at 12 MP, ~0.06 mm/px, with skin-like
texture and noise) gets fine lines of known width, depth and length drawn into its cheeks,
forehead and chin (:func:`analysis.phantoms.draw_on_photo`: neutral optical density with a
Gaussian cross-section, so the skin texture stays under and around them), away from the lines
the clean photo already shows. The photo is analysed with the working frame only
(``detail_mm=None``: fine lines at ~0.17 mm/px) and with fine lines on the source pixels
(``CameraDetail`` at 0.1 mm/px). Per drawn line: *found* when the ``fine_lines`` map covers
at least half of its middle 80 % (within one working pixel), *as wrinkle* when the
``wrinkles`` map does instead; *length* is the covered fraction times the drawn length.
Key level: the change of ``wrinkles.fine_lines.count`` / ``.length_mm`` on the face from the
clean photo to the drawn one, against what was drawn.

    python benchmarks/fine_lines_detail.py                 # 12 MP, 24 lines, 2 threads
    python benchmarks/fine_lines_detail.py --mp 24 --lines 24 --seed 1
    python benchmarks/fine_lines_detail.py --png /tmp/fine_lines.png   # overlay to look at
    python benchmarks/fine_lines_detail.py --phantom   # the unit test's phantom, in numbers

``--phantom``: 84 x 84 mm of phantom skin at 0.07 mm/px (``analysis.phantoms``) with four
fine lines 12 mm long (0.25 or 0.3 mm FWHM, 0.06 OD), analysed as a close-up with a 384 px
working frame (0.22 mm/px): working frame only, source at 0.1 mm/px, and the same with 64 px
line tiles (every line crosses tile seams).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.phantoms import DrawnLine, draw_on_photo  # noqa: E402
from analysis.pipeline import Analyzer  # noqa: E402
from analysis.types import ImageDescription, ImageResult  # noqa: E402

# benchmarks/analysis.py (its name clashes with the package): the clinic close-up subject
_spec = importlib.util.spec_from_file_location("bench_analysis", ROOT / "benchmarks/analysis.py")
assert _spec is not None and _spec.loader is not None
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)
make_closeup_face = _bench.make_closeup_face

ZONES = ("cheek_left", "cheek_right", "forehead", "chin")
WIDTHS_MM = (0.2, 0.3, 0.4)
DEPTHS = (0.08, 0.12, 0.16)
LENGTH_MM = (5.0, 15.0)


def _map(r: ImageResult, name: str) -> np.ndarray:
    m = next((m.data for m in r.maps if m.name == name), None)
    return np.zeros(r.image_shape, dtype=bool) if m is None else m.astype(bool)


def _face(r: ImageResult, key: str) -> float:
    return next((m.value for m in r.measurements if m.key == key and m.region == "face"), 0.0)


def place(r: ImageResult, spacing: float, n: int, seed: int) -> list[DrawnLine]:
    """*n* lines in the zones, clear of the clean photo's lines and of each other."""
    rng = np.random.default_rng(seed)
    zones = {z.region: z.mask for z in r.zones}
    px = 1.0 / spacing
    taken = _map(r, "fine_lines") | _map(r, "wrinkles")
    taken = cv2.dilate(taken.astype(np.uint8), np.ones((25, 25), np.uint8)).astype(bool)
    edge = int(3.0 * px)
    out: list[DrawnLine] = []
    for i in range(n):
        zone = zones.get(ZONES[i % len(ZONES)])
        if zone is None:
            continue
        inner = cv2.erode(zone.astype(np.uint8), np.ones((2 * edge + 1, 2 * edge + 1), np.uint8))
        ys, xs = np.nonzero(inner)
        width = WIDTHS_MM[i % len(WIDTHS_MM)]
        depth = DEPTHS[(i // len(WIDTHS_MM)) % len(DEPTHS)]
        for _ in range(300):
            j = int(rng.integers(ys.size))
            length = float(np.exp(rng.uniform(*np.log(LENGTH_MM))))
            ang = rng.uniform(0, math.pi)
            half = 0.5 * length * px
            dr, dc = half * math.sin(ang), half * math.cos(ang)
            r0, c0, r1, c1 = ys[j] - dr, xs[j] - dc, ys[j] + dr, xs[j] + dc
            rr = np.linspace(r0, r1, 64).round().astype(int)
            cc = np.linspace(c0, c1, 64).round().astype(int)
            h, w = inner.shape
            if rr.min() < 0 or cc.min() < 0 or rr.max() >= h or cc.max() >= w:
                continue
            if not inner[rr, cc].all() or taken[rr, cc].any():
                continue
            out.append(DrawnLine(r0, c0, r1, c1, width, depth))
            for a, b in zip(rr, cc, strict=True):
                cv2.circle(taken.view(np.uint8), (int(b), int(a)), int(2 * px), 1, -1)
            break
    return out


def covered(m: np.ndarray, ln: DrawnLine, tol: int) -> float:
    """Fraction of the middle 80 % of *ln* with a map pixel within *tol* px."""
    t = np.linspace(0.1, 0.9, 41)
    rr = np.round(ln.r0 + t * (ln.r1 - ln.r0)).astype(int)
    cc = np.round(ln.c0 + t * (ln.c1 - ln.c0)).astype(int)
    d = cv2.dilate(m.astype(np.uint8), np.ones((2 * tol + 1, 2 * tol + 1), np.uint8))
    return float(d[rr, cc].mean())


def phantom() -> int:
    """The unit test's fine-line phantom: count and length with and without the source."""
    from analysis.phantoms import PhantomSpec, make_phantom
    from analysis.pipeline import CameraDetail, CameraDetaild, DetailPland
    from analysis.quality import QualityThresholds
    from analysis.types import View

    lenient = QualityThresholds(min_sharpness=0.1, warn_sharpness=0.2)
    desc = ImageDescription(view=View.CLOSE_UP, spacing_mm=0.07)
    print("| width (mm) | measured on | fine lines | length (mm) | drawn |")
    print("|---|---|---|---|---|")
    for width in (0.25, 0.3):
        spec = PhantomSpec(
            size_px=(1200, 1200),
            spacing_mm=0.07,
            n_fine_lines=4,
            fine_length_mm=12.0,
            fine_width_mm=width,
            fine_depth=0.06,
            texture=0.004,
            seed=5,
        )
        ph = make_phantom(spec)
        for name in ("working frame 0.22 mm/px", "source 0.1 mm/px", "source, 64 px tiles"):
            a = Analyzer(
                "cpu",
                working_long_side=384,
                thresholds=lenient,
                detail_mm=None if name.startswith("working") else 0.1,
            )
            if "64" in name:
                for step in a.transform.transforms:
                    if isinstance(step, DetailPland | CameraDetaild):
                        step.t = CameraDetail(line_tile_px=64)
            r = a.analyze(ph.image, desc)
            v = {m.key: m.value for m in r.measurements if m.region == "skin"}
            print(
                f"| {width} | {name} | {v.get('wrinkles.fine_lines.count', 0):.0f} "
                f"| {v.get('wrinkles.fine_lines.length_mm', 0):.1f} | 4, 48 mm |"
            )
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mp", type=float, default=12.0)
    p.add_argument("--lines", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--png", type=Path, help="write a fine-line overlay of the face here")
    p.add_argument("--phantom", action="store_true", help="the phantom table only")
    a = p.parse_args()
    if a.phantom:
        return phantom()
    import torch

    torch.set_num_threads(a.threads)
    cv2.setNumThreads(a.threads)
    photo, spacing = make_closeup_face(a.mp)
    desc = ImageDescription()
    on, off = Analyzer("cpu"), Analyzer("cpu", detail_mm=None)
    clean = {"on": on.analyze(photo, desc), "off": off.analyze(photo, desc)}
    lines = place(clean["on"], spacing, a.lines, a.seed)
    drawn = draw_on_photo(photo, spacing, lines=tuple(lines))
    res = {"on": on.analyze(drawn, desc), "off": off.analyze(drawn, desc)}
    fs = 800.0 / max(clean["on"].face_box[2] if clean["on"].face_box else 800, 1)
    tol = max(3, math.ceil(1.0 / fs))
    drawn_mm = sum(math.hypot(ln.r1 - ln.r0, ln.c1 - ln.c0) * spacing for ln in lines)
    print(f"{len(lines)} lines drawn ({drawn_mm:.0f} mm) into a {photo.shape[1]}x{photo.shape[0]}")
    print(f"photo at {spacing:.3f} mm/px; face {clean['on'].face_box}\n")
    print("| fine lines on | width (mm) | depth (OD) | drawn | found | as wrinkle | length found |")
    print("|---|---|---|---|---|---|---|")
    for mode in ("off", "on"):
        fine, wr = _map(res[mode], "fine_lines"), _map(res[mode], "wrinkles")
        for width in WIDTHS_MM:
            for depth in DEPTHS:
                sel = [ln for ln in lines if ln.width_mm == width and ln.depth == depth]
                if not sel:
                    continue
                cf = [covered(fine, ln, tol) for ln in sel]
                cw = [covered(wr, ln, tol) for ln in sel]
                found = sum(c >= 0.5 for c in cf)
                as_w = sum(c < 0.5 <= w for c, w in zip(cf, cw, strict=True))
                where = "source 0.1 mm/px" if mode == "on" else "working frame"
                print(
                    f"| {where} | {width} | {depth} | {len(sel)} | {found} | {as_w} "
                    f"| {100 * np.mean(cf):.0f} % |"
                )
    print("\n| fine lines on | face fine-line count clean -> drawn | length (mm) clean -> drawn |")
    print("|---|---|---|")
    for mode in ("off", "on"):
        c0 = _face(clean[mode], "wrinkles.fine_lines.count")
        c1 = _face(res[mode], "wrinkles.fine_lines.count")
        l0 = _face(clean[mode], "wrinkles.fine_lines.length_mm")
        l1 = _face(res[mode], "wrinkles.fine_lines.length_mm")
        print(
            f"| {mode} | {c0:.0f} -> {c1:.0f} (+{c1 - c0:.0f} of {len(lines)}) "
            f"| {l0:.0f} -> {l1:.0f} (+{l1 - l0:.0f} of {drawn_mm:.0f}) |"
        )
    if a.png:
        _overlay(drawn, res["on"], lines, a.png)
        print(f"\noverlay: {a.png}")
    return 0


def _overlay(photo: np.ndarray, r: ImageResult, lines: list[DrawnLine], path: Path) -> None:
    """Fine lines (yellow), wrinkles (magenta) and the drawn lines' ends (cyan ticks)."""
    img = photo.copy()
    img[_map(r, "wrinkles")] = (255, 0, 255)
    img[_map(r, "fine_lines")] = (255, 255, 0)
    for ln in lines:
        for rr, cc in ((ln.r0, ln.c0), (ln.r1, ln.c1)):
            cv2.circle(img, (int(cc), int(rr)), 12, (0, 255, 255), 3)
    if r.face_box:
        x, y, w, h = r.face_box
        img = img[max(0, y - h // 5) : y + h + h // 10, max(0, x - w // 10) : x + w + w // 10]
    f = 1600.0 / max(img.shape[:2])
    img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    raise SystemExit(main())
