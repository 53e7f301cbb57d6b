"""End to end: from the last C-STORE of a study to the EMR's HL7 ACK, and batch throughput.

The whole service runs in this process (``Service``: node, grouping, analysis worker,
outbox); the photos arrive by C-STORE over loopback; results go to Orthanc by C-STORE when
Orthanc is installed (else to a folder destination); the ORU goes over MLLP to python-hl7's
server acting as the EMR. Each study has three 12-megapixel JPEG photos (frontal, left and
right views made by upscaling the bundled astronaut photo, cropped to 4:3).

Latency = (time the ORU's ACK was recorded) - (time the last C-STORE response arrived)
          - stable_after_s    (the quiet period the node waits for on purpose)

Throughput: a batch of studies sent back to back over one association; studies per minute
from the first C-STORE to the last ACK.

    python benchmarks/end_to_end.py                     # 2 latency studies + batch of 5
    python benchmarks/end_to_end.py --megapixels 3 --batch 3 --device cuda
    python benchmarks/end_to_end.py --latency-runs 0 --workers 2   # throughput, 2 workers
"""

from __future__ import annotations

import argparse
import io
import logging
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from pydicom import dcmread  # noqa: E402
from pydicom.encaps import encapsulate  # noqa: E402
from pydicom.uid import JPEGBaseline8Bit, generate_uid  # noqa: E402

from config.settings import Settings  # noqa: E402
from dicom_node.demo import sample_photo_path  # noqa: E402
from dicom_node.scu import store_files  # noqa: E402
from dicom_node.service import Service, worker_count  # noqa: E402
from dicom_node.store import OutboxKind, StudyState  # noqa: E402
from tests.dicomdata import VL_PHOTOGRAPHIC, _with_meta, make_image  # noqa: E402
from tests.integration.service_helpers import EmrPeer, serve_config  # noqa: E402
from tests.peers import free_port  # noqa: E402

SOURCE = "BENCHPACS"


def face_views(megapixels: float) -> list[tuple[str, bytes, int, int]]:
    """(laterality, JPEG bytes, rows, cols) of the three views at *megapixels*."""
    with Image.open(sample_photo_path()) as im:
        rgb = im.convert("RGB")
    w, h = rgb.size
    rgb = rgb.crop((0, 0, w, int(w * 3 / 4)))  # 4:3, the face stays in the frame
    # Even sizes (multiples of 8, as cameras write): python-gdcm's RLE encoder aborts the
    # process on an odd pixel count (used for the fractional SEG), see docs/performance.md.
    cols = int(round((megapixels * 1e6 * 4 / 3) ** 0.5 / 8)) * 8
    rows = cols * 3 // 4 // 8 * 8
    big = rgb.resize((cols, rows), Image.Resampling.BICUBIC)
    rng = np.random.default_rng(0)
    arr = np.asarray(big).astype(np.int16) + rng.integers(-3, 4, (rows, cols, 3))
    big = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    out = []
    for lat, img in (
        ("", big),
        ("L", big.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        ("R", big.rotate(2, resample=Image.Resampling.BILINEAR)),
    ):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=92)
        out.append((lat, buf.getvalue(), rows, cols))
    return out


def make_study(folder: Path, views: list[tuple[str, bytes, int, int]], index: int) -> list[Path]:
    """One 3-view study (new UIDs) as JPEG Baseline VL Photographic Images."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    paths = []
    for n, (lat, jpeg, rows, cols) in enumerate(views, 1):
        ds = make_image(VL_PHOTOGRAPHIC, rows=16, cols=16, study_uid=study, series_uid=series)
        ds.Rows, ds.Columns = rows, cols
        ds.PhotometricInterpretation = "YBR_FULL_422"
        ds.PatientID = f"BENCH{index:03d}"
        ds.InstanceNumber = n
        if lat:
            ds.ImageLaterality = lat
        ds.PixelData = encapsulate([jpeg])
        ds["PixelData"].VR = "OB"
        _with_meta(ds, JPEGBaseline8Bit)
        path = folder / f"{n}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def study_uid(files: list[Path]) -> str:
    return str(dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)


def ack_time(service: Service, uid: str) -> float:
    assert service.node is not None
    store = service.node.store
    study = store.get_study(uid)
    assert study is not None
    (row,) = [r for r in store.list_outbox(study_id=study.id) if r.kind is OutboxKind.HL7]
    assert row.delivered_at is not None
    return row.delivered_at


def wait_notified(service: Service, uids: list[str], timeout_s: float) -> None:
    for uid in uids:
        if not service.wait_for(uid, (StudyState.NOTIFIED, StudyState.FAILED), timeout_s):
            raise TimeoutError(f"study not notified within {timeout_s} s")
        assert service.node is not None
        rec = service.node.store.get_study(uid)
        if rec is None or rec.state is not StudyState.NOTIFIED:
            raise RuntimeError(f"study ended {rec.state if rec else None}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--latency-runs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=5)
    ap.add_argument("--stable-after", type=float, default=1.0)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument(
        "--workers", type=int, default=None, help="analysis.workers (default: the service's)"
    )
    ap.add_argument("--dir", default=None, help="work folder (default: a temp folder)")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    work = Path(a.dir or tempfile.mkdtemp(prefix="dermnode-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    views = face_views(a.megapixels)
    rows, cols = views[0][2], views[0][3]
    small = face_views(0.25)

    with ExitStack() as stack:
        emr = EmrPeer()
        stack.callback(emr.close)
        destination: dict[str, Any]
        if shutil.which("Orthanc"):
            from tests.orthanc import start_orthanc

            pacs = stack.enter_context(start_orthanc(work / "orthanc"))
            destination = {
                "name": "pacs",
                "kind": "dicom",
                "ae_title": pacs.aet,
                "host": "127.0.0.1",
                "port": pacs.dicom_port,
            }
            where = "Orthanc (C-STORE)"
        else:
            destination = {"name": "pacs", "kind": "folder", "folder": str(work / "pacs")}
            where = "a folder (Orthanc not installed)"
        cfg = serve_config(
            work / "var",
            port=free_port(),
            sources=[{"ae_title": SOURCE, "host": "127.0.0.1"}],
            destinations=[destination],
            hl7_port=emr.port,
            stable_after_s=a.stable_after,
            analysis={"device": a.device}
            if a.workers is None
            else {"device": a.device, "workers": a.workers},
            logging={"level": "WARNING"},
        )
        service = Service(Settings(**cfg), work / "var", tick_s=0.1)
        service.start()
        stack.callback(service.stop)
        assert service.node is not None
        port = service.node.port

        def send(files: list[Path]) -> float:
            statuses = store_files("127.0.0.1", port, "DERMNODE", SOURCE, files)
            if statuses != [0] * len(files):
                raise RuntimeError(f"C-STORE statuses {statuses}")
            return time.time()

        # Warm-up (not counted): a small study loads every lazy part of the engine.
        warm = make_study(work / "warm", small, 0)
        send(warm)
        wait_notified(service, [study_uid(warm)], 300)

        latencies: list[float] = []
        analysis: list[float] = []
        for i in range(a.latency_runs):
            files = make_study(work / f"lat{i}", views, i + 1)
            before = (service.stats.seconds_sum, service.stats.analysed)
            last = send(files)
            wait_notified(service, [study_uid(files)], 600)
            latencies.append(ack_time(service, study_uid(files)) - last - a.stable_after)
            analysis.append(service.stats.seconds_sum - before[0])

        batch = [make_study(work / f"batch{i}", views, 100 + i) for i in range(a.batch)]
        first = time.time()
        send([f for files in batch for f in files])
        uids = [study_uid(files) for files in batch]
        wait_notified(service, uids, 600 + 120 * a.batch)
        last_ack = max(ack_time(service, u) for u in uids)
        per_minute = a.batch / (last_ack - first) * 60

    device = service.analyzer.device
    threads = torch.get_num_threads()
    print(
        f"3-view study of {cols}x{rows} ({rows * cols / 1e6:.1f} MP) JPEG photos; "
        f"device {device}, {threads} torch thread(s), {worker_count(service.settings)} "
        f"analysis worker(s); results to {where}; "
        f"stable_after_s {a.stable_after:g} (subtracted)"
    )
    print("| measure | value |")
    print("|---|---|")
    for i, (lat, an) in enumerate(zip(latencies, analysis, strict=True), 1):
        print(f"| latency, study {i}: last C-STORE -> HL7 ACK | {lat:.1f} s |")
        print(f"| of which analysis + encoding (worker), study {i} | {an:.1f} s |")
    if latencies:
        print(f"| latency, median | {statistics.median(latencies):.1f} s |")
    print(f"| batch of {a.batch} studies: first C-STORE -> last ACK | {last_ack - first:.1f} s |")
    print(f"| throughput | {per_minute:.2f} studies/min |")
    if a.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
