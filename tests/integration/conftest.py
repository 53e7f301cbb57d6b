"""Fixtures shared by the integration tests: Orthanc as the PACS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.orthanc import Orthanc, start_orthanc


@pytest.fixture
def orthanc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """A fresh Orthanc (AE ``ORTHANC``) on free loopback ports, without modalities.

    Register peers with ``orthanc_server.add_modality(name, aet, host, port)``.
    """
    with start_orthanc(tmp_path_factory.mktemp("orthanc")) as pacs:
        yield pacs
