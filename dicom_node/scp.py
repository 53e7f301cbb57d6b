"""The DICOM listener: Verification and Storage SCP with DermNode's association policy.

The C-STORE handler follows DESIGN.md §2 (receive, spool, record, then answer): it validates
the dataset *structure* without decoding pixels, writes the bytes exactly as received (File
Meta Information + the encoded data set) durably to the spool, records the instance in the job
store, and only then returns Success. It never raises out of the handler: every failure is a
status (PS3.4 Annex B.2.3, PS3.7 Annex C) and a log line without patient data.

============  ===========================  =============================================
Status        Meaning (PS3.4 B.2.3)         When DermNode returns it
============  ===========================  =============================================
``0x0000``    Success                       stored and recorded, or already stored
                                            (same SOP Instance UID)
``0x0122``    Refused: SOP Class not        Affected SOP Class is not one we accept
              supported (PS3.7 C.5.9)
``0xA700``    Refused: Out of resources     free disk below ``node.min_free_disk_mb``
``0xA701``    Refused: Out of resources     the spool or the job store could not be
                                            written (I/O error)
``0xA900``    Error: Data Set does not      a required UID is missing or invalid, the data
              match SOP Class               set's SOP Class/Instance UID differs from the
                                            request's, or Pixel Data is missing or short
``0xC210``    Error: Cannot understand      the data set cannot be parsed: truncated,
                                            garbage, elements out of order
``0xC211``    Error: Cannot understand      an unexpected internal error (logged)
============  ===========================  =============================================
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, cast

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import data_element_generator
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from config.settings import NodeSettings, SourceSettings
from dicom_node.netguard import GuardedServer, NetLimits
from dicom_node.spool import Spool, is_storable_uid
from dicom_node.store import InstanceRecord, JobStore

__all__ = [
    "SUPPORTED_SOP_CLASSES",
    "SUPPORTED_TRANSFER_SYNTAXES",
    "AssociationPolicy",
    "DicomNode",
    "HeaderError",
    "Rejection",
    "Status",
    "StoreHandler",
    "parse_header",
    "recover_orphans",
]

logger = logging.getLogger(__name__)

#: Storage SOP Classes accepted (PS3.4 Annex B.5), UID -> name.
SUPPORTED_SOP_CLASSES: Mapping[str, str] = {
    "1.2.840.10008.5.1.4.1.1.77.1.4": "VL Photographic Image Storage",
    "1.2.840.10008.5.1.4.1.1.77.1.7": "Dermoscopic Photography Image Storage",
    "1.2.840.10008.5.1.4.1.1.77.1.2": "VL Microscopic Image Storage",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.7.4": "Multi-frame True Color Secondary Capture Image Storage",
}

#: Transfer syntaxes accepted for every storage class (PS3.5 §10 and Annex A), in order of
#: preference: when a presentation context proposes several, the first of this list that it
#: contains is accepted (pynetdicom's acceptor rule). Compressed syntaxes come first, so a
#: photo proposed in its own (compressed) syntax plus the uncompressed defaults is sent as it
#: is stored, without a conversion by the sender (as DCMTK ``storescp +xa``).
SUPPORTED_TRANSFER_SYNTAXES: Sequence[str] = (
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLossless,
    JPEGLSLossless,
    RLELossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSNearLossless,
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

Buffer = bytes | BytesIO

_NATIVE = {ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian}
_PIXEL_DATA = 0x7FE00010
_UNDEFINED = 0xFFFFFFFF
_MIB = 1024 * 1024


class Status:
    """C-STORE response statuses used by DermNode (PS3.4 B.2.3, PS3.7 C.5.9)."""

    SUCCESS = 0x0000
    SOP_CLASS_NOT_SUPPORTED = 0x0122
    OUT_OF_RESOURCES = 0xA700
    OUT_OF_RESOURCES_IO = 0xA701
    DATASET_MISMATCH = 0xA900
    CANNOT_UNDERSTAND = 0xC210
    INTERNAL_ERROR = 0xC211


class HeaderError(ValueError):
    """The data set is not usable; ``status`` says which failure status to return."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# -- association policy --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rejection:
    """An A-ASSOCIATE-RJ decision (PS3.8 §9.3.4: result, source, reason/diagnostic)."""

    result: int
    source: int
    diagnostic: int
    reason: str


CALLING_AE_NOT_RECOGNISED = 0x03
CALLED_AE_NOT_RECOGNISED = 0x07
#: Placeholder for pynetdicom's calling AE list when no source is configured (an empty list
#: would mean "anyone" to pynetdicom; the policy rejects every caller then anyway).
_NO_SOURCE = "NO-SOURCE-SET"


@dataclass(frozen=True)
class AssociationPolicy:
    """Who may open an association to DermNode.

    The called AE title must be one of *called_ae_titles*; the calling AE title must be a
    configured source, and when that source has a ``host``, the peer's IP must equal it.
    A failed check is a permanent rejection by the service user (result 1, source 1) with
    reason 7 (called AE title not recognised) or 3 (calling AE title not recognised; also used
    for a wrong IP, the closest reason PS3.8 offers).
    """

    called_ae_titles: frozenset[str]
    sources: tuple[SourceSettings, ...]

    def check(self, calling_ae: str, called_ae: str, peer_host: str) -> Rejection | None:
        """Return the rejection for this request, or ``None`` to accept it."""
        if called_ae.strip() not in self.called_ae_titles:
            return Rejection(1, 1, CALLED_AE_NOT_RECOGNISED, "called AE title not ours")
        matches = [s for s in self.sources if s.ae_title == calling_ae.strip()]
        if not matches:
            return Rejection(1, 1, CALLING_AE_NOT_RECOGNISED, "calling AE title not a source")
        if all(s.host is not None and s.host != peer_host for s in matches):
            return Rejection(1, 1, CALLING_AE_NOT_RECOGNISED, "calling AE from a wrong address")
        return None


# -- header parsing ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    ds: Dataset
    pixel_length: int | None


_DEFER_BYTES = 64 * 1024  # larger values (Pixel Data, ICC profiles) are skipped, not copied


def _elements(stream: Buffer, transfer_syntax: str) -> tuple[Iterable[Any], int]:
    if transfer_syntax == DeflatedExplicitVRLittleEndian:
        try:
            deflated = stream.getbuffer() if isinstance(stream, BytesIO) else stream
            stream = zlib.decompress(deflated, -zlib.MAX_WBITS)
        except zlib.error as exc:
            raise HeaderError(Status.CANNOT_UNDERSTAND, "deflated stream is corrupt") from exc
    implicit = transfer_syntax == ImplicitVRLittleEndian
    fp = stream if isinstance(stream, BytesIO) else BytesIO(stream)
    total = fp.getbuffer().nbytes
    fp.seek(0)
    return data_element_generator(fp, implicit, True, defer_size=_DEFER_BYTES), total


def parse_header(stream: Buffer, transfer_syntax: str) -> Dataset:
    """Check the structure of an encoded data set and return it, pixels undecoded.

    Walks the top-level elements (PS3.5 §7.1) as raw elements: tags must ascend, every
    defined-length value must be complete, an encapsulated Pixel Data must end with its
    Sequence Delimitation Item (PS3.5 A.4). Native Pixel Data must be at least as long as
    Rows x Columns x Samples per Pixel x Number of Frames x Bits Allocated / 8.

    Parameters
    ----------
    stream
        The encoded data set (no File Meta Information); a ``BytesIO`` is read in place.
    transfer_syntax
        Its Transfer Syntax UID (from the presentation context).

    Raises
    ------
    HeaderError
        With ``status`` 0xC210 (cannot understand) or 0xA900 (data set does not match).
    """
    raw: dict[int, Any] = {}
    last = -1
    pixel_length: int | None = None
    try:
        elements, total = _elements(stream, transfer_syntax)
        for elem in elements:
            tag = int(elem.tag)
            if tag <= last:
                raise HeaderError(Status.CANNOT_UNDERSTAND, "elements not in ascending order")
            last = tag
            value = elem.value
            if elem.length != _UNDEFINED:
                complete = (
                    elem.value_tell + elem.length <= total
                    if value is None  # deferred: skipped, not read
                    else not isinstance(value, bytes) or len(value) == elem.length
                )
                if not complete:
                    raise HeaderError(Status.CANNOT_UNDERSTAND, "data set is truncated")
            if tag == _PIXEL_DATA:
                if value is None:
                    pixel_length = elem.length
                elif isinstance(value, bytes):
                    pixel_length = len(value)
            raw[tag] = elem
    except HeaderError:
        raise
    except Exception as exc:  # pydicom raises many types on garbage; none may escape
        raise HeaderError(
            Status.CANNOT_UNDERSTAND, f"data set cannot be parsed ({type(exc).__name__})"
        ) from exc
    if not raw:
        raise HeaderError(Status.CANNOT_UNDERSTAND, "data set is empty")
    ds = Dataset(raw)  # type: ignore[arg-type]  # RawDataElement values, keyed by int tag
    _check_pixels(ds, pixel_length, transfer_syntax)
    return ds


def _int(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    try:
        v = ds.get(keyword, default)
        return default if v is None or v == "" else int(v)
    except Exception:  # malformed value, unknown VR ...: treated as absent
        return default


def _check_pixels(ds: Dataset, pixel_length: int | None, transfer_syntax: str) -> None:
    if pixel_length is None:
        raise HeaderError(Status.DATASET_MISMATCH, "Pixel Data is missing")
    if transfer_syntax not in _NATIVE:
        return
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    spp, bits = _int(ds, "SamplesPerPixel", 1), _int(ds, "BitsAllocated")
    frames = _int(ds, "NumberOfFrames", 1) or 1
    if rows is None or cols is None or bits is None or spp is None:
        raise HeaderError(Status.DATASET_MISMATCH, "image pixel module incomplete")
    expected_bits = rows * cols * spp * frames * bits
    if pixel_length * 8 < expected_bits:
        raise HeaderError(Status.DATASET_MISMATCH, "Pixel Data shorter than its description")


def _text(ds: Dataset, keyword: str) -> str | None:
    """A decoded text value (Specific Character Set applied, PS3.5 §6.1.2.5)."""
    try:
        v = ds.get(keyword)
    except Exception:  # undecodable value: keep the instance, lose the attribute
        return None
    if v is None:
        return None
    s = str(v)
    return s if s else None


# -- the C-STORE handler -------------------------------------------------------------------


@dataclass
class StoreStats:
    """Counters since start (for logs and tests)."""

    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        """Increment counter *name*."""
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


class StoreHandler:
    """The ``evt.EVT_C_STORE`` handler: validate, spool, record, answer.

    Parameters
    ----------
    spool, store
        Where the bytes and the record go.
    min_free_disk_mb
        Refuse with 0xA700 when the spool's file system would have less free space than this
        after the write.
    sop_classes
        Accepted SOP Class UIDs (default :data:`SUPPORTED_SOP_CLASSES`).
    """

    def __init__(
        self,
        spool: Spool,
        store: JobStore,
        *,
        min_free_disk_mb: int = 0,
        sop_classes: Iterable[str] = SUPPORTED_SOP_CLASSES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spool = spool
        self.store = store
        self.min_free_bytes = int(min_free_disk_mb) * _MIB
        self.sop_classes = frozenset(sop_classes)
        self.clock = clock
        self.stats = StoreStats()

    def __call__(self, event: Any) -> int:
        """Handle one C-STORE request; always returns a status, never raises."""
        calling = str(event.assoc.requestor.ae_title).strip()
        try:
            status = self._handle(event, calling)
        except Exception as exc:
            # The type only: messages of third-party errors may quote element values.
            logger.error("C-STORE from %s failed: internal error %s", calling, type(exc).__name__)
            status = Status.INTERNAL_ERROR
        if status not in (Status.SUCCESS,):
            self.stats.add("failed")
        return status

    def _handle(self, event: Any, calling: str) -> int:
        req = event.request
        sop_class = str(req.AffectedSOPClassUID)
        sop_instance = str(req.AffectedSOPInstanceUID)
        # a name from our table, never the raw (peer-controlled) value at INFO and above
        class_name = SUPPORTED_SOP_CLASSES.get(sop_class, "an unsupported SOP Class")
        if sop_class not in self.sop_classes:
            logger.warning(
                "C-STORE from %s refused: SOP Class %s not supported", calling, class_name
            )
            logger.debug("unsupported SOP Class UID %r", sop_class[:64])
            return Status.SOP_CLASS_NOT_SUPPORTED
        if is_storable_uid(sop_instance) and self.store.has_instance(sop_instance):
            self.stats.add("duplicates")
            logger.info("C-STORE from %s: %s already stored, Success", calling, class_name)
            logger.debug("duplicate SOP Instance UID %s", sop_instance)
            return Status.SUCCESS

        transfer_syntax = str(event.context.transfer_syntax)
        stream = _received_stream(event)
        if self.min_free_bytes:
            free = self.spool.free_bytes()
            if free - len(_view(stream)) < self.min_free_bytes:
                logger.error(
                    "C-STORE from %s refused (0xA700): free disk %d MB below the floor %d MB",
                    calling,
                    free // _MIB,
                    self.min_free_bytes // _MIB,
                )
                return Status.OUT_OF_RESOURCES
        try:
            ds = parse_header(stream, transfer_syntax)
            rec = self._record(ds, sop_class, sop_instance, transfer_syntax, event, calling)
        except HeaderError as exc:
            logger.warning(
                "C-STORE from %s of %s failed (0x%04X): %s",
                calling,
                class_name,
                exc.status,
                exc.reason,
            )
            return exc.status

        meta = self._file_meta(event, calling)
        path = self.spool.final_path(
            rec.study_instance_uid, rec.series_instance_uid, rec.sop_instance_uid
        )
        try:
            size = self.spool.write(path, (meta, _view(stream)))
            rec = _replace_size(rec, str(path), size)
            is_new = self.store.add_instance(rec)
        except OSError as exc:
            logger.error(
                "C-STORE from %s refused (0xA701): cannot write spool (%s)",
                calling,
                exc.strerror or type(exc).__name__,
            )
            return Status.OUT_OF_RESOURCES_IO
        except Exception as exc:  # sqlite3.Error and friends
            logger.error(
                "C-STORE from %s refused (0xA701): job store error %s", calling, type(exc).__name__
            )
            return Status.OUT_OF_RESOURCES_IO
        if is_new:
            self.stats.add("stored")
            logger.info(
                "stored %s from %s (%d bytes, %s)",
                class_name,
                calling,
                size,
                _ts_name(transfer_syntax),
            )
            logger.debug(
                "stored SOP Instance UID %s in study %s", sop_instance, rec.study_instance_uid
            )
        else:
            self.stats.add("duplicates")
            logger.info("C-STORE from %s: %s already stored, Success", calling, class_name)
        return Status.SUCCESS

    def _record(
        self, ds: Dataset, sop_class: str, sop_instance: str, ts: str, event: Any, calling: str
    ) -> InstanceRecord:
        uids: dict[str, str] = {}
        for kw in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
            try:
                value = ds.get(kw)
            except Exception as exc:
                raise HeaderError(Status.DATASET_MISMATCH, f"{kw} cannot be read") from exc
            if value is None or not is_storable_uid(str(value)):
                raise HeaderError(Status.DATASET_MISMATCH, f"{kw} missing or invalid")
            uids[kw] = str(value)
        if uids["SOPClassUID"].strip("'\"") != sop_class:  # stray quotes: same class
            raise HeaderError(Status.DATASET_MISMATCH, "SOP Class UID differs from the request")
        if uids["SOPInstanceUID"] != sop_instance:
            raise HeaderError(Status.DATASET_MISMATCH, "SOP Instance UID differs from the request")
        try:
            charset = ds.get("SpecificCharacterSet")
        except Exception:  # undecodable: the names are then read in the default repertoire
            charset = None
        return InstanceRecord(
            sop_instance_uid=sop_instance,
            study_instance_uid=uids["StudyInstanceUID"],
            series_instance_uid=uids["SeriesInstanceUID"],
            sop_class_uid=sop_class,
            transfer_syntax_uid=ts,
            path="",
            size=0,
            received_at=self.clock(),
            calling_ae=calling,
            called_ae=str(event.assoc.acceptor.ae_title).strip(),
            peer_host=str(event.assoc.requestor.address),
            modality=_text(ds, "Modality"),
            series_number=_int(ds, "SeriesNumber"),
            instance_number=_int(ds, "InstanceNumber"),
            patient_id=_text(ds, "PatientID"),
            issuer_of_patient_id=_text(ds, "IssuerOfPatientID"),
            study_date=_text(ds, "StudyDate"),
            specific_character_set=_charset(charset),
        )

    @staticmethod
    def _file_meta(event: Any, calling: str) -> bytes:
        """Preamble, ``DICM`` and File Meta Information (PS3.10 §7.1) for the received set."""
        meta: FileMetaDataset = event.file_meta
        meta.SourceApplicationEntityTitle = calling
        buf = DicomBytesIO()
        buf.is_little_endian = True
        buf.is_implicit_VR = False
        write_file_meta_info(buf, meta, enforce_standard=True)
        return b"\x00" * 128 + b"DICM" + buf.getvalue()


def _received_stream(event: Any) -> Buffer:
    """The received data set without a copy: pynetdicom's ``BytesIO`` when it has one."""
    data_set = getattr(event.request, "DataSet", None)
    if isinstance(data_set, BytesIO):
        return data_set
    return bytes(event.encoded_dataset(include_meta=False))


def _view(stream: Buffer) -> memoryview:
    return stream.getbuffer() if isinstance(stream, BytesIO) else memoryview(stream)


def _charset(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return "\\".join(str(v) for v in value)


def _replace_size(rec: InstanceRecord, path: str, size: int) -> InstanceRecord:
    from dataclasses import replace

    return replace(rec, path=path, size=size)


def _ts_name(uid: str) -> str:
    from pydicom.uid import UID

    return str(UID(uid).name)


# -- startup recovery ----------------------------------------------------------------------


def recover_orphans(spool: Spool, store: JobStore, clock: Callable[[], float] = time.time) -> int:
    """Record spool files that the job store lacks (crash between rename and commit).

    Such an instance never got Success, but its bytes are complete (the rename is atomic);
    recording it is harmless because a resend is a duplicate. Unreadable files are left
    in place and logged. Returns the number recovered.
    """
    known = store.instance_paths()
    recovered = 0
    for path in spool.instance_files():
        if str(path) in known:
            continue
        try:
            from pydicom import dcmread

            ds = dcmread(path, stop_before_pixels=True)
            ts = str(ds.file_meta.TransferSyntaxUID)
            rec = InstanceRecord(
                sop_instance_uid=str(ds.SOPInstanceUID),
                study_instance_uid=str(ds.StudyInstanceUID),
                series_instance_uid=str(ds.SeriesInstanceUID),
                sop_class_uid=str(ds.SOPClassUID),
                transfer_syntax_uid=ts,
                path=str(path),
                size=path.stat().st_size,
                received_at=clock(),
                calling_ae=_text(ds.file_meta, "SourceApplicationEntityTitle"),
                patient_id=_text(ds, "PatientID"),
                issuer_of_patient_id=_text(ds, "IssuerOfPatientID"),
                study_date=_text(ds, "StudyDate"),
            )
            if store.add_instance(rec):
                recovered += 1
        except Exception as exc:
            logger.error("a spool file is not recoverable (%s)", type(exc).__name__)
            logger.debug("unrecoverable spool file %s", path.name)  # UIDs at DEBUG only
    if recovered:
        logger.warning("recovered %d spool file(s) missing from the job store", recovered)
    return recovered


# -- the node ------------------------------------------------------------------------------


def _holds_slot(assoc: Any) -> bool:
    """An accepted association that is neither released nor aborted yet."""
    return bool(assoc.is_alive() and not (assoc.is_released or assoc.is_aborted))


class DicomNode:
    """DermNode's listening Application Entity (Verification + Storage SCP).

    Parameters
    ----------
    node
        The ``node`` settings section (AE title, address, limits, timeouts).
    sources
        Who may send.
    handler
        The C-STORE handler.
    """

    def __init__(
        self,
        node: NodeSettings,
        sources: Sequence[SourceSettings],
        handler: StoreHandler,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = node
        self.handler = handler
        self.policy = AssociationPolicy(frozenset(node.listening_ae_titles), tuple(sources))
        self.limits = NetLimits(
            association_request_timeout_s=node.association_request_timeout_s,
            pdu_timeout_s=node.pdu_timeout_s,
            maximum_pdu_size=node.maximum_pdu_size,
            max_associations=node.max_associations,
            max_pending_connections=node.max_pending_connections,
        )
        if tls_context is None and node.tls.enabled:
            from integrations.tls import server_context

            tls_context = server_context(node.tls)
        self.tls_context = tls_context
        ae = AE(ae_title=node.ae_title)
        # pynetdicom's own checks stay on as a second line behind the policy (which runs in
        # a notification handler, whose exceptions pynetdicom would only log): the calling
        # AE title must be a source, and the called AE title must equal the acceptor's,
        # which the policy sets to the requested one of ours only once it accepted.
        ae.require_called_aet = True
        ae.require_calling_aet = sorted({s.ae_title for s in sources}) or [_NO_SOURCE]
        # Only associations that passed the policy count against max_associations (checked
        # in _on_requested); pynetdicom's own count includes pending connections, so its
        # limit is the total the server lets in.
        ae.maximum_associations = self.limits.max_connections
        ae.acse_timeout = node.acse_timeout_s
        ae.dimse_timeout = node.dimse_timeout_s
        ae.network_timeout = node.network_timeout_s
        ae.maximum_pdu_size = node.maximum_pdu_size
        ae.add_supported_context(Verification)
        for uid in SUPPORTED_SOP_CLASSES:
            ae.add_supported_context(uid, list(SUPPORTED_TRANSFER_SYNTAXES))
        self.ae = ae
        self._server: GuardedServer | None = None
        self._authorised: weakref.WeakSet[Any] = weakref.WeakSet()
        self._authorised_lock = threading.Lock()

    @property
    def port(self) -> int:
        """The bound port (useful with ``port: 0``)."""
        if self._server is None:
            raise RuntimeError("the node is not started")
        return int(self._server.server_address[1])

    @property
    def active_associations(self) -> int:
        """Associations open now (0 when not listening)."""
        server = self._server
        return 0 if server is None else len(server.active_associations)

    def start(self) -> None:
        """Start listening (non-blocking; associations run in their own threads)."""
        handlers: list[Any] = [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_STORE, self.handler),
        ]
        server = cast(
            GuardedServer,
            self.ae.make_server(
                (self.settings.host, self.settings.port),
                evt_handlers=handlers,
                server_class=GuardedServer,
                limits=self.limits,
                tls_context=self.tls_context,
            ),
        )
        thread = threading.Thread(target=server.serve_forever, name="DermNodeAcceptor", daemon=True)
        thread.start()
        self.ae._servers.append(server)
        self._server = server
        logger.info(
            "listening as %s on %s:%d%s (%d sources)",
            ", ".join(self.settings.listening_ae_titles),
            self.settings.host,
            self.port,
            " with TLS" if self.tls_context is not None else "",
            len(self.policy.sources),
        )

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop accepting, let running associations finish for *grace_s*, abort the rest."""
        server, self._server = self._server, None
        if server is None:
            return
        active = list(server.active_associations)
        server.shutdown()
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(a.is_alive() for a in active):
            time.sleep(0.05)
        for a in active:
            if a.is_alive():
                a.abort()
        self.ae.shutdown()
        logger.info(
            "stopped; %d stored, %d duplicate, %d failed since start",
            self.handler.stats.stored,
            self.handler.stats.duplicates,
            self.handler.stats.failed,
        )

    def _on_requested(self, event: Any) -> None:
        """Apply :class:`AssociationPolicy` before negotiation (PS3.8 §7.1.1), failing closed.

        pynetdicom only logs an exception raised here (EVT_REQUESTED is a notification) and
        would go on to accept, so every failure of the check itself becomes a rejection.
        """
        try:
            self._apply_policy(event)
        except Exception as exc:
            logger.error("association policy failed (%s): association rejected", type(exc).__name__)
            try:
                event.assoc.acse.send_reject(2, 1, 1)  # transient, service user, no reason
            finally:
                event.assoc.kill()

    def _apply_policy(self, event: Any) -> None:
        assoc = event.assoc
        rq = assoc.requestor.primitive
        calling = str(rq.calling_ae_title).strip()
        called = str(rq.called_ae_title).strip()
        host = str(assoc.requestor.address)
        rej = self.policy.check(calling, called, host)
        if rej is None:
            with self._authorised_lock:
                busy = sum(1 for a in self._authorised if _holds_slot(a))
                if busy >= self.settings.max_associations:
                    rej = Rejection(2, 3, 2, f"local limit exceeded ({busy} associations)")
                else:
                    self._authorised.add(assoc)
        if rej is None:
            # The AE title this association was addressed to (one of ours): recorded with
            # each instance, it selects that AE title's stable_after_s.
            assoc.acceptor.ae_title = called
            assoc.acse_timeout = self.settings.acse_timeout_s
            logger.info("association from %s (%s) to %s accepted", calling, host, called)
            return
        logger.warning(
            "association from %s (%s) to %s rejected: %s", calling, host, called, rej.reason
        )
        assoc.acse.send_reject(rej.result, rej.source, rej.diagnostic)
        assoc.kill()

    @staticmethod
    def _on_echo(event: Any) -> int:
        logger.info("C-ECHO from %s", str(event.assoc.requestor.ae_title).strip())
        return 0x0000
