"""The MONAI bundle seam: a pinned sha256 is checked before anything is read."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from analysis.bundles import ConcernModel, load_bundle, sha256_of
from analysis.errors import InputRejected
from analysis.measures.base import ConcernOutput, SkinImage


def _bundle(tmp_path: Path) -> Path:
    p = tmp_path / "tiny_bundle.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("tiny/configs/metadata.json", json.dumps({"name": "tiny", "version": "0.2"}))
    return p


def test_sha256_of_matches_hashlib(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"dermnode" * 1000)
    assert sha256_of(f, chunk=7) == hashlib.sha256(b"dermnode" * 1000).hexdigest()


def test_pinned_bundle_loads_and_reads_metadata(tmp_path: Path) -> None:
    p = _bundle(tmp_path)
    info = load_bundle(p, sha256_of(p).upper())
    assert (info.name, info.version) == ("tiny", "0.2")


def test_wrong_or_malformed_pin_is_refused(tmp_path: Path) -> None:
    p = _bundle(tmp_path)
    with pytest.raises(InputRejected, match="does not match"):
        load_bundle(p, "0" * 64)
    with pytest.raises(ValueError, match="sha256"):
        load_bundle(p, "abc")
    with pytest.raises(InputRejected, match="not a file"):
        load_bundle(tmp_path / "missing.zip", "0" * 64)
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputRejected, match="zip"):
        load_bundle(junk, sha256_of(junk))


def test_a_measure_satisfies_the_concern_model_protocol() -> None:
    class Model:
        concern = "pores"

        def __call__(self, img: SkinImage) -> ConcernOutput:
            return ConcernOutput(())

    assert isinstance(Model(), ConcernModel)
    assert not isinstance(object(), ConcernModel)
