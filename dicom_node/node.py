"""Node start-up and storage paths: spool, job store and the listening SCP, in order.

:func:`start_node` is the receiving half of the data path (DESIGN.md §2 steps 1-2): it opens
the spool and the job store in the storage folder (created 0700: it holds patient data),
records spool files a crash left unrecorded, and starts the Storage SCP. The service
(:mod:`dicom_node.service`) adds grouping, analysis and delivery on top.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from dicom_node import setup
from dicom_node.scp import DicomNode, StoreHandler, recover_orphans
from dicom_node.spool import Spool
from dicom_node.store import DB_FILENAME, JobStore

__all__ = [
    "RESULTS_DIR",
    "RunningNode",
    "job_store_path",
    "private_dir",
    "start_node",
    "storage_dir_for",
]

logger = logging.getLogger(__name__)

#: The results folder inside the storage folder (``results/job-<id>/<set>/``).
RESULTS_DIR = "results"


def storage_dir_for(settings: Settings, config_path: str | Path | None) -> Path:
    """The storage directory: a relative ``node.storage_dir`` is taken from the config
    file's folder, or from the working directory for the embedded default."""
    base = Path(config_path).resolve().parent if config_path is not None else Path.cwd()
    return settings.storage_path(base)


def job_store_path(storage_dir: Path) -> Path:
    """The job store file inside *storage_dir*."""
    return storage_dir / DB_FILENAME


def private_dir(path: Path) -> Path:
    """Create *path* as a 0700 folder (missing parents too); tighten an existing one.

    ``mkdir(parents=True)`` would create the parents with the default mode, so each missing
    level is created here.
    """
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


@dataclass
class RunningNode:
    """The parts of a started node; :meth:`stop` shuts them down in order."""

    settings: Settings
    storage_dir: Path
    spool: Spool
    store: JobStore
    handler: StoreHandler
    dicom: DicomNode

    @property
    def port(self) -> int:
        """The DICOM port actually bound."""
        return self.dicom.port

    @property
    def active_associations(self) -> int:
        """Open DICOM associations now."""
        return self.dicom.active_associations

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop listening, finish or abort running associations, close the job store."""
        self.dicom.stop(grace_s)
        self.store.close()


def start_node(settings: Settings, storage_dir: Path) -> RunningNode:
    """Open spool and job store, recover after a crash, start the SCP (non-blocking)."""
    setup.apply()
    private_dir(storage_dir)
    spool = Spool(storage_dir)
    sweep = spool.sweep()
    store = JobStore(job_store_path(storage_dir), settings.delivery)
    try:
        recover_orphans(spool, store)
        logger.info(
            "spool: %d instance file(s), %d in the job store",
            sweep.instance_files,
            store.count_instances(),
        )
        handler = StoreHandler(spool, store, min_free_disk_mb=settings.node.min_free_disk_mb)
        dicom = DicomNode(settings.node, settings.sources, handler)
        dicom.start()
    except BaseException:
        store.close()
        raise
    return RunningNode(settings, storage_dir, spool, store, handler, dicom)
