"""Latency of the face model (analysis.models.FaceModel) per photo: detect, mesh, iris, total.

Real faces: Face Research Lab London photos (1350 x 1350, ``shared/data/faces-london``; the
committed 540 px test copies when that folder is absent), and the same faces placed in a
12 MP frame (4000 x 3000, upscaled) to show what the photo size costs (only the letterbox and
the crops' anti-aliasing filter see the full photo). Batches of 1 and 3 photos (the views of a
study go through each network together).

    python benchmarks/face_model.py                      # CPU, 2 threads
    python benchmarks/face_model.py --threads 1 --repeats 15
    python benchmarks/face_model.py --device cuda

Stages: ``detect`` = letterbox + BlazeFace short-range (full-range only for photos it misses;
none here); ``mesh`` = rotated 192 px crop + FaceMesh + mapping back; ``iris`` = two 64 px eye
crops + Iris + mapping back; ``total`` = ``FaceModel.__call__`` (all of it, plus input checks).
``total, CPU time`` is the process' CPU time for the whole call (all threads): on a machine
shared with other jobs it does not count the time the process waits for a core, so with one
thread it is what the call takes on an idle core. Wall-clock timings on a shared machine are
noisy: read the best of the repeats; the median is beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, benchmarks/ comes first on sys.path and its analysis.py would shadow the
# analysis package.
sys.path[0] = str(ROOT)
LONDON_CANDIDATES = [
    base / "shared" / "data" / "faces-london" / "neutral_front" for base in ROOT.parents[:2]
]
COMMITTED = ROOT / "tests" / "data" / "models"


def load_faces() -> tuple[list[np.ndarray], str]:
    names = ["001_03.jpg", "002_03.jpg", "003_03.jpg"]
    for london in LONDON_CANDIDATES:
        if all((london / n).is_file() for n in names):
            photos = [np.asarray(Image.open(london / n).convert("RGB")) for n in names]
            return photos, "London 1350 x 1350"
    committed = ["london_001_03.jpg", "london_014_03.jpg", "london_001_03.jpg"]
    photos = [np.asarray(Image.open(COMMITTED / n).convert("RGB")) for n in committed]
    return photos, "London 540 x 540 (committed copies)"


def in_12mp_frame(photo: np.ndarray) -> np.ndarray:
    frame = np.full((3000, 4000, 3), 200, np.uint8)
    face = np.asarray(Image.fromarray(photo).resize((2600, 2600), Image.Resampling.BILINEAR))
    frame[200:2800, 700:3300] = face
    return frame


def timed(
    fn: Callable[[], object], repeats: int, sync: Callable[[], None], clock: Callable[[], float]
) -> tuple[float, float]:
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        sync()
        times.append((clock() - t0) * 1000.0)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from analysis.models import FaceModel
    from analysis.models.face_model import _roi_from_detection

    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model = FaceModel(device)
    faces, label = load_faces()
    sets = [(label, faces), ("12 MP frame (4000 x 3000)", [in_12mp_frame(f) for f in faces])]
    where = f"{device.type}, {args.threads} thread(s)" if device.type == "cpu" else str(device)
    print(f"face model latency, ms per photo, best (median) of {args.repeats}; {where}")
    print(f"torch {torch.__version__}")
    print()
    print("| photos | batch | detect | mesh | iris | total | total, CPU time |")
    print("|---|---|---|---|---|---|---|")
    for name, photos in sets:
        for batch in (1, 3):
            group = photos[:batch]
            with torch.inference_mode():
                tensors = [model._to_tensor(p, k) for k, p in enumerate(group)]
                dets = model.detect_tensors(tensors)
                assert all(d is not None for d in dets), "a face was missed"
                rois = [_roi_from_detection(d) for d in dets if d is not None]
                mesh, _ = model._mesh(tensors, rois)

                stages: list[Callable[[], object]] = [
                    lambda t=tensors: model.detect_tensors(t),  # type: ignore[misc]
                    lambda t=tensors, r=rois: model._mesh(t, r),  # type: ignore[misc]
                    lambda t=tensors, m=mesh: model._iris(t, m),  # type: ignore[misc]
                ]
                cols = [timed(f, args.repeats, sync, time.perf_counter) for f in stages]
            whole = lambda g=group: model(g)  # type: ignore[misc]  # noqa: E731
            cols.append(timed(whole, args.repeats, sync, time.perf_counter))
            cols.append(timed(whole, args.repeats, sync, time.process_time))
            cells = " | ".join(f"{b / batch:.1f} ({m / batch:.1f})" for b, m in cols)
            print(f"| {name} | {batch} | {cells} |")


if __name__ == "__main__":
    main()
