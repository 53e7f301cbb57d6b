"""What every DermNode output object shares: patient/study copy, equipment, character set.

Patient and study attributes are copied from the source photo as *data elements*, not
re-typed from strings, and the output keeps the source's Specific Character Set. A Korean name
sent in ``ISO 2022 IR 149`` (or UTF-8, ``ISO_IR 192``) is therefore written back with the same
bytes it arrived with (PS3.5 §6.1.2.5); a test compares the raw bytes.

Series numbers are fixed per output type (PS3.3 C.7.3.1 only asks them to be numbers), so a
viewer lists DermNode's series in the same order in every study.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

from analysis.types import AnalysisResult, ImageResult

__all__ = [
    "DEVICE_SERIAL",
    "EQUIPMENT_MANUFACTURER",
    "PATIENT_STUDY_KEYWORDS",
    "SERIES_NUMBERS",
    "Equipment",
    "apply_character_set",
    "character_set",
    "copy_patient_study",
    "pair_sources",
    "set_series_date_time",
    "with_type2_defaults",
]

logger = logging.getLogger(__name__)

EQUIPMENT_MANUFACTURER = "DermNode project"
DEVICE_SERIAL = "dermnode"

#: Series Number per output type.
SERIES_NUMBERS: dict[str, int] = {
    "sr": 9001,
    "seg": 9002,
    "pdf": 9003,
    "sc": 9004,
    "seg-fractional": 9005,
    "seg-levels": 9006,
    "patient_pdf": 9007,
}

#: Patient (C.7.1.1), General Study (C.7.2.1) and Patient Study (C.7.2.2) attributes copied
#: from the source. Type 2 attributes missing in the source are written empty.
PATIENT_STUDY_KEYWORDS: tuple[tuple[str, bool], ...] = (
    ("PatientName", True),
    ("PatientID", True),
    ("IssuerOfPatientID", False),
    ("IssuerOfPatientIDQualifiersSequence", False),
    ("PatientBirthDate", True),
    ("PatientSex", True),
    ("OtherPatientIDsSequence", False),
    ("PatientComments", False),
    ("PatientIdentityRemoved", False),
    ("StudyInstanceUID", True),
    ("StudyDate", True),
    ("StudyTime", True),
    ("ReferringPhysicianName", True),
    ("StudyID", True),
    ("AccessionNumber", True),
    ("IssuerOfAccessionNumberSequence", False),
    ("StudyDescription", False),
    ("PatientAge", False),
    ("PatientSize", False),
    ("PatientWeight", False),
)


@dataclass(frozen=True, slots=True)
class Equipment:
    """General Equipment module values of DermNode's objects."""

    manufacturer: str
    model_name: str
    software_version: str
    device_serial_number: str = DEVICE_SERIAL

    @classmethod
    def of(cls, result: AnalysisResult) -> Equipment:
        """The equipment that produced *result* (algorithm name and version)."""
        return cls(EQUIPMENT_MANUFACTURER, result.algorithm_name, result.algorithm_version)


def character_set(source: Dataset) -> str | list[str] | None:
    """The source's Specific Character Set, as the output should carry it.

    The output keeps the source's value so the copied names keep their bytes. None when the
    source has none (default repertoire; DermNode's own text is ASCII).
    """
    value = source.get("SpecificCharacterSet")
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return [str(v) for v in value]


def apply_character_set(dst: Dataset, src: Dataset) -> None:
    """Give *dst* the Specific Character Set of *src* (highdicom refuses the empty first value
    of ``['', 'ISO 2022 IR 149']``, so it is set after construction). The copied names are
    decoded values and are encoded again with this set when the object is written.
    """
    cs = character_set(src)
    if cs is not None:
        dst.SpecificCharacterSet = cs
    elif "SpecificCharacterSet" in dst:
        del dst.SpecificCharacterSet


def copy_patient_study(dst: Dataset, src: Dataset) -> None:
    """Copy the patient and study attributes of *src* into *dst* (data elements, deep copy).

    Parameters
    ----------
    dst
        The new object.
    src
        The source photo (decoded with its own Specific Character Set).
    """
    cs = character_set(src)
    if cs is not None:
        dst.SpecificCharacterSet = cs
    for keyword, type2 in PATIENT_STUDY_KEYWORDS:
        if keyword in src:
            dst[keyword] = copy.deepcopy(src[keyword])
        elif type2:
            setattr(dst, keyword, "")


def set_series_date_time(ds: Dataset) -> None:
    """Series Date and Time (General Series, Type 3) = when the object was made.

    Viewers group and sort series by them (OHIF's study browser lists a series without a
    Series Date under "?"). The object's Content Date/Time, else its Instance Creation
    Date/Time, is used, so all dates of one object agree.
    """
    for date_kw, time_kw in (
        ("ContentDate", "ContentTime"),
        ("InstanceCreationDate", "InstanceCreationTime"),
    ):
        if ds.get(date_kw):
            ds.SeriesDate = ds[date_kw].value
            if ds.get(time_kw):
                ds.SeriesTime = ds[time_kw].value
            return


#: Type 2 attributes of the Patient, General Study and General Series modules that highdicom
#: copies from a source; a sender may omit them, so they are added empty (PS3.5 §7.4.5).
_TYPE2_DEFAULTS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)


def with_type2_defaults(source: Dataset) -> Dataset:
    """A shallow copy of *source* with missing Type 2 patient/study attributes added empty."""
    missing = [k for k in _TYPE2_DEFAULTS if k not in source]
    if not missing:
        return source
    out = Dataset(source)
    if hasattr(source, "file_meta"):
        out.file_meta = source.file_meta
    for keyword in missing:
        setattr(out, keyword, "")
    return out


def pair_sources(
    result: AnalysisResult, sources: Sequence[Dataset | None]
) -> list[tuple[ImageResult, Dataset | None]]:
    """Pair each image result with its source dataset.

    A source is matched by SOP Instance UID when the image's ``source`` is one, else by
    position.

    Raises
    ------
    ValueError
        When *sources* and ``result.images`` differ in length.
    """
    if len(sources) != len(result.images):
        raise ValueError(f"sources: {len(sources)} datasets for {len(result.images)} image results")
    by_uid = {str(s.SOPInstanceUID): s for s in sources if s is not None and "SOPInstanceUID" in s}
    pairs: list[tuple[ImageResult, Dataset | None]] = []
    for image, positional in zip(result.images, sources, strict=True):
        src = by_uid.get(image.source, positional)
        pairs.append((image, None if src is None else with_type2_defaults(src)))
    return pairs
