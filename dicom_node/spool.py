"""The spool: received DICOM files, written durably before C-STORE answers Success.

Layout under ``<storage_dir>``::

    spool/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm   the instances
    spool/.tmp/<random>.part                                            files being written

A file is written to ``.tmp`` (same file system), flushed and ``fsync``-ed, then renamed to its
final name with :func:`os.replace` (atomic), and the directory entry is ``fsync``-ed too. So a
crash at any point leaves either no file or the complete file under its final name, and at
worst a ``.part`` file that :meth:`Spool.sweep` deletes on the next start. Nothing in ``.tmp``
is ever taken for an instance.

UIDs become path components only after :func:`is_valid_uid` (PS3.5 §9.1: digits and dots,
at most 64 characters), so a crafted UID cannot escape the spool. A UID that is not valid but
still identifies an object (:func:`is_storable_uid`: stray quote characters around a valid
UID, as some public dermoscopy archives carry them) never becomes a path component: its
component is ``u-<sha256 of the exact UID>`` instead (:func:`spool_name`), so two UIDs that
differ in a single character (``1.2.3`` and ``'1.2.3'``) never share a file, and the job store
keeps the UID exactly as received.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SPOOL_DIRNAME",
    "TMP_DIRNAME",
    "Spool",
    "SweepReport",
    "is_storable_uid",
    "is_valid_uid",
    "spool_name",
]

logger = logging.getLogger(__name__)

SPOOL_DIRNAME = "spool"
TMP_DIRNAME = ".tmp"
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_LENIENT_UID_RE = re.compile(r"^[0-9][0-9.]*$")


def is_valid_uid(value: object, *, strict: bool = False) -> bool:
    """Whether *value* is usable as a UID (and so as a spool path component).

    PS3.5 §9.1: components of digits separated by dots, at most 64 characters. Many devices
    send components with leading zeros; those are accepted unless *strict*.
    """
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        return False
    if ".." in value or value.endswith("."):
        return False
    return bool((_UID_RE if strict else _LENIENT_UID_RE).match(value))


#: Stray characters tolerated around a UID (quotes; padding is removed by pydicom already).
_STRAY = "'\""
_HASHED_PREFIX = "u-"


def is_storable_uid(value: object) -> bool:
    """Whether *value* identifies an object well enough to store it (PS3.5 §9.1, leniently).

    Valid UIDs (:func:`is_valid_uid`), and valid UIDs with at most two stray quote characters
    around them (``'1.2.3'``, ``"1.2.3"``; so a quoted 64-character UID is 66 characters).
    Such a UID is kept exactly as received; it is never a path component (:func:`spool_name`).
    """
    if not isinstance(value, str):
        return False
    if is_valid_uid(value):
        return True
    core = value.strip(_STRAY)
    return len(value) - len(core) <= 2 and is_valid_uid(core)


def spool_name(uid: str) -> str:
    """The path component of *uid* in the spool.

    A valid UID is its own name; any other storable UID is ``u-`` plus the SHA-256 of its
    exact characters (never a valid UID, so the two kinds of names cannot collide).

    Raises
    ------
    ValueError
        *uid* is not storable (:func:`is_storable_uid`).
    """
    if is_valid_uid(uid):
        return uid
    if not is_storable_uid(uid):
        raise ValueError("not a storable UID")
    return _HASHED_PREFIX + hashlib.sha256(uid.encode("ascii")).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What :meth:`Spool.sweep` found at startup."""

    temp_files_removed: int
    instance_files: int


class Spool:
    """Durable file storage for received instances.

    Parameters
    ----------
    storage_dir
        The node's storage directory; the spool lives in ``storage_dir/spool``.
    """

    def __init__(self, storage_dir: str | Path) -> None:
        self.root = Path(storage_dir) / SPOOL_DIRNAME
        self.tmp = self.root / TMP_DIRNAME
        self.root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for d in (self.root.parent, self.root, self.tmp):  # patient data: 0700 folders
            d.mkdir(mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)

    def final_path(self, study_uid: str, series_uid: str, sop_uid: str) -> Path:
        """Where an instance is kept: one file per exact SOP Instance UID.

        Each UID becomes its :func:`spool_name` (itself when valid, a digest otherwise).

        Raises
        ------
        ValueError
            A UID is not storable (names the parameter).
        """
        names = []
        for name, uid in (
            ("study_uid", study_uid),
            ("series_uid", series_uid),
            ("sop_uid", sop_uid),
        ):
            if not is_storable_uid(uid):
                raise ValueError(f"{name} is not a valid UID")
            names.append(spool_name(uid))
        return self.root / names[0] / names[1] / f"{names[2]}.dcm"

    def write(self, final: Path, chunks: Iterable[bytes | memoryview]) -> int:
        """Write *chunks* durably to *final* (temp file, fsync, rename, fsync directory).

        Returns
        -------
        int
            The number of bytes written.
        """
        tmp = self.tmp / f"{secrets.token_hex(12)}.part"
        size = 0
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            created = self._makedirs(final.parent)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        for d in created:
            _fsync_dir(d.parent)
        return size

    def _makedirs(self, d: Path) -> list[Path]:
        """Create *d* and missing parents; return the created ones (for a directory fsync)."""
        missing: list[Path] = []
        p = d
        while not p.exists() and p != self.root:
            missing.append(p)
            p = p.parent
        created = list(reversed(missing))
        for c in created:
            c.mkdir(mode=0o700, exist_ok=True)
        return created

    def free_bytes(self) -> int:
        """Free space on the spool's file system, for unprivileged users."""
        return int(shutil.disk_usage(self.root).free)

    def instance_files(self) -> Iterator[Path]:
        """Every instance file in the spool (never the temp folder)."""
        for study in self.root.iterdir():
            if study.name == TMP_DIRNAME or not study.is_dir():
                continue
            yield from (p for p in study.glob("*/*.dcm") if p.is_file())

    def sweep(self) -> SweepReport:
        """Startup: delete unfinished temp files and count the instance files.

        A ``.part`` file belongs to a C-STORE that never answered Success, so the sender
        still holds that instance; deleting it loses nothing.
        """
        removed = 0
        for p in self.tmp.iterdir():
            if p.is_file():
                p.unlink(missing_ok=True)
                removed += 1
        count = sum(1 for _ in self.instance_files())
        if removed:
            logger.warning("spool: removed %d unfinished temp file(s)", removed)
        return SweepReport(temp_files_removed=removed, instance_files=count)
