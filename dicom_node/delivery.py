"""The outbox runner: sends due deliveries and moves studies to delivered / notified.

DICOM rows go by C-STORE (grouped per destination into one association); HL7 rows go over
MLLP (or to a folder sink) only once every DICOM row of their study is delivered, so the EMR
is told when the results are really in the PACS (DESIGN.md §2 step 6). Retry, backoff and
dead-lettering are the job store's state machine (:meth:`JobStore.mark_failed`).

Exactly-once: an outbox row is marked delivered right after the peer confirmed it. A crash
between the confirmation and that mark re-sends the same object (same SOP Instance UID, so
the PACS stores it once) or the same ORU (same control ID, MSH-10, so the EMR can recognise
the repeat); this window is the only source of repeats.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from config.settings import DestinationSettings, Hl7EndpointSettings, Settings
from dicom_node.store import JobStore, OutboxItem, OutboxKind, OutboxState, StudyState
from integrations.errors import Hl7DeliveryError, PacsDeliveryError
from integrations.hl7.endpoints import transport_for
from integrations.hl7.transport import Hl7Transport
from integrations.pacs_export import SendResult, send_files

__all__ = [
    "DeliveryStats",
    "DeliveryStatsSnapshot",
    "Deliverer",
    "PacsSender",
    "TransportFactory",
]

logger = logging.getLogger(__name__)

#: Makes the HL7 transport of an endpoint (default: MLLP client or folder sink).
TransportFactory = Callable[[Hl7EndpointSettings], Hl7Transport]


class PacsSender(Protocol):
    """Sends files to a destination over one association (default:
    :func:`integrations.pacs_export.send_files`, DermNode's one C-STORE sender)."""

    def __call__(
        self,
        dest: DestinationSettings,
        items: Sequence[Path | str],
        calling_ae: str,
        *,
        acse_timeout_s: float,
        dimse_timeout_s: float,
        network_timeout_s: float,
        raise_on_failure: bool,
    ) -> list[SendResult]:
        """One result per item, in order; raise PacsDeliveryError without an association."""
        ...


@dataclass(frozen=True, slots=True)
class DeliveryStatsSnapshot:
    """The delivery counters at one moment."""

    delivered: Mapping[str, int]
    failed: Mapping[str, int]
    seconds_sum: float
    seconds_count: int


def _max_age_s(override_h: float | None, settings: Settings) -> float:
    return settings.delivery.max_age_s if override_h is None else override_h * 3600.0


def _safe(exc: BaseException) -> str:
    """The stored reason of a failure: the exception type and DermNode's own message.

    Messages of DermNode's delivery errors name AE titles, statuses, control IDs and ACK
    codes, never what a peer wrote back (an EMR's rejection text may quote the patient).
    """
    return f"{type(exc).__name__}: {exc}"


class DeliveryStats:
    """Counters and durations for /metrics."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.delivered: dict[str, int] = defaultdict(int)
        self.failed: dict[str, int] = defaultdict(int)
        self.seconds_sum: float = 0.0
        self.seconds_count: int = 0

    def record(self, kind: str, ok: bool, seconds: float) -> None:
        """Count one attempt."""
        with self.lock:
            (self.delivered if ok else self.failed)[kind] += 1
            self.seconds_sum += seconds
            self.seconds_count += 1

    def snapshot(self) -> DeliveryStatsSnapshot:
        """A consistent copy of the counters."""
        with self.lock:
            return DeliveryStatsSnapshot(
                dict(self.delivered), dict(self.failed), self.seconds_sum, self.seconds_count
            )


class Deliverer:
    """Runs due outbox rows; call :meth:`run_due` periodically (one caller at a time).

    Parameters
    ----------
    store, settings
        The job store and the settings (destinations, HL7 endpoints, node timeouts).
    pacs_sender
        The C-STORE sender (default :func:`integrations.pacs_export.send_files`).
    hl7_transports
        Makes the transport of an HL7 endpoint, once per endpoint; it is kept open between
        messages (default :func:`integrations.hl7.endpoints.transport_for`).
    """

    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        *,
        pacs_sender: PacsSender | None = None,
        hl7_transports: TransportFactory | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.stats = DeliveryStats()
        self._send_files: PacsSender = pacs_sender if pacs_sender is not None else send_files
        self._make_transport: TransportFactory = (
            hl7_transports if hl7_transports is not None else transport_for
        )
        self._transports: dict[str, Hl7Transport] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the kept MLLP connections."""
        for t in self._transports.values():
            t.close()
        self._transports.clear()

    def run_due(self, now: float | None = None) -> int:
        """Attempt every due delivery once; return the number of attempts made."""
        with self._lock:
            # Every due row (no cap): notices waiting for their study's objects keep their
            # early due time, and after a long PACS outage a cap would let them hide the
            # DICOM rows they wait for (a deadlock).
            due = self.store.due_deliveries(now)
            attempts = 0
            by_dest: dict[str, list[OutboxItem]] = defaultdict(list)
            hl7: list[OutboxItem] = []
            for item in due:
                (by_dest[item.destination] if item.kind is OutboxKind.DICOM else hl7).append(item)
            for dest_name, items in by_dest.items():
                attempts += self._send_dicom(dest_name, items)
            # A study whose objects are all in the PACS is ``delivered`` before its notice is
            # tried: what the notice then meets (AR, a timeout) never hides that the results
            # reached the PACS.
            self._advance_studies({i.study_id for i in due if i.study_id is not None})
            for item in hl7:
                if self._dicom_outstanding(item.study_id):
                    continue  # notify only once the results are in the PACS
                attempts += self._send_hl7(item)
            self._advance_studies({i.study_id for i in due if i.study_id is not None})
            return attempts

    # -- DICOM ------------------------------------------------------------------------------

    def _send_dicom(self, dest_name: str, items: list[OutboxItem]) -> int:
        try:
            dest = self.settings.destination(dest_name)
        except KeyError:
            for item in items:
                self.store.mark_failed(
                    item.id, retryable=False, error=f"destination {dest_name} not configured"
                )
            return len(items)
        paths = [item.payload_path or "" for item in items]
        started = time.monotonic()
        try:
            results = self._send_files(
                dest,
                paths,
                self.settings.node.ae_title,
                acse_timeout_s=self.settings.node.acse_timeout_s,
                dimse_timeout_s=self.settings.node.dimse_timeout_s,
                network_timeout_s=self.settings.node.network_timeout_s,
                raise_on_failure=False,
            )
        except PacsDeliveryError as exc:  # no association at all, or an unreadable file
            results = [SendResult("", i.payload_ref or "", exc.status, exc) for i in items]
        except Exception as exc:  # anything else must not stop the other deliveries
            logger.exception("outbox: sending to %s failed unexpectedly", dest_name)
            wrapped = PacsDeliveryError(f"internal error ({type(exc).__name__})", retryable=True)
            results = [SendResult("", i.payload_ref or "", None, wrapped) for i in items]
        per_item = (time.monotonic() - started) / max(1, len(items))
        by_uid = {r.sop_instance_uid: r for r in results}
        max_age_s = _max_age_s(dest.max_age_h, self.settings)
        delivered = False
        for item in items:
            r = by_uid.get(item.payload_ref or "")
            status = None if r is None or r.status is None else f"0x{r.status:04X}"
            if r is not None and r.ok:
                self.store.mark_delivered(item.id, status=status)
                self.stats.record("dicom", True, per_item)
                delivered = True
                continue
            err = r.error if r is not None else None
            retryable = True if err is None else err.retryable
            state = self.store.mark_failed(
                item.id,
                retryable=retryable,
                error=_safe(err) if err is not None else "no result for this object",
                status=status,
                max_age_s=max_age_s,
            )
            self.stats.record("dicom", False, per_item)
            logger.warning(
                "outbox %d: C-STORE to %s failed (status %s), now %s",
                item.id,
                dest_name,
                status,
                state,
            )
        if delivered:  # the destination answers again: the rows backing off need not wait
            self.store.wake(OutboxKind.DICOM, dest_name)
        return len(items)

    def _dicom_outstanding(self, study_id: int | None) -> bool:
        if study_id is None:
            return False
        counts = self.store.outbox_counts(study_id, OutboxKind.DICOM)
        return counts.get(OutboxState.PENDING.value, 0) + counts.get(OutboxState.DEAD.value, 0) > 0

    # -- HL7 --------------------------------------------------------------------------------

    def _transport(self, name: str) -> Hl7Transport | None:
        if name not in self._transports:
            ep = next((e for e in self.settings.hl7 if e.name == name), None)
            if ep is None:
                return None
            self._transports[name] = self._make_transport(ep)
        return self._transports[name]

    def _send_hl7(self, item: OutboxItem) -> int:
        transport = self._transport(item.destination)
        ep = next((e for e in self.settings.hl7 if e.name == item.destination), None)
        if transport is None or ep is None:
            self.store.mark_failed(
                item.id, retryable=False, error=f"HL7 endpoint {item.destination} not configured"
            )
            return 1
        started = time.monotonic()
        try:
            payload = Path(item.payload_path or "").read_bytes()
            ack = transport.send(payload, item.payload_ref or "")
        except Hl7DeliveryError as exc:
            state = self.store.mark_failed(
                item.id,
                retryable=exc.retryable,
                error=_safe(exc),
                status=exc.ack_code,
                max_age_s=_max_age_s(ep.max_age_h, self.settings),
            )
            self.stats.record("hl7", False, time.monotonic() - started)
            logger.warning(
                "outbox %d: ORU to %s not accepted (ACK %s), now %s",
                item.id,
                item.destination,
                exc.ack_code,
                state,
            )
            return 1
        except OSError as exc:
            self.store.mark_failed(
                item.id, retryable=False, error=f"message file: {type(exc).__name__}"
            )
            return 1
        except ValueError as exc:  # e.g. the message holds an MLLP block character
            self.store.mark_failed(
                item.id, retryable=False, error=f"message not sendable: {type(exc).__name__}"
            )
            return 1
        self.store.mark_delivered(item.id, status=ack.ack_code)
        self.store.wake(OutboxKind.HL7, item.destination)
        self.stats.record("hl7", True, time.monotonic() - started)
        logger.info(
            "outbox %d: ORU delivered to %s (ACK %s)", item.id, item.destination, ack.ack_code
        )
        return 1

    # -- study states -----------------------------------------------------------------------

    def _advance_studies(self, study_ids: set[int]) -> None:
        for sid in study_ids:
            self.advance(sid)

    def advance(self, study_id: int) -> StudyState | None:
        """Move an ``encoded``/``delivered`` study on when its deliveries are done."""
        study = self.store.get_study(study_id)
        if study is None:
            return None
        dicom = self.store.outbox_counts(study_id, OutboxKind.DICOM)
        hl7 = self.store.outbox_counts(study_id, OutboxKind.HL7)
        state = study.state
        if state is StudyState.ENCODED and not dicom.get("pending") and not dicom.get("dead"):
            if self.store.transition(
                study_id, StudyState.DELIVERED, from_states=[StudyState.ENCODED]
            ):
                state = StudyState.DELIVERED
        if state is StudyState.DELIVERED and hl7 and not hl7.get("pending") and not hl7.get("dead"):
            if self.store.transition(
                study_id, StudyState.NOTIFIED, from_states=[StudyState.DELIVERED]
            ):
                state = StudyState.NOTIFIED
        return state
