"""The C-STORE handler and association policy, driven by fake pynetdicom events (no sockets)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from types import SimpleNamespace

import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from config.settings import SourceSettings
from dicom_node.scp import AssociationPolicy, HeaderError, Status, StoreHandler, parse_header
from dicom_node.spool import Spool, is_storable_uid, is_valid_uid, spool_name
from dicom_node.store import JobStore
from tests.dicomdata import MULTIFRAME_TRUE_COLOR_SC, VL_PHOTOGRAPHIC, dataset_stream, make_image


def fake_event(
    ds, ts=ExplicitVRLittleEndian, stream: bytes | None = None, sop_class=None, sop_instance=None
):
    body = dataset_stream(ds, ts) if stream is None else stream
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class or ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = sop_instance or ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = "1.2.3.4"
    return SimpleNamespace(
        assoc=SimpleNamespace(
            requestor=SimpleNamespace(ae_title="PACS", address="10.0.0.1"),
            acceptor=SimpleNamespace(ae_title="DERMNODE"),
        ),
        request=SimpleNamespace(
            AffectedSOPClassUID=sop_class or ds.SOPClassUID,
            AffectedSOPInstanceUID=sop_instance or ds.SOPInstanceUID,
        ),
        context=SimpleNamespace(transfer_syntax=ts),
        file_meta=meta,
        encoded_dataset=lambda include_meta=True: body,
    )


@pytest.fixture
def handler(tmp_path: Path):
    store = JobStore(tmp_path / "db.sqlite3")
    yield StoreHandler(Spool(tmp_path), store)
    store.close()


@pytest.mark.parametrize(
    "ts",
    [ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, RLELossless],
)
def test_success_writes_meta_plus_the_received_bytes(handler: StoreHandler, ts: str) -> None:
    ds = make_image(MULTIFRAME_TRUE_COLOR_SC)
    ev = fake_event(ds, ts)
    assert handler(ev) == Status.SUCCESS
    rec = handler.store.get_instance(str(ds.SOPInstanceUID))
    assert rec is not None and rec.transfer_syntax_uid == ts
    data = Path(rec.path).read_bytes()
    assert data[128:132] == b"DICM"
    assert data.endswith(ev.encoded_dataset(False))
    assert rec.patient_id == "TESTID-1" and rec.issuer_of_patient_id == "TESTHOSP"
    assert rec.study_date == "20240102"
    assert not hasattr(rec, "patient_name")  # the job store keeps no names
    assert rec.peer_host == "10.0.0.1" and rec.calling_ae == "PACS"


def test_duplicate_is_success_without_a_second_file(handler: StoreHandler) -> None:
    ds = make_image()
    assert handler(fake_event(ds)) == Status.SUCCESS
    assert handler(fake_event(ds)) == Status.SUCCESS
    assert handler.store.count_instances() == 1
    assert len(list(handler.spool.instance_files())) == 1


def test_unsupported_sop_class_is_0122(handler: StoreHandler) -> None:
    ds = make_image()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
    assert handler(fake_event(ds)) == Status.SOP_CLASS_NOT_SUPPORTED


def test_disk_floor_is_a700_and_logged(handler: StoreHandler, caplog) -> None:
    handler.min_free_bytes = handler.spool.free_bytes() + 10**12
    with caplog.at_level(logging.ERROR, logger="dicom_node.scp"):
        assert handler(fake_event(make_image())) == Status.OUT_OF_RESOURCES
    assert "0xA700" in caplog.text and "floor" in caplog.text
    assert handler.store.count_instances() == 0


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda ds: delattr(ds, "StudyInstanceUID"), Status.DATASET_MISMATCH),
        (lambda ds: delattr(ds, "SeriesInstanceUID"), Status.DATASET_MISMATCH),
        (lambda ds: setattr(ds, "StudyInstanceUID", "../../etc"), Status.DATASET_MISMATCH),
        (lambda ds: delattr(ds, "PixelData"), Status.DATASET_MISMATCH),
        (lambda ds: setattr(ds, "Rows", 64), Status.DATASET_MISMATCH),  # pixels too short
    ],
)
def test_unusable_datasets_fail_and_nothing_is_stored(handler: StoreHandler, mutate, status):
    ds = make_image()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns when the test sets a bad UID
        mutate(ds)
        ev = fake_event(ds)
    assert handler(ev) == status
    assert handler.store.count_instances() == 0
    assert list(handler.spool.instance_files()) == []
    assert list(handler.spool.tmp.iterdir()) == []


def test_request_and_dataset_disagree_is_a900(handler: StoreHandler) -> None:
    ds = make_image()
    assert handler(fake_event(ds, sop_instance="1.2.3.4.5")) == Status.DATASET_MISMATCH
    ev = fake_event(ds, sop_class="1.2.840.10008.5.1.4.1.1.77.1.7")
    assert handler(ev) == Status.DATASET_MISMATCH


@pytest.mark.parametrize("cut", [1, 7, 300])
def test_truncated_and_garbage_streams_are_c210(handler: StoreHandler, cut: int) -> None:
    ds = make_image()
    stream = dataset_stream(ds)
    assert handler(fake_event(ds, stream=stream[:-cut])) == Status.CANNOT_UNDERSTAND
    garbage = bytes((i * 37) % 256 for i in range(2000))
    assert handler(fake_event(ds, stream=garbage)) == Status.CANNOT_UNDERSTAND
    bad_deflate = b"\x00" * 100
    assert (
        handler(fake_event(ds, DeflatedExplicitVRLittleEndian, stream=bad_deflate))
        == Status.CANNOT_UNDERSTAND
    )


def test_handler_never_raises(handler: StoreHandler, caplog) -> None:
    ev = fake_event(make_image(patient_name="PHI^SENTINEL"))

    def boom(include_meta=True):
        raise RuntimeError("PHI^SENTINEL in a message")

    ev.encoded_dataset = boom
    with caplog.at_level(logging.DEBUG):
        assert handler(ev) == Status.INTERNAL_ERROR
    assert "RuntimeError" in caplog.text and "SENTINEL" not in caplog.text


def test_io_error_is_a701(handler: StoreHandler, monkeypatch) -> None:
    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(handler.spool, "write", full)
    assert handler(fake_event(make_image())) == Status.OUT_OF_RESOURCES_IO
    assert handler.store.count_instances() == 0


def test_charsets_decode_korean_names(handler: StoreHandler) -> None:
    for charset, name in ((["", "ISO 2022 IR 149"], "홍^길동"), ("ISO_IR 192", "박^지민")):
        ds = make_image(charset=charset, patient_name=name)
        assert handler(fake_event(ds)) == Status.SUCCESS
        rec = handler.store.get_instance(str(ds.SOPInstanceUID))
        assert rec is not None
        expected = charset if isinstance(charset, str) else "\\".join(charset)
        assert rec.specific_character_set == expected
        # the name is not in the job store; the spooled bytes decode to it
        assert str(pydicom.dcmread(rec.path).PatientName) == name


def test_parse_header_checks_order() -> None:
    ds = make_image()
    stream = dataset_stream(ds)
    # swap the first two elements: (0008,0005) and (0008,0016) out of order
    first_len = 8 + int.from_bytes(stream[6:8], "little")
    second_len = 8 + int.from_bytes(stream[first_len + 6 : first_len + 8], "little")
    swapped = (
        stream[first_len : first_len + second_len]
        + stream[:first_len]
        + stream[first_len + second_len :]
    )
    with pytest.raises(HeaderError) as err:
        parse_header(swapped, ExplicitVRLittleEndian)
    assert err.value.status == Status.CANNOT_UNDERSTAND


def test_association_policy() -> None:
    p = AssociationPolicy(
        frozenset({"DERMNODE"}),
        (SourceSettings(ae_title="PACS", host="10.0.0.1"), SourceSettings(ae_title="CAM")),
    )
    assert p.check("PACS", "DERMNODE", "10.0.0.1") is None
    assert p.check("CAM", "DERMNODE ", "10.9.9.9") is None  # no host: any address
    assert p.check("PACS", "DERMNODE", "10.0.0.2").diagnostic == 0x03
    assert p.check("NOBODY", "DERMNODE", "10.0.0.1").diagnostic == 0x03
    rj = p.check("PACS", "OTHER", "10.0.0.1")
    assert (rj.result, rj.source, rj.diagnostic) == (1, 1, 0x07)


def test_uid_validation() -> None:
    assert is_valid_uid("1.2.840.10008.5.1.4.1.1.7")
    assert is_valid_uid("1.2.03")  # leading zeros are tolerated unless strict
    assert not is_valid_uid("1.2.03", strict=True)
    for bad in ("", "1..2", "1.2.", "../x", "1/2", "a.b", "1" * 65, None):
        assert not is_valid_uid(bad)


def test_quoted_sop_class_in_the_data_set_matches_the_request(handler: StoreHandler) -> None:
    ds = make_image()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns when the test sets a bad UID
        ds.SOPClassUID = f"'{ds.SOPClassUID}'"
        ds.SOPInstanceUID = f"'{ds.SOPInstanceUID}'"
        ev = fake_event(ds, sop_class=VL_PHOTOGRAPHIC, sop_instance=str(ds.SOPInstanceUID))
        assert handler(ev) == Status.SUCCESS
    (rec,) = handler.store.instances_of(str(ds.StudyInstanceUID))
    assert rec.sop_class_uid == VL_PHOTOGRAPHIC and rec.sop_instance_uid == ds.SOPInstanceUID
    assert Path(rec.path).name.startswith("u-")


def test_storable_uids_and_spool_names() -> None:
    assert is_storable_uid("'1.2.3'") and is_storable_uid('"1.2.3"') and is_storable_uid("1.2")
    assert is_storable_uid("'" + "1" * 64 + "'")  # a quoted 64-character UID
    for bad in (
        "''",
        "'1.2/3'",
        "'../1'",
        "'1..2'",
        "'a.b'",
        "1 2",
        "''1.2''",
        "'" + "1" * 65 + "'",
        "'1.2.3'\x00",
        None,
    ):
        assert not is_storable_uid(bad)
    assert spool_name("1.2.3") == "1.2.3"
    names = {spool_name(u) for u in ("'1.2.3'", '"1.2.3"', "1.2.3'", "'1.2.3")}
    assert len(names) == 4 and all(n.startswith("u-") and len(n) == 66 for n in names)
    with pytest.raises(ValueError, match="storable"):
        spool_name("../1")
