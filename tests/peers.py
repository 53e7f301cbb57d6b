"""Finding the real peers (DCMTK, Orthanc, dicom3tools) and free loopback ports.

A missing peer skips its test locally with a clear message; in CI
(``DERMNODE_REQUIRE_PEERS=1``) it fails the test instead.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest

REQUIRE_PEERS = os.environ.get("DERMNODE_REQUIRE_PEERS", "") not in ("", "0")


def require_binary(name: str) -> str:
    """Return the path of *name* on PATH, or skip/fail the test when it is missing."""
    path = shutil.which(name)
    if path is None:
        msg = f"peer {name!r} not installed (apt-get install dcmtk orthanc dicom3tools)"
        if REQUIRE_PEERS:
            pytest.fail(msg + " and DERMNODE_REQUIRE_PEERS=1")
        pytest.skip(msg)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
