"""Soak: open file descriptors, threads and memory of a running service over many associations.

The service runs in this process (``Service`` with an engine that never analyses, and a
quiet period long enough that nothing is analysed: only the receiving side and the status
server work). Each association stores one small photo by C-STORE (a new SOP Instance each
time); every tenth round also fetches ``/metrics``. After a warm-up, descriptors
(``/proc/self/fd``), threads and resident memory (``VmRSS``) are read before and after the
associations, once the association threads have ended.

    python benchmarks/soak.py                      # 1000 associations
    python benchmarks/soak.py --associations 300
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydicom.uid import generate_uid  # noqa: E402

from config.settings import Settings  # noqa: E402
from dicom_node.scu import store_files  # noqa: E402
from dicom_node.service import Service  # noqa: E402
from tests.dicomdata import VL_PHOTOGRAPHIC, make_image, save  # noqa: E402
from tests.peers import free_port  # noqa: E402

SOURCE = "SOAKPACS"


class IdleEngine:
    """An analysis engine that is never called (nothing becomes stable)."""

    device = "cpu"

    def analyze(self, image: Any, description: Any) -> Any:
        raise AssertionError("the soak analyses nothing")


@dataclass(frozen=True)
class Sample:
    """Process resources at one moment."""

    fds: int
    threads: int
    rss_mib: float


def sample() -> Sample:
    """Descriptors, threads and resident memory of this process now."""
    gc.collect()
    fds = len(os.listdir("/proc/self/fd"))
    rss_kib = 0
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
    return Sample(fds, threading.active_count(), rss_kib / 1024)


def settle(baseline_threads: int, timeout_s: float = 10.0) -> None:
    """Wait until the association threads of the last rounds have ended."""
    deadline = time.monotonic() + timeout_s
    while threading.active_count() > baseline_threads and time.monotonic() < deadline:
        time.sleep(0.05)


@dataclass(frozen=True)
class SoakResult:
    """What :func:`soak` measured."""

    before: Sample
    after: Sample
    seconds: float
    completed: int
    error: str | None = None


def soak(associations: int, warmup: int = 50) -> SoakResult:
    """Run the soak; stops at the first association that fails (``error`` says how)."""
    with tempfile.TemporaryDirectory(prefix="dermnode-soak-") as tmp:
        tmpdir = Path(tmp)
        port, http_port = free_port(), free_port()
        settings = Settings(
            node={
                "host": "127.0.0.1",
                "port": port,
                "storage_dir": str(tmpdir / "var"),
                "min_free_disk_mb": 0,
                "stable_after_s": 86400,
            },
            sources=[{"ae_title": SOURCE}],
            destinations=[{"name": "archive", "kind": "folder", "folder": str(tmpdir / "out")}],
            analysis={"device": "cpu", "workers": 1},
            http={"host": "127.0.0.1", "port": http_port},
        )
        service = Service(settings, tmpdir / "var", analyzer=IdleEngine(), tick_s=3600)  # type: ignore[arg-type]
        service.start()
        try:
            study = generate_uid()

            def one(n: int) -> None:
                ds = make_image(VL_PHOTOGRAPHIC, rows=16, cols=16, study_uid=study, seed=n)
                path = save(ds, tmpdir / "in.dcm")
                status = store_files("127.0.0.1", port, "DERMNODE", SOURCE, [path])
                if status != [0]:
                    raise RuntimeError(f"association {n}: C-STORE status {status}")
                if n % 10 == 0:
                    url = f"http://127.0.0.1:{http_port}/metrics"
                    with urllib.request.urlopen(url, timeout=10) as rsp:
                        rsp.read()

            for n in range(warmup):
                one(n)
            threads0 = threading.active_count()
            settle(threads0)
            before = sample()
            started = time.monotonic()
            completed, error = 0, None
            for n in range(warmup, warmup + associations):
                try:
                    one(n)
                except (OSError, RuntimeError) as exc:  # ConnectionError is an OSError
                    error = f"{type(exc).__name__}: {exc}"
                    break
                completed += 1
            elapsed = time.monotonic() - started
            settle(before.threads)
            after = sample()
        finally:
            service.stop(grace_s=2.0)
    return SoakResult(before, after, elapsed, completed, error)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--associations", type=int, default=1000)
    args = parser.parse_args()
    r = soak(args.associations)
    before, after = r.before, r.after
    print(
        f"{r.completed} of {args.associations} associations (C-STORE each, /metrics every "
        f"10th) in {r.seconds:.1f} s; open-files limit {os.sysconf('SC_OPEN_MAX')}"
    )
    if r.error:
        print(f"stopped at association {r.completed + 1}: {r.error}")
    print(f"{'':<18}{'before':>10}{'after':>10}{'change':>10}")
    for name, a, b in (
        ("descriptors", before.fds, after.fds),
        ("threads", before.threads, after.threads),
        ("RSS MiB", before.rss_mib, after.rss_mib),
    ):
        print(f"{name:<18}{a:>10.0f}{b:>10.0f}{b - a:>+10.0f}")


if __name__ == "__main__":
    main()
