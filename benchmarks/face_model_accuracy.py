"""Accuracy of the face model alone on the London set: detection, pupils, eye and mouth corners.

Reproduces the figures of docs/methods/pipeline.md, "Face model" (zones, pose and the other
landmarks are benchmarks/landmarks.py's). Errors are in % of the template's inter-pupillary
distance; template points are read as pixel-index coordinates (+0.5 px to the model's
continuous pixels).

    python benchmarks/face_model_accuracy.py
    python benchmarks/face_model_accuracy.py --mesh-offset 0.5     # the old mesh crop sampling
    python benchmarks/face_model_accuracy.py --every 4 --refine   # the second mesh pass

Template indices (189-point ``.tem``): pupils 0/1; eye corners 18, 22, 23, 27 (image-left eye
outer/inner, image-right eye inner/outer) against mesh 33, 133, 362, 263; mouth corners
87/93 against mesh 61/291.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # benchmarks/analysis.py would shadow the analysis package
DATA = next(
    (
        base / "shared" / "data" / "faces-london"
        for base in ROOT.parents[:2]
        if (base / "shared" / "data" / "faces-london").is_dir()
    ),
    ROOT.parent / "shared" / "data" / "faces-london",
)
PAIRS = {
    "eye corners": [(18, 33), (22, 133), (23, 362), (27, 263)],
    "mouth corners": [(87, 61), (93, 291)],
}


def read_tem(path: Path) -> np.ndarray:
    lines = path.read_text().split("\n")
    n = int(lines[0])
    return np.array([[float(v) for v in line.split()] for line in lines[1 : 1 + n]]) + 0.5


def summary(name: str, errs: list[np.ndarray]) -> str:
    e = np.array(errs)
    d = np.linalg.norm(e, axis=1)
    return (
        f"| {name} | {len(e)} | {np.median(d):.2f} | {np.percentile(d, 95):.2f} | {d.max():.2f} "
        f"| {e[:, 0].mean():+.2f} / {e[:, 1].mean():+.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--every", type=int, default=1, help="use every n-th face")
    parser.add_argument("--mesh-offset", type=float, default=None)
    parser.add_argument("--refine", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from analysis.models import FaceModel

    model = FaceModel("cpu", refine=args.refine)
    if args.mesh_offset is not None:
        model._crop_mesh.pixel_offset = args.mesh_offset
    errs: dict[str, list[np.ndarray]] = {"pupils": [], **{k: [] for k in PAIRS}}
    scores: list[float] = []
    missed = 0

    def photos(folder: str, pattern: str) -> list[Path]:
        # Skip macOS "._*" resource files that travel with the set.
        found = (args.data / folder).glob(pattern)
        return sorted(p for p in found if not p.name.startswith("."))[:: args.every]

    neutral = photos("neutral_front", "*_03.jpg")
    for path in neutral:
        face = model([np.asarray(Image.open(path).convert("RGB"))])[0]
        if face is None:
            missed += 1
            continue
        scores.append(face.detection_score)
        t = read_tem(path.with_suffix(".tem"))
        ipd = float(np.linalg.norm(t[0] - t[1]))
        errs["pupils"].append((face.iris_image_left[0] - t[0]) / ipd * 100)
        errs["pupils"].append((face.iris_image_right[0] - t[1]) / ipd * 100)
        for group, pairs in PAIRS.items():
            for ti, mi in pairs:
                errs[group].append((face.mesh[mi, :2] - t[ti]) / ipd * 100)
    smiling = photos("smiling_front", "*.jpg")
    smiles = [model([np.asarray(Image.open(p).convert("RGB"))])[0] for p in smiling]
    print(
        f"neutral_front: {len(neutral) - missed}/{len(neutral)} found, lowest score "
        f"{min(scores):.3f}; smiling_front: {sum(s is not None for s in smiles)}/{len(smiles)}"
    )
    print(f"mesh offset {model._crop_mesh.pixel_offset}, refine {args.refine}")
    print()
    print("| points | n | median % IPD | p95 | max | mean dx / dy |")
    print("|---|---|---|---|---|---|")
    for name, values in errs.items():
        print(summary(name, values))


if __name__ == "__main__":
    main()
