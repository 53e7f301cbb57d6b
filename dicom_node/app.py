"""Composition root: settings in, a running node out (wiring only, no logic).

:func:`serve` is ``dermnode serve``: load and validate the settings (a bad file exits before
anything listens), configure logging, then run the :class:`~dicom_node.service.Service` (spool
sweep, SCP, study grouping, analysis workers, outbox, HTTP status) until SIGTERM/SIGINT, and
stop cleanly (running associations get a grace period, running analyses finish, queued ones
stay ``ready`` for the next start; the job store is closed).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from config.settings import Settings, load_settings
from dicom_node import setup
from dicom_node.logging_setup import configure_logging
from dicom_node.scp import DicomNode, StoreHandler, recover_orphans
from dicom_node.spool import Spool
from dicom_node.store import DB_FILENAME, InstanceRecord, JobStore

__all__ = ["RunningNode", "serve", "start_node", "storage_dir_for"]

logger = logging.getLogger(__name__)


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

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop listening, finish or abort running associations, close the job store."""
        self.dicom.stop(grace_s)
        self.store.close()


def storage_dir_for(settings: Settings, config_path: str | Path | None) -> Path:
    """The storage directory: a relative ``node.storage_dir`` is taken from the config
    file's folder, or from the working directory for the embedded default."""
    base = Path(config_path).resolve().parent if config_path is not None else Path.cwd()
    return settings.storage_path(base)


def start_node(
    settings: Settings,
    storage_dir: Path,
    *,
    on_stored: Callable[[InstanceRecord], None] | None = None,
) -> RunningNode:
    """Open spool and job store, recover after a crash, start the SCP (non-blocking)."""
    setup.apply()
    storage_dir.mkdir(parents=True, exist_ok=True)
    spool = Spool(storage_dir)
    sweep = spool.sweep()
    store = JobStore(storage_dir / DB_FILENAME, settings.delivery)
    try:
        recover_orphans(spool, store)
        logger.info(
            "spool: %d instance file(s), %d in the job store",
            sweep.instance_files,
            store.count_instances(),
        )
        handler = StoreHandler(
            spool, store, min_free_disk_mb=settings.node.min_free_disk_mb, on_stored=on_stored
        )
        dicom = DicomNode(settings.node, settings.sources, handler)
        dicom.start()
    except BaseException:
        store.close()
        raise
    return RunningNode(settings, storage_dir, spool, store, handler, dicom)


def serve(config_path: str | None) -> int:
    """Run the node until SIGTERM or SIGINT; return the exit status.

    Raises
    ------
    config.ConfigError
        The configuration is invalid (the CLI prints it and exits 2).
    """
    settings = load_settings(config_path)
    configure_logging(settings.logging.level)
    storage = storage_dir_for(settings, config_path)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        logger.info("signal %s received, stopping", signal.Signals(signum).name)
        stop.set()

    # Handlers first: a SIGTERM that arrives while the node starts still stops it cleanly.
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        from dicom_node.service import Service  # imports torch: only when serving

        service = Service(settings, storage)
        try:
            service.start()
        except OSError as exc:
            logger.error("cannot start: %s", exc)
            service.stop(grace_s=0)
            return 1
        try:
            while not stop.wait(0.5):
                pass
        finally:
            service.stop()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    logger.info("stopped cleanly")
    return 0
