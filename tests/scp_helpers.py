"""Starting a DermNode SCP for tests: in-process (threads) or as a ``dermnode serve`` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from config.settings import Settings
from dicom_node.node import RunningNode, start_node
from tests.peers import free_port

ROOT = Path(__file__).resolve().parents[1]
SCU_AE = "TESTSCU"


def node_settings(
    port: int,
    storage_dir: Path,
    sources: Sequence[dict[str, Any]] = ({"ae_title": SCU_AE, "host": "127.0.0.1"},),
    **node: Any,
) -> dict[str, Any]:
    """A settings mapping (YAML-shaped) for a loopback test node."""
    n = {
        "ae_title": "DERMNODE",
        "host": "127.0.0.1",
        "port": port,
        "storage_dir": str(storage_dir),
        "min_free_disk_mb": 0,
        "acse_timeout_s": 10,
        "dimse_timeout_s": 20,
        "network_timeout_s": 20,
    }
    n.update(node)
    return {"node": n, "sources": list(sources), "destinations": [], "hl7": []}


@contextmanager
def running_node(storage_dir: Path, **kwargs: Any) -> Iterator[RunningNode]:
    """An in-process node on a free loopback port, stopped afterwards."""
    port = free_port()
    settings = Settings(**node_settings(port, storage_dir, **kwargs))
    node = start_node(settings, storage_dir)
    try:
        yield node
    finally:
        node.stop(grace_s=2.0)


def wait_for_port(
    port: int, timeout_s: float = 30.0, proc: subprocess.Popen[Any] | None = None
) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:*port*."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def serve_process(
    config: dict[str, Any], config_file: Path, stderr_file: Path
) -> subprocess.Popen[bytes]:
    """Start ``python -m dicom_node serve --config FILE`` and wait until it listens."""
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERMNODE_")}
    env["PYTHONPATH"] = str(ROOT)
    err = stderr_file.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dicom_node", "serve", "--config", str(config_file)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    err.close()
    try:
        wait_for_port(int(config["node"]["port"]), proc=proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc
