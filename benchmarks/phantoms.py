"""Accuracy of the six concern measures on synthetic phantoms with known truth.

Usage::

    python benchmarks/phantoms.py [--seeds 5] [--spacing 0.1] [--device cpu]
    python benchmarks/phantoms.py --timing [--threads 2] [--device cpu]

Renders ``--seeds`` phantoms (analysis.phantoms) holding every feature family at once and
prints, per quantity, the truth, the measured value (mean over seeds) and the error. The
tables in docs/methods/measures.md were produced by this command. ``--timing`` instead
times each measure on one 1200 x 1500 px phantom at 0.15 mm/px (the pipeline's working
resolution for a face): wall time and process CPU time, best of three.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

# run as a script, benchmarks/ comes first on sys.path and its analysis.py would shadow the
# analysis package: put the repository root first instead
sys.path[0] = str(Path(__file__).resolve().parents[1])

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from analysis.measures import MEASURES  # noqa: E402
from analysis.phantoms import PhantomSpec, make_phantom, phantom_skin_image  # noqa: E402

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


def run(seeds: int, spacing: float, device: str) -> list[tuple[str, float, float]]:
    rows: dict[str, list[tuple[float, float]]] = {}

    def add(name: str, truth: float, measured: float) -> None:
        rows.setdefault(name, []).append((truth, measured))

    scale = BASE.spacing_mm / spacing
    size = (round(BASE.size_px[0] * scale), round(BASE.size_px[1] * scale))
    times = []
    for seed in range(seeds):
        ph = make_phantom(replace(BASE, seed=seed, spacing_mm=spacing, size_px=size))
        img = phantom_skin_image(ph, device=device)
        t0 = time.perf_counter()
        values: dict[str, float] = {}
        for fn in MEASURES:
            for m in fn(img).measurements:
                if m.region == "skin":
                    values[m.key] = m.value
        times.append(time.perf_counter() - t0)
        tr = ph.truth
        add("spots: count", len(tr.spots), values["pigmentation.spots.count"])
        add("spots: area %", tr.area_pct("spots"), values["pigmentation.spots.area_pct"])
        add("red area %", tr.area_pct("red"), values["redness.area_pct"])
        add("inflamed lesions: count", len(tr.lesions), values["redness.lesions.count"])
        add("pores: count", len(tr.pores), values["pores.count"])
        add(
            "pores: mean diameter mm",
            float(np.mean([p.diameter_mm for p in tr.pores])),
            values["pores.mean_diameter_mm"],
        )
        add(
            "pores: enlarged (>= 0.25 mm) count",
            sum(p.diameter_mm >= 0.25 for p in tr.pores),
            values["pores.enlarged.count"],
        )
        add("wrinkles: count", len(tr.wrinkles), values["wrinkles.count"])
        add(
            "wrinkles: length mm",
            sum(ln.length_mm for ln in tr.wrinkles),
            values["wrinkles.length_mm"],
        )
        add("fine lines: count", len(tr.fine_lines), values["wrinkles.fine_lines.count"])
        add(
            "fine lines: length mm",
            sum(ln.length_mm for ln in tr.fine_lines),
            values["wrinkles.fine_lines.length_mm"],
        )
        add("shine: area %", tr.area_pct("shine"), values["oil.shine_area_pct"])
    out = []
    for name, pairs in rows.items():
        t = statistics.fmean(p[0] for p in pairs)
        m = statistics.fmean(p[1] for p in pairs)
        out.append((name, t, m))
    print(
        f"# {seeds} phantoms {size[1]}x{size[0]} px at {spacing} mm/px on {device}; "
        f"measures {statistics.fmean(times):.2f} s per phantom (wall, mean)"
    )
    return out


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
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for fn in MEASURES:  # warm-up
        fn(img)
    best: dict[str, tuple[float, float]] = {}
    for _ in range(3):
        for fn in MEASURES:
            name = fn.__module__.rsplit(".", 1)[1]
            sync()
            w0, c0 = time.perf_counter(), time.process_time()
            fn(img)
            sync()
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
    tw = sum(v[0] for v in best.values())
    tc = sum(v[1] for v in best.values())
    print(f"| **all six** | **{tw:.3f}** | **{tc:.3f}** |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--spacing", type=float, default=0.1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--timing", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    if args.timing:
        timing(args.device)
        return
    rows = run(args.seeds, args.spacing, args.device)
    print("| quantity | truth (mean) | measured (mean) | error |")
    print("|---|---:|---:|---:|")
    for name, t, m in rows:
        err = 100.0 * (m - t) / t if t else float("nan")
        print(f"| {name} | {t:.3f} | {m:.3f} | {err:+.1f} % |")


if __name__ == "__main__":
    main()
