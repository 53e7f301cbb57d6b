"""The web viewer a dermatologist uses, as a real peer: OHIF on Orthanc's DICOMweb, in Chromium.

- :func:`ohif_dist` finds the prebuilt OHIF (``@ohif/app`` from npm, its ``dist/``), which
  ``.ci/run`` unpacks into ``.ci/ohif/package`` (or ``DERMNODE_OHIF_DIST``).
- :func:`orthanc_dicomweb_config` is the Orthanc configuration that turns its DICOMweb
  plugin on (Debian ``orthanc-dicomweb``), with ``"DefaultEncoding": "Utf8"`` so Hangul names
  in the study list come out right.
- :func:`serve_ohif` serves OHIF on loopback with an ``app-config.js`` whose data source is
  Orthanc's ``/dicom-web``, proxied under the same origin (Orthanc sends no CORS headers).
- :func:`chromium` is Debian's Chromium, driven by Playwright (no browser download).

A missing piece skips the test locally with a clear message; in CI
(``DERMNODE_REQUIRE_PEERS=1``) it fails it.
"""

from __future__ import annotations

import json
import mimetypes
import os
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.peers import REQUIRE_PEERS, free_port

__all__ = [
    "CHROMIUM_FLAGS",
    "OHIF_VERSION",
    "chromium_path",
    "dicomweb_plugin",
    "ohif_dist",
    "orthanc_dicomweb_config",
    "serve_ohif",
]

#: The OHIF release the viewer test pins (``.ci/run`` installs the same).
OHIF_VERSION = "3.13.2"

#: Headless Chromium without background traffic (nothing outside loopback is reached).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)

_REPO = Path(__file__).resolve().parent.parent
_PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc/plugins")


def _missing(what: str, how: str) -> None:
    msg = f"viewer peer missing: {what} ({how})"
    if REQUIRE_PEERS:
        pytest.fail(msg + " and DERMNODE_REQUIRE_PEERS=1")
    pytest.skip(msg)


def ohif_dist() -> Path:
    """The ``dist/`` folder of ``@ohif/app`` :data:`OHIF_VERSION`, or skip/fail."""
    env = os.environ.get("DERMNODE_OHIF_DIST")
    dist = Path(env) if env else _REPO / ".ci" / "ohif" / "package" / "dist"
    package = dist.parent / "package.json"
    if not (dist / "index.html").is_file() or not package.is_file():
        _missing(f"OHIF dist at {dist}", f"npm pack @ohif/app@{OHIF_VERSION}, see .ci/run")
    version = json.loads(package.read_text(encoding="utf-8")).get("version")
    if version != OHIF_VERSION:
        _missing(f"OHIF {OHIF_VERSION} (found {version})", "re-run .ci/run")
    return dist


def dicomweb_plugin() -> Path:
    """Orthanc's DICOMweb plugin library, or skip/fail."""
    for folder in _PLUGIN_DIRS:
        lib = Path(folder) / "libOrthancDicomWeb.so"
        if lib.is_file():
            return lib
    _missing("Orthanc DICOMweb plugin", "apt-get install orthanc-dicomweb")
    raise AssertionError("unreachable")  # pragma: no cover


def chromium_path() -> str:
    """Debian's Chromium and the Playwright driver, or skip/fail."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing("chromium", "apt-get install chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright", "pip install -e '.[dev]'")
    return str(path)


def orthanc_dicomweb_config() -> dict[str, Any]:
    """Extra Orthanc configuration: the DICOMweb plugin at ``/dicom-web/``, UTF-8 default."""
    return {
        "Plugins": [str(dicomweb_plugin())],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True},
        # PACS setting for Korean names: without it the DICOMweb study list shows a name
        # sent without Specific Character Set as Latin-1 mojibake.
        "DefaultEncoding": "Utf8",
    }


def _app_config(origin: str) -> str:
    source = {
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
        "sourceName": "dicomweb",
        "configuration": {
            "friendlyName": "Orthanc (DermNode test PACS)",
            "name": "orthanc",
            "wadoUriRoot": f"{origin}/dicom-web",
            "qidoRoot": f"{origin}/dicom-web",
            "wadoRoot": f"{origin}/dicom-web",
            "qidoSupportsIncludeField": False,
            "imageRendering": "wadors",
            "thumbnailRendering": "wadors",
            "enableStudyLazyLoad": True,
            "supportsFuzzyMatching": False,
            "supportsWildcard": True,
            "omitQuotationForMultipartRequest": True,
            "bulkDataURI": {"enabled": True, "relativeResolution": "studies"},
        },
    }
    config = {
        "routerBasename": "/",
        "showStudyList": True,
        "extensions": [],
        "modes": [],
        "showWarningMessageForCrossOrigin": False,
        "showCPUFallbackMessage": False,
        "showLoadingIndicator": True,
        "strictZSpacingForVolumeViewport": True,
        "investigationalUseDialog": {"option": "never"},
        "defaultDataSourceName": "dicomweb",
        "dataSources": [source],
    }
    return "window.config = " + json.dumps(config, indent=2) + ";\n"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        return

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?", 1)[0]
        if path.startswith("/dicom-web/") or path == "/dicom-web":
            self._proxy()
        elif path == "/app-config.js":
            self._send(200, self.server.app_config.encode(), "application/javascript")
        else:
            self._static(path)

    def _static(self, path: str) -> None:
        dist = self.server.dist
        target = (dist / path.lstrip("/")).resolve()
        if not target.is_relative_to(dist) or not target.is_file():
            target = dist / "index.html"  # the single-page app's routes
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix == ".wasm":
            ctype = "application/wasm"
        self._send(200, target.read_bytes(), ctype)

    def _proxy(self) -> None:
        req = urllib.request.Request(self.server.orthanc + self.path)
        for name in ("Accept",):
            if self.headers.get(name):
                req.add_header(name, self.headers[name])
        try:
            with urllib.request.urlopen(req, timeout=120) as rsp:  # noqa: S310 (loopback)
                body, status = rsp.read(), rsp.status
                ctype = rsp.headers.get("Content-Type", "application/octet-stream")
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
            ctype = exc.headers.get("Content-Type", "text/plain")
            exc.close()
        # Orthanc writes absolute BulkDataURIs with its own address: point them at the proxy.
        if ctype.startswith(("application/dicom+json", "application/json")):
            body = body.replace(self.server.orthanc.encode(), self.server.origin.encode())
        self._send(status, body, ctype)

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, dist: Path, orthanc: str) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.dist = dist.resolve()
        self.orthanc = orthanc.rstrip("/")
        self.origin = f"http://127.0.0.1:{port}"
        self.app_config = _app_config(self.origin)


@contextmanager
def serve_ohif(dist: Path, orthanc_url: str) -> Iterator[str]:
    """Serve OHIF from *dist* on a loopback port, DICOMweb proxied to *orthanc_url*.

    Yields the origin (``http://127.0.0.1:PORT``).
    """
    server = _Server(free_port(), dist, orthanc_url)
    thread = threading.Thread(target=server.serve_forever, name="ohif-http", daemon=True)
    thread.start()
    try:
        yield server.origin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
