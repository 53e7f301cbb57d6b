"""The seam for learned models in MONAI bundle form.

A learned model can later replace or add a concern measure. It plugs in exactly like the
measured algorithms: a callable ``SkinImage -> ConcernOutput`` (:class:`ConcernModel`),
passed to :class:`analysis.pipeline.Analyzer` in ``measures``.

A MONAI bundle is *code* (its ``$`` expressions are evaluated when its config is parsed), so
it is treated like code: loaded only from a local path given by the caller (never
downloaded), pinned by the sha256 of the bundle archive, checked before anything in it is
read, and opened read-only. :func:`load_bundle` does the checking and reads
``configs/metadata.json`` (name and version go into the SEG/SR algorithm identification);
instantiating the network is left to the concern that adopts a bundle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from analysis.errors import InputRejected
from analysis.measures.base import ConcernOutput, SkinImage

__all__ = ["BundleInfo", "ConcernModel", "load_bundle", "sha256_of"]

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@runtime_checkable
class ConcernModel(Protocol):
    """A learned (or any) measure of one concern."""

    concern: str

    def __call__(self, img: SkinImage) -> ConcernOutput:
        """Measure *img*; maps at the working resolution, as the built-in measures do."""
        ...


@dataclass(frozen=True, slots=True)
class BundleInfo:
    """A verified bundle archive and its metadata."""

    path: Path
    sha256: str
    name: str
    version: str


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_bundle(path: str | Path, sha256: str) -> BundleInfo:
    """Verify a local MONAI bundle archive (``.zip``) against its pinned *sha256*.

    Parameters
    ----------
    path
        A local bundle archive. Nothing is downloaded.
    sha256
        The pinned lowercase hex digest of the archive.

    Raises
    ------
    ValueError
        *sha256* is not 64 hex digits.
    InputRejected
        The file is missing, its digest differs from *sha256*, or it is not a bundle.
    """
    sha256 = sha256.strip().lower()
    if not _SHA256.match(sha256):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    p = Path(path)
    if not p.is_file():
        raise InputRejected(f"bundle path {p} is not a file")
    actual = sha256_of(p)
    if actual != sha256:
        raise InputRejected(f"bundle {p.name}: sha256 {actual} does not match the pin {sha256}")
    try:
        with zipfile.ZipFile(p) as z:  # read-only; nothing is extracted or executed
            meta_name = next((n for n in z.namelist() if n.endswith("configs/metadata.json")), None)
            if meta_name is None:
                raise InputRejected(f"bundle {p.name} has no configs/metadata.json")
            meta = json.loads(z.read(meta_name).decode("utf-8"))
    except zipfile.BadZipFile as exc:
        raise InputRejected(f"bundle {p.name} is not a zip archive") from exc
    name = str(meta.get("name", p.stem))
    version = str(meta.get("version", "0"))
    logger.info("bundle %s %s verified", name, version)
    return BundleInfo(path=p, sha256=sha256, name=name, version=version)
