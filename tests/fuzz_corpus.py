"""A seeded, structure-aware fuzz corpus of DICOM data sets and upper-layer PDUs.

Data sets: real photos (a face of the Face Research Lab London set, see tests/hostile.py)
encoded as JPEG Baseline, Explicit and Implicit VR Little Endian and RLE Lossless; each case
applies one or two mutations that know the element structure (PS3.5 §7.1): a truncation (at
a random byte or at an element boundary), a wrong VR, a huge, odd or short value length, an
undefined length on a non-sequence, flipped bytes inside one element, elements out of order,
an element dropped (UIDs, Rows, Pixel Data), deeply nested sequences, a bomb (Rows/Columns
20000), a sentinel patient name or birth date, or a transfer syntax that does not match the
encoding (the bytes stay, the File Meta claims another syntax).

PDUs (PS3.8 §9.3): valid A-ASSOCIATE-RQ variants and mutations: every PDU type byte, lengths
from 0 to 4 GB, truncations, item lengths that overrun, bogus item types, garbage after a
valid request, P-DATA before association, and streams cut at each point.

Everything is generated from ``random.Random(seed)``, so a failing case is reproducible by its
name (``<base>/<mutation>/<index>``).
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import data_element_generator
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from tests import hostile as H

VRS = [b"AE", b"AS", b"CS", b"DA", b"DS", b"IS", b"LO", b"OB", b"OW", b"PN", b"SQ", b"UI",
       b"UL", b"UN", b"US", b"UT", b"ZZ", b"\x00\x00"]  # fmt: skip
TRANSFER_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit, RLELossless]


@dataclass(frozen=True, slots=True)
class DatasetCase:
    """One C-STORE payload: the data set bytes and what the File Meta will claim."""

    name: str
    sop_class: str
    sop_instance: str
    transfer_syntax: str
    payload: bytes

    def part10(self) -> bytes:
        """Preamble + File Meta + the (mutated) data set bytes: a file pynetdicom can stream."""
        meta = Dataset()
        meta.MediaStorageSOPClassUID = self.sop_class
        meta.MediaStorageSOPInstanceUID = self.sop_instance
        meta.TransferSyntaxUID = self.transfer_syntax
        buf = DicomBytesIO()
        buf.is_little_endian, buf.is_implicit_VR = True, False
        write_file_meta_info(buf, meta, enforce_standard=True)  # type: ignore[arg-type]
        return b"\x00" * 128 + b"DICM" + buf.getvalue() + self.payload


@dataclass(frozen=True, slots=True)
class _Element:
    start: int  # first byte of the tag
    value: int  # first byte of the value
    end: int  # one past the last byte (of the value, or of the undefined-length value)
    tag: int
    vr_at: int | None  # offset of the two VR bytes (explicit VR only)
    length_at: int  # offset of the length field
    length_size: int  # 2 or 4


_LONG_VRS = {
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"SQ",
    b"SV",
    b"UC",
    b"UN",
    b"UR",
    b"UT",
    b"UV",
}


def _encode(ds: Dataset, ts: str) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = ts == ImplicitVRLittleEndian
    write_dataset(fp, ds)
    return bytes(fp.getvalue())


def _elements(raw: bytes, implicit: bool) -> list[_Element]:
    """Top-level elements of an encoded data set with their byte positions."""
    out: list[_Element] = []
    fp = io.BytesIO(raw)
    gen = data_element_generator(fp, implicit, True, defer_size=None)
    starts: list[tuple[int, int, int | None, int, int, int]] = []
    for elem in gen:
        value = elem.value_tell
        if implicit:
            start, vr_at, length_at, size = value - 8, None, value - 4, 4
        elif raw[value - 8 : value - 6] in _LONG_VRS and raw[value - 6 : value - 4] == b"\0\0":
            start, vr_at, length_at, size = value - 12, value - 8, value - 4, 4
        else:
            start, vr_at, length_at, size = value - 8, value - 4, value - 2, 2
        starts.append((start, value, vr_at, length_at, size, int(elem.tag)))
    for i, (start, value, vr_at, length_at, size, tag) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(raw)
        out.append(_Element(start, value, end, tag, vr_at, length_at, size))
    return out


UID_ROOT = "1.2.826.0.1.3680043.8.498.14"


def fixed_uid(n: int) -> str:
    """A UID of constant length (so it can replace another in encoded bytes)."""
    return f"{UID_ROOT}.{n:012d}"


def base_cases() -> list[tuple[str, Dataset, str]]:
    """Real photos, small, in four encodings: (name, dataset, transfer syntax)."""
    rgb = H.photo(48)
    out: list[tuple[str, Dataset, str]] = []

    def numbered(ds: Dataset) -> Dataset:
        ds.SeriesNumber, ds.InstanceNumber, ds.PixelSpacing = 3, 77, ["0.1", "0.1"]
        ds.SOPInstanceUID = fixed_uid(0)
        return ds

    jpeg = numbered(H.jpeg(rgb))
    jpeg["PixelData"].is_undefined_length = True
    out.append(("jpeg", jpeg, JPEGBaseline8Bit))
    for name, ts in (("explicit", ExplicitVRLittleEndian), ("implicit", ImplicitVRLittleEndian)):
        ds = numbered(H.native(rgb))
        ds.AnatomicRegionSequence = Sequence([Dataset()])
        ds.AnatomicRegionSequence[0].CodeMeaning = "cheek"
        out.append((name, ds, ts))
    rle = numbered(H.native(rgb))
    rle.compress(RLELossless, encoding_plugin="pydicom")
    rle["PixelData"].is_undefined_length = True
    out.append(("rle", rle, RLELossless))
    return out


Mutation = Callable[[random.Random, bytes, list[_Element], Dataset, str], tuple[bytes, str]]


def _truncate_random(
    rng: random.Random, raw: bytes, els: list[_Element], *_: object
) -> tuple[bytes, str]:  # noqa: E501
    return raw[: rng.randrange(1, len(raw))], ""


def _truncate_boundary(
    rng: random.Random, raw: bytes, els: list[_Element], *_: object
) -> tuple[bytes, str]:  # noqa: E501
    e = rng.choice(els)
    cut = rng.choice([e.start, e.value, e.start + 2, e.value + 1])
    return raw[: max(1, cut)], ""


def _wrong_vr(rng: random.Random, raw: bytes, els: list[_Element], *_: object) -> tuple[bytes, str]:
    cands = [e for e in els if e.vr_at is not None]
    if not cands:
        return _flip(rng, raw, els)
    e = rng.choice(cands)
    assert e.vr_at is not None
    return raw[: e.vr_at] + rng.choice(VRS) + raw[e.vr_at + 2 :], ""


def _length(rng: random.Random, raw: bytes, els: list[_Element], *_: object) -> tuple[bytes, str]:
    e = rng.choice(els)
    cur = int.from_bytes(raw[e.length_at : e.length_at + e.length_size], "little")
    big = (1 << (8 * e.length_size)) - 2
    new = rng.choice([big, big - 1, cur + 1, max(0, cur - 1), cur * 3 + 7, 0, big // 2 + 3])
    if e.length_size == 4 and rng.random() < 0.2:
        new = 0xFFFFFFFF  # undefined length on whatever this is
    new &= (1 << (8 * e.length_size)) - 1
    field = new.to_bytes(e.length_size, "little")
    return raw[: e.length_at] + field + raw[e.length_at + e.length_size :], ""


def _flip(rng: random.Random, raw: bytes, els: list[_Element], *_: object) -> tuple[bytes, str]:
    e = rng.choice(els)
    b = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(e.start, max(e.start + 1, min(e.end, len(b))))
        b[i] = rng.randrange(256)
    return bytes(b), ""


def _reorder(rng: random.Random, raw: bytes, els: list[_Element], *_: object) -> tuple[bytes, str]:
    if len(els) < 3:
        return _flip(rng, raw, els)
    i = rng.randrange(len(els) - 1)
    a, b = els[i], els[i + 1]
    return raw[: a.start] + raw[b.start : b.end] + raw[a.start : a.end] + raw[b.end :], ""


def _drop(rng: random.Random, raw: bytes, els: list[_Element], *_: object) -> tuple[bytes, str]:
    key = {0x00080016, 0x00080018, 0x0020000D, 0x0020000E, 0x00280010, 0x00280011, 0x7FE00010}
    cands = [e for e in els if e.tag in key] or els
    e = rng.choice(cands)
    return raw[: e.start] + raw[e.end :], ""


def _rebuild(fn: Callable[[random.Random, Dataset], None]) -> Mutation:
    def mutate(
        rng: random.Random, raw: bytes, els: list[_Element], ds: Dataset, ts: str
    ) -> tuple[bytes, str]:
        copy = Dataset(dict(ds.items()))  # a new element dict: the base stays intact
        copy.SOPInstanceUID = generate_uid()
        with_warnings_off(fn, rng, copy)
        implicit_ts = ImplicitVRLittleEndian if ts == ImplicitVRLittleEndian else None
        return with_warnings_off(_encode, copy, implicit_ts or ExplicitVRLittleEndian), str(
            copy.SOPInstanceUID
        )

    return mutate


def with_warnings_off(fn: Callable[..., object], *args: object) -> object:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _nested(
    rng: random.Random, raw: bytes, els: list[_Element], ds: Dataset, ts: str
) -> tuple[bytes, str]:
    """Anatomic Region Sequence nested 20 to 1000 deep (undefined lengths, PS3.5 7.5)."""
    depth = rng.choice([20, 150, 1000])
    implicit = ts == ImplicitVRLittleEndian
    sq = struct.pack("<HH", 0x0008, 0x2218) + (b"" if implicit else b"SQ\0\0") + b"\xff" * 4
    item = struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)
    ends = struct.pack("<HHL", 0xFFFE, 0xE00D, 0) + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    nest = (sq + item) * depth + ends * depth
    after = [e for e in els if e.tag > 0x00082218 and e.tag != 0]
    at = after[0].start if after else len(raw)
    before = [e for e in els if e.tag == 0x00082218]
    if before:  # replace the existing sequence
        return raw[: before[0].start] + nest + raw[before[0].end :], ""
    return raw[:at] + nest + raw[at:], ""


def _bomb(rng: random.Random, ds: Dataset) -> None:
    ds.Rows = ds.Columns = rng.choice([20000, 65535, 0])


def _sentinel(rng: random.Random, ds: Dataset) -> None:
    ds.PatientName = H.SENTINEL_NAME * rng.choice([1, 2000])
    ds.PatientBirthDate = H.SENTINEL_BIRTH


_TEXT_NUMBERS = {0x00200011, 0x00200013, 0x00280030, 0x00280008}  # IS/DS values
_BINARY_SIZES = {0x00280100, 0x00280101, 0x00280002, 0x00280010, 0x00280011}  # US values


def _bad_values(
    rng: random.Random, raw: bytes, els: list[_Element], *_: object
) -> tuple[bytes, str]:
    """Invalid IS/DS text (same length) or absurd Bits Allocated / Rows / Samples (US)."""
    cands = [e for e in els if e.tag in _TEXT_NUMBERS | _BINARY_SIZES]
    if not cands:
        return _flip(rng, raw, els)
    e = rng.choice(cands)
    n = e.end - e.value
    if e.tag in _TEXT_NUMBERS:
        value = bytes(rng.choice(b"x-.e+ 1\\") for _ in range(n))
    else:
        value = rng.choice([0, 1, 7, 64, 65535, 20000]).to_bytes(2, "little")[:n]
    return raw[: e.value] + value + raw[e.value + len(value) :], ""


MUTATIONS: dict[str, Mutation] = {
    "truncate": _truncate_random,
    "truncate_at_element": _truncate_boundary,
    "wrong_vr": _wrong_vr,
    "length": _length,
    "flip": _flip,
    "reorder": _reorder,
    "drop": _drop,
    "nested": _nested,
    "bomb": _rebuild(_bomb),
    "sentinel": _rebuild(_sentinel),
    "bad_values": _bad_values,
}


def dataset_cases(n: int, seed: int = 14) -> Iterator[DatasetCase]:
    """*n* mutated data sets (each names its base, mutations and index)."""
    rng = random.Random(seed)
    bases = []
    for name, ds, ts in base_cases():
        raw = (
            _encode(ds, ts)
            if ts != RLELossless and ts != JPEGBaseline8Bit
            else _encode(ds, ExplicitVRLittleEndian)
        )
        bases.append((name, ds, ts, raw, _elements(raw, ts == ImplicitVRLittleEndian)))
    names = sorted(MUTATIONS)
    for i in range(n):
        name, ds, ts, raw, els = bases[i % len(bases)]
        uid = fixed_uid(seed * 1_000_000 + i + 1)
        raw = raw.replace(fixed_uid(0).encode(), uid.encode())
        chosen = [names[(i // len(bases)) % len(names)]]
        if rng.random() < 0.25:
            chosen.append(rng.choice(names))
        data = raw
        for m in chosen:
            data, new_uid = MUTATIONS[m](rng, data, els, ds, ts)
            uid = new_uid or uid
            if len(data) != len(raw):  # element offsets moved: a second mutation flips bytes
                els = [_Element(0, 0, len(data), 0, None, 0, 4)]
        claimed = ts
        if rng.random() < 0.1:  # a transfer syntax that does not match the bytes
            claimed = rng.choice([t for t in TRANSFER_SYNTAXES if t != ts])
            chosen.append("bogus_ts")
        yield DatasetCase(
            name=f"{name}/{'+'.join(chosen)}/{i}",
            sop_class=str(ds.SOPClassUID),
            sop_instance=uid,
            transfer_syntax=claimed,
            payload=data,
        )


# -- PDUs ----------------------------------------------------------------------------------


def _item(kind: int, body: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(body)) + body


def associate_rq(called: str = "DERMNODE", calling: str = "TESTSCU", n_contexts: int = 1) -> bytes:
    """A valid A-ASSOCIATE-RQ (PS3.8 §9.3.2) proposing Verification (and VL Photographic)."""
    app = _item(0x10, b"1.2.840.10008.3.1.1.1")
    pcs = b""
    for i in range(n_contexts):
        uid = b"1.2.840.10008.1.1" if i == 0 else H.VL_PHOTO.encode()
        pcs += _item(
            0x20, bytes([2 * i + 1, 0, 0, 0]) + _item(0x30, uid) + _item(0x40, b"1.2.840.10008.1.2")
        )
    user = _item(0x50, _item(0x51, struct.pack(">L", 16384)) + _item(0x52, b"1.2.3.4"))
    body = (
        struct.pack(">HH", 1, 0)
        + called.ljust(16).encode()
        + calling.ljust(16).encode()
        + bytes(32)
        + app
        + pcs
        + user
    )
    return struct.pack(">BBL", 0x01, 0, len(body)) + body


@dataclass(frozen=True, slots=True)
class PduCase:
    """Bytes to send on a fresh connection (then wait for the node's answer or close)."""

    name: str
    data: bytes


def pdu_cases(n: int, seed: int = 8) -> Iterator[PduCase]:
    """*n* hostile PDU streams."""
    rng = random.Random(seed)
    rq = associate_rq(n_contexts=2)
    makers: list[tuple[str, Callable[[], bytes]]] = [
        ("type", lambda: bytes([rng.randrange(256), 0]) + rq[2:]),
        (
            "length_huge",
            lambda: rq[:2] + struct.pack(">L", rng.choice([0xFFFFFFFF, 1 << 30, 2**31])) + rq[6:],
        ),  # noqa: E501
        (
            "length_short",
            lambda: rq[:2] + struct.pack(">L", rng.randrange(0, len(rq) - 6)) + rq[6:],
        ),  # noqa: E501
        (
            "length_long",
            lambda: rq[:2] + struct.pack(">L", len(rq) - 6 + rng.randint(1, 5000)) + rq[6:],
        ),  # noqa: E501
        ("truncated", lambda: rq[: rng.randrange(1, len(rq))]),
        ("flip", lambda: _flip_bytes(rng, rq, 6)),
        ("item_length", lambda: _bad_item_length(rng, rq)),
        (
            "garbage_after",
            lambda: rq + bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))),
        ),  # noqa: E501
        (
            "p_data_first",
            lambda: (
                struct.pack(">BBL", 0x04, 0, 12) + struct.pack(">L", 8) + b"\x01\x03" + bytes(6)
            ),
        ),  # noqa: E501
        ("release_first", lambda: bytes([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0])),
        ("abort_first", lambda: bytes([0x07, 0, 0, 0, 0, 4, 0, 0, 0, 0])),
        ("random", lambda: bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))),
        ("many_contexts", lambda: associate_rq(n_contexts=rng.choice([60, 128]))),
        ("wrong_called", lambda: associate_rq(called="NOTUS")),
        ("unknown_calling", lambda: associate_rq(calling="INTRUDER")),
    ]
    for i in range(n):
        name, make = makers[i % len(makers)]
        yield PduCase(f"{name}/{i}", make())


def _flip_bytes(rng: random.Random, data: bytes, start: int) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        b[rng.randrange(start, len(b))] = rng.randrange(256)
    return bytes(b)


def _bad_item_length(rng: random.Random, rq: bytes) -> bytes:
    """Overwrite the length of one variable item (after the 74-byte fixed part)."""
    b = bytearray(rq)
    offsets = []
    i = 74
    while i + 4 <= len(b):
        offsets.append(i)
        length = int.from_bytes(b[i + 2 : i + 4], "big")
        i += 4 + length
    at = rng.choice(offsets)
    b[at + 2 : at + 4] = rng.choice([0xFFFF, 0, 1, 0x8000]).to_bytes(2, "big")
    return bytes(b)


def sample_array(seed: int = 0) -> np.ndarray:
    """A tiny RGB array for quick checks."""
    return H.photo(16, index=1 + seed % 3)


__all__ = [
    "MUTATIONS",
    "DatasetCase",
    "PduCase",
    "associate_rq",
    "base_cases",
    "dataset_cases",
    "encapsulate",
    "pdu_cases",
]
