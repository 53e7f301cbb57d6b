"""Orthanc as the test PACS: started with its own config on free loopback ports.

Usage (a pytest fixture wraps it in ``tests/integration/conftest.py``)::

    with start_orthanc(tmp_path, modalities={"dermnode": ("DERMNODE", "127.0.0.1", port)}) as pacs:
        pacs.upload(path)                                  # POST /instances
        pacs.rest("POST", "/modalities/dermnode/store", {"Resources": [...]})
        pacs.add_modality("other", "OTHER", "127.0.0.1", 11113)
        pacs.dicom_port, pacs.http_port, pacs.aet

Orthanc accepts C-STORE from anyone (``DicomAlwaysAllowStore``) and does not check the called
AE title, so other engineers can send results to it without registering their AE.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers import free_port, require_binary

__all__ = ["Orthanc", "OrthancError", "start_orthanc"]


class OrthancError(RuntimeError):
    """Orthanc answered an HTTP error; ``status`` is its code."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"Orthanc HTTP {status}: {detail[:500]}")
        self.status = status


@dataclass
class Orthanc:
    """A running Orthanc: its AE title, ports and a small REST client."""

    aet: str
    dicom_port: int
    http_port: int
    folder: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        """Base URL of the REST API."""
        return f"http://127.0.0.1:{self.http_port}"

    def rest(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        timeout: float = 60.0,
    ) -> Any:
        """Call the REST API; JSON in (``body``) or raw bytes, decoded JSON (or bytes) out."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if raw is not None:
            req.add_header("Content-Type", "application/dicom")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as rsp:  # noqa: S310 (loopback)
                payload = rsp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()
            exc.close()  # else its socket lingers until garbage collection
            raise OrthancError(exc.code, detail.decode(errors="replace")) from None
        try:
            return json.loads(payload)
        except ValueError:
            return payload

    def upload(self, path: Path) -> dict[str, Any]:
        """Store a DICOM file in Orthanc (``POST /instances``)."""
        result: dict[str, Any] = self.rest("POST", "/instances", raw=Path(path).read_bytes())
        return result

    def add_modality(self, name: str, aet: str, host: str, port: int) -> None:
        """Register (or replace) a DICOM modality at run time (``PUT /modalities/NAME``)."""
        self.rest("PUT", f"/modalities/{name}", {"AET": aet, "Host": host, "Port": port})

    def instances(self) -> list[str]:
        """Orthanc ids of every stored instance."""
        result: list[str] = self.rest("GET", "/instances")
        return result


def _wait_ready(o: Orthanc, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if o.process.poll() is not None:
            log = (o.folder / "orthanc.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"Orthanc exited with {o.process.returncode}:\n{log}")
        try:
            o.rest("GET", "/system", timeout=2)
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    raise TimeoutError(f"Orthanc REST API not ready after {timeout_s} s")


@contextmanager
def start_orthanc(
    folder: Path,
    *,
    aet: str = "ORTHANC",
    modalities: Mapping[str, tuple[str, str, int]] | None = None,
    extra_config: Mapping[str, Any] | None = None,
) -> Iterator[Orthanc]:
    """Start Orthanc with its own configuration in *folder*; stop it afterwards.

    Parameters
    ----------
    modalities
        Name -> (AE title, host, port) of the DICOM peers Orthanc may send to.
    extra_config
        More Orthanc configuration keys (override the defaults here).
    """
    binary = require_binary("Orthanc")
    folder.mkdir(parents=True, exist_ok=True)
    dicom_port, http_port = free_port(), free_port()
    config: dict[str, Any] = {
        "Name": "DermNodeTestPACS",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "DicomAet": aet,
        "DicomPort": dicom_port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowEcho": True,
        "DicomCheckCalledAet": False,
        "DicomCheckModalityHost": False,
        "HttpsVerifyPeers": False,
        "Plugins": [],
        "DicomModalities": {k: list(v) for k, v in (modalities or {}).items()},
        "DicomScuTimeout": 30,
        "StableAge": 1,
    }
    config.update(extra_config or {})
    cfg = folder / "orthanc.json"
    cfg.write_text(json.dumps(config, indent=2))
    with (folder / "orthanc.log").open("ab") as log:
        proc = subprocess.Popen(
            [binary, str(cfg)], stdout=log, stderr=subprocess.STDOUT, cwd=folder
        )
    o = Orthanc(aet=aet, dicom_port=dicom_port, http_port=http_port, folder=folder, process=proc)
    try:
        _wait_ready(o)
        yield o
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
