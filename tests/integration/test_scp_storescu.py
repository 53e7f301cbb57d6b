"""DermNode's SCP against DCMTK (storescu, echoscu) and a pynetdicom SCU on loopback."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import JPEG2000, ExplicitVRLittleEndian, JPEG2000Lossless
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicom_node.scp import SUPPORTED_TRANSFER_SYNTAXES, Status
from tests.dicomdata import (
    ALL_SOP_CLASSES,
    DERMOSCOPIC,
    MULTIFRAME_TRUE_COLOR_SC,
    VL_PHOTOGRAPHIC,
    make_image,
    save,
    write_all_syntaxes,
)
from tests.peers import require_binary
from tests.scp_helpers import SCU_AE, running_node

pytestmark = pytest.mark.integration

# DCMTK storescu re-encodes the encapsulated multi-frame JPEG 2000 that gdcm writes.
STORESCU_REWRITES = {
    (MULTIFRAME_TRUE_COLOR_SC, JPEG2000Lossless),
    (MULTIFRAME_TRUE_COLOR_SC, JPEG2000),
}


def _dataset_part(data: bytes) -> bytes:
    """The bytes after the File Meta Information of a Part 10 file."""
    assert data[128:132] == b"DICM"
    meta_len = int.from_bytes(data[140:144], "little")
    return data[144 + meta_len :]


def _storescu_config(folder: Path) -> Path:
    """A storescu profile proposing every (SOP Class, transfer syntax) as its own context."""
    lines = ["[[TransferSyntaxes]]"]
    for i, ts in enumerate(SUPPORTED_TRANSFER_SYNTAXES):
        lines += [f"[TS{i}]", f"TransferSyntax1 = {ts}"]
    lines += ["[[PresentationContexts]]", "[ALLCX]"]
    n = 0
    for sop in ALL_SOP_CLASSES:
        for i in range(len(SUPPORTED_TRANSFER_SYNTAXES)):
            n += 1
            lines.append(f"PresentationContext{n} = {sop}\\TS{i}")
    lines += ["[[Profiles]]", "[ALL]", "PresentationContexts = ALLCX"]
    cfg = folder / "storescu.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def test_storescu_sends_every_sop_class_in_every_transfer_syntax(tmp_path: Path) -> None:
    storescu = require_binary("storescu")
    files: list[tuple[str, str, Path]] = []
    for sop in ALL_SOP_CLASSES:
        written = write_all_syntaxes(
            lambda sop=sop: make_image(sop), tmp_path / "in" / sop, SUPPORTED_TRANSFER_SYNTAXES
        )
        files += [(sop, ts, p) for ts, p in written.items()]
    assert len(files) == 5 * 12
    cfg = _storescu_config(tmp_path)
    with running_node(tmp_path / "node") as node:
        r = subprocess.run(
            [
                storescu,
                "-xf",
                str(cfg),
                "ALL",
                "-aet",
                SCU_AE,
                "-aec",
                "DERMNODE",
                "127.0.0.1",
                str(node.port),
                *(str(p) for _, _, p in files),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        for sop, ts, p in files:
            src = p.read_bytes()
            uid = str(dcmread(p, stop_before_pixels=True).SOPInstanceUID)
            rec = node.store.get_instance(uid)
            assert rec is not None, f"{sop} in {ts} not recorded"
            assert (rec.sop_class_uid, rec.transfer_syntax_uid) == (sop, ts)
            assert rec.calling_ae == SCU_AE and rec.called_ae == "DERMNODE"
            stored = Path(rec.path).read_bytes()
            assert rec.size == len(stored)
            # Written as received: the encoded data set is byte-identical to what was sent.
            if (sop, ts) in STORESCU_REWRITES:
                # storescu re-writes these itself (DCMTK's storescp receives the very same
                # bytes as DermNode); compare everything but the pixel data.
                a, b = dcmread(rec.path), dcmread(p)
                del a.PixelData, b.PixelData
                assert a == b
            else:
                # Written as received: the encoded data set is byte-identical to the file.
                assert _dataset_part(stored) == _dataset_part(src), f"{sop} {ts} re-encoded"
            meta = dcmread(rec.path, stop_before_pixels=True).file_meta
            assert str(meta.TransferSyntaxUID) == ts
            assert meta.SourceApplicationEntityTitle == SCU_AE
        assert node.store.count_instances() == len(files)
        assert not any(node.spool.tmp.iterdir())


def test_echoscu_gets_an_answer_and_unknown_caller_is_refused(tmp_path: Path) -> None:
    echoscu = require_binary("echoscu")
    with running_node(tmp_path) as node:
        ok = subprocess.run(
            [echoscu, "-aet", SCU_AE, "-aec", "DERMNODE", "127.0.0.1", str(node.port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ok.returncode == 0, ok.stderr
        bad = subprocess.run(
            [echoscu, "-aet", "STRANGER", "-aec", "DERMNODE", "127.0.0.1", str(node.port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode != 0
        assert "Calling AE Title Not Recognized" in bad.stderr + bad.stdout


def _associate(port: int, calling: str, called: str = "DERMNODE", bind: str = "127.0.0.1"):
    ae = AE(ae_title=calling)
    ae.add_requested_context(Verification)
    ae.acse_timeout = 10
    return ae.associate("127.0.0.1", port, ae_title=called, bind_address=(bind, 0))


@pytest.mark.parametrize(
    ("calling", "called", "bind", "diagnostic"),
    [
        ("STRANGER", "DERMNODE", "127.0.0.1", 0x03),  # calling AE title not recognised
        (SCU_AE, "NOT_US", "127.0.0.1", 0x07),  # called AE title not recognised
        ("PINNED", "DERMNODE", "127.0.0.1", 0x03),  # right AE title, wrong IP address
    ],
)
def test_association_policy_rejects_with_the_right_reason(
    tmp_path: Path, calling: str, called: str, bind: str, diagnostic: int
) -> None:
    sources = [
        {"ae_title": SCU_AE, "host": "127.0.0.1"},
        {"ae_title": "PINNED", "host": "127.0.0.2"},
    ]
    with running_node(tmp_path, sources=sources) as node:
        assoc = _associate(node.port, calling, called, bind)
        assert assoc.is_rejected
        rj = assoc.acceptor.primitive
        assert (rj.result, rj.result_source, rj.diagnostic) == (0x01, 0x01, diagnostic)
        # The configured address of PINNED is accepted.
        good = _associate(node.port, "PINNED", "DERMNODE", "127.0.0.2")
        assert good.is_established
        good.release()


def test_additional_ae_titles_are_answered_and_recorded(tmp_path: Path) -> None:
    """storescu to a second listening AE title: accepted, and the study knows which one."""
    storescu = require_binary("storescu")
    files = {
        called: save(make_image(VL_PHOTOGRAPHIC, seed=n), tmp_path / f"{called}.dcm")
        for n, called in enumerate(("DERMNODE", "DERM_DERMO"), 1)
    }
    listening = [{"ae_title": "DERM_DERMO", "stable_after_s": 2}]
    with running_node(tmp_path / "node", additional_ae_titles=listening) as node:
        for called, path in files.items():
            r = subprocess.run(
                [storescu, "-aet", SCU_AE, "-aec", called, "127.0.0.1", str(node.port), str(path)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert r.returncode == 0, r.stderr
            uid = str(dcmread(path, stop_before_pixels=True).SOPInstanceUID)
            rec = node.store.get_instance(uid)
            assert rec is not None and rec.called_ae == called
            study = node.store.get_study(rec.study_instance_uid)
            assert study is not None and study.called_ae == called
        # Any other called AE title is still refused with reason 7.
        assoc = _associate(node.port, SCU_AE, "DERM_OTHER")
        assert assoc.is_rejected and assoc.acceptor.primitive.diagnostic == 0x07


def test_concurrent_association_limit_rejects_transiently(tmp_path: Path) -> None:
    with running_node(tmp_path, max_associations=1) as node:
        first = _associate(node.port, SCU_AE)
        assert first.is_established
        second = _associate(node.port, SCU_AE)
        assert second.is_rejected
        rj = second.acceptor.primitive
        # PS3.8 §9.3.4: rejected-transient, service-provider (presentation), local limit
        assert (rj.result, rj.result_source, rj.diagnostic) == (0x02, 0x03, 0x02)
        first.release()


@pytest.fixture(autouse=True)
def _send_files_verbatim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make pynetdicom's SCU send a file's bytes as they are (no decode and re-encode)."""
    from pynetdicom import _config

    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)


def _send_file(port: int, path: Path, sop_class: str) -> int:
    ae = AE(ae_title=SCU_AE)
    ae.add_requested_context(sop_class, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title="DERMNODE")
    assert assoc.is_established
    try:
        rsp = assoc.send_c_store(path)
    finally:
        assoc.release()
    return int(rsp.Status)


def test_broken_datasets_fail_and_the_node_keeps_serving(tmp_path: Path) -> None:
    good = save(make_image(VL_PHOTOGRAPHIC, rows=32, cols=32), tmp_path / "good.dcm")
    data = good.read_bytes()
    meta_end = 144 + int.from_bytes(data[140:144], "little")
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(data[: len(data) - 500])
    garbage = tmp_path / "garbage.dcm"
    garbage.write_bytes(data[:meta_end] + bytes(range(7, 250)) * 8)
    no_uid_ds = make_image(VL_PHOTOGRAPHIC)
    uid = no_uid_ds.SOPInstanceUID
    no_uid = save(no_uid_ds, tmp_path / "no_uid.dcm")
    ds = dcmread(no_uid)
    del ds.SOPInstanceUID
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.save_as(no_uid, enforce_file_format=True)
    with running_node(tmp_path / "node") as node:
        assert _send_file(node.port, truncated, VL_PHOTOGRAPHIC) == Status.CANNOT_UNDERSTAND
        assert _send_file(node.port, garbage, VL_PHOTOGRAPHIC) == Status.CANNOT_UNDERSTAND
        assert _send_file(node.port, no_uid, VL_PHOTOGRAPHIC) == Status.DATASET_MISMATCH
        assert node.store.count_instances() == 0
        assert not any(node.spool.instance_files())
        # The node still answers the next association, and stores a good instance.
        assert _send_file(node.port, good, VL_PHOTOGRAPHIC) == Status.SUCCESS
        assert node.store.count_instances() == 1
        assert not any(node.spool.tmp.iterdir())


def test_same_instance_twice_is_stored_once_with_success_both_times(tmp_path: Path) -> None:
    f = save(make_image(DERMOSCOPIC), tmp_path / "a.dcm")
    with running_node(tmp_path / "node") as node:
        assert _send_file(node.port, f, DERMOSCOPIC) == Status.SUCCESS
        assert _send_file(node.port, f, DERMOSCOPIC) == Status.SUCCESS
        assert node.store.count_instances() == 1
        assert len(list(node.spool.instance_files())) == 1
        assert node.handler.stats.duplicates == 1


@pytest.mark.parametrize(
    ("charset", "name"),
    [(["", "ISO 2022 IR 149"], "김^민지"), ("ISO_IR 192", "이^서연=李^瑞姸")],
)
def test_korean_names_arrive_intact_and_stay_out_of_the_job_store(
    tmp_path: Path, charset: str | list[str], name: str
) -> None:
    ds = make_image(VL_PHOTOGRAPHIC, charset=charset, patient_name=name)
    f = save(ds, tmp_path / "k.dcm")
    if isinstance(charset, list):  # PS3.5 Annex I form: default repertoire + KS X 1001
        assert b"\x1b$)C" in f.read_bytes()  # really sent with the KS X 1001 escape
    with running_node(tmp_path / "node") as node:
        assert _send_file(node.port, f, VL_PHOTOGRAPHIC) == Status.SUCCESS
        rec = node.store.get_instance(str(ds.SOPInstanceUID))
        assert rec is not None
        assert str(dcmread(rec.path).PatientName) == name  # spooled bytes as received
        expected = charset if isinstance(charset, str) else "\\".join(charset)
        assert rec.specific_character_set == expected


def test_patient_name_never_reaches_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ds = make_image(VL_PHOTOGRAPHIC, patient_name="PHI^SENTINEL")
    ds.PatientID = "PHISENTINELID"
    f = save(ds, tmp_path / "phi.dcm")
    other = make_image(VL_PHOTOGRAPHIC, patient_name="PHI^SENTINEL")
    broken = save(other, tmp_path / "phi_broken.dcm")
    broken.write_bytes(broken.read_bytes()[:-100])
    logging.getLogger("pynetdicom").setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            with running_node(tmp_path / "node") as node:
                assert _send_file(node.port, f, VL_PHOTOGRAPHIC) == Status.SUCCESS
                assert _send_file(node.port, f, VL_PHOTOGRAPHIC) == Status.SUCCESS
                assert _send_file(node.port, broken, VL_PHOTOGRAPHIC) != Status.SUCCESS
                rec = node.store.get_instance(str(ds.SOPInstanceUID))
                assert rec is not None and rec.patient_id == "PHISENTINELID"
    finally:
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    assert len(caplog.records) > 5  # the capture did see the node's records
    assert "stored VL Photographic Image Storage" in caplog.text
    assert "SENTINEL" not in caplog.text
    for r in caplog.records:
        assert "SENTINEL" not in r.getMessage()


def _quoted_instance(folder: Path, name: str, *, sop: str, study: str, series: str) -> Path:
    """A VL photo whose UIDs are stored as given (quotes and all), as some archives carry them."""
    import warnings

    ds = make_image(VL_PHOTOGRAPHIC)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid UI values
        ds.SOPInstanceUID = sop
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        return save(ds, folder / name)


def test_uids_with_stray_quotes_are_stored_exactly_one_file_per_instance(tmp_path: Path) -> None:
    import warnings

    core = "1.2.826.0.1.3680043.10.1410.99"
    quoted = _quoted_instance(
        tmp_path, "q.dcm", sop=f"'{core}.3'", study=f"'{core}'", series=f'"{core}.2"'
    )
    plain = _quoted_instance(
        tmp_path, "p.dcm", sop=f"{core}.3", study=f"'{core}'", series=f'"{core}.2"'
    )
    escape = _quoted_instance(
        tmp_path, "e.dcm", sop=f"'{core}/../4'", study=f"'{core}'", series=f"{core}.2"
    )
    with warnings.catch_warnings(), running_node(tmp_path / "node") as node:
        warnings.simplefilter("ignore")
        assert _send_file(node.port, quoted, VL_PHOTOGRAPHIC) == Status.SUCCESS
        assert _send_file(node.port, plain, VL_PHOTOGRAPHIC) == Status.SUCCESS
        assert _send_file(node.port, quoted, VL_PHOTOGRAPHIC) == Status.SUCCESS  # duplicate
        assert _send_file(node.port, escape, VL_PHOTOGRAPHIC) == Status.DATASET_MISMATCH
        assert node.store.count_instances() == 2
        assert node.handler.stats.duplicates == 1
        q = node.store.get_instance(f"'{core}.3'")
        p = node.store.get_instance(f"{core}.3")
        assert q is not None and p is not None
        assert (q.study_instance_uid, q.series_instance_uid) == (f"'{core}'", f'"{core}.2"')
        assert q.sop_class_uid == VL_PHOTOGRAPHIC
        files = sorted(node.spool.instance_files())
        assert sorted(Path(r.path) for r in (q, p)) == files and len(set(files)) == 2
        root = node.spool.root.resolve()
        for rec in (q, p):
            path = Path(rec.path).resolve()
            assert path.is_relative_to(root) and path.parent.parent.parent == root
            assert not any(c in part for part in path.relative_to(root).parts for c in "'\"")
            assert str(dcmread(path, stop_before_pixels=True).SOPInstanceUID) == (
                rec.sop_instance_uid
            )
        assert Path(p.path).name == f"{core}.3.dcm"
        assert Path(q.path).name.startswith("u-")
