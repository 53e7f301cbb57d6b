"""Crash safety of ``dermnode serve``: kill -9 after Success loses nothing; logs hold no PHI."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.dicomdata import VL_PHOTOGRAPHIC, make_image, save
from tests.peers import free_port, require_binary
from tests.scp_helpers import SCU_AE, node_settings, serve_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 20


def test_kill_9_after_success_loses_nothing_and_temp_files_are_not_instances(
    tmp_path: Path,
) -> None:
    storescu = require_binary("storescu")
    study = "1.2.826.0.1.3680043.8.498.1"
    files = [
        save(
            make_image(
                VL_PHOTOGRAPHIC,
                patient_name="PHI^SENTINEL",
                study_uid=study,
                seed=i,
                rows=64,
                cols=64,
            ),
            tmp_path / f"in{i:02d}.dcm",
        )
        for i in range(N)
    ]
    uids = {str(dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files}
    storage = tmp_path / "var"
    port = free_port()
    cfg = node_settings(port, storage)
    cfg["logging"] = {"level": "DEBUG"}
    stderr = tmp_path / "node.log"
    proc = serve_process(cfg, tmp_path / "node.yaml", stderr)
    try:
        r = subprocess.run(
            [
                storescu,
                "-aet",
                SCU_AE,
                "-aec",
                "DERMNODE",
                "127.0.0.1",
                str(port),
                *map(str, files),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr  # every instance was answered with Success
    finally:
        proc.send_signal(signal.SIGKILL)  # right after the last Success
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # A write interrupted by the crash: a half-written temp file must not count.
    leftover = storage / "spool" / ".tmp" / "deadbeef.part"
    leftover.write_bytes(files[0].read_bytes()[:1000])

    proc = serve_process(cfg, tmp_path / "node.yaml", stderr)
    try:
        db = sqlite3.connect(storage / "dermnode.sqlite3")
        rows = db.execute("SELECT sop_instance_uid, path, size FROM instances").fetchall()
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        db.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
    assert rc == 0  # SIGTERM is a clean shutdown
    assert mode == "wal"
    assert {r[0] for r in rows} == uids
    for _uid, path, size in rows:
        assert os.path.getsize(path) == size
        assert str(dcmread(path, stop_before_pixels=True).SOPInstanceUID) == _uid
    assert not leftover.exists()
    spooled = [p for p in (storage / "spool").rglob("*") if p.is_file()]
    assert len(spooled) == N

    log = stderr.read_text(encoding="utf-8", errors="replace")
    assert "DEBUG" in log and "stored VL Photographic Image Storage" in log
    assert "removed 1 unfinished temp file" in log
    assert "SENTINEL" not in log
