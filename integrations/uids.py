"""Deterministic UIDs for everything DermNode writes (PS3.5 §9, UUID-derived ``2.25`` UIDs).

A result object's UIDs are a pure function of *what it was derived from*: the source SOP
Instance UIDs, the algorithm name and version, the study version and the object's role. Sending
the same result again after a crash therefore produces byte-for-byte the same identifiers and
the PACS stores it once, not twice. A re-opened study (new analysis of the same photos that
must not overwrite what was sent) passes a higher ``study_version`` and gets new UIDs.

The derivation is a name-based UUID (RFC 4122 version 5, SHA-1) over the parts joined with a
unit separator, written as ``2.25.<decimal of the 128-bit UUID>`` (PS3.5 §B.2). Such a UID is
at most 44 characters long, well under the 64 allowed, and never collides with another root.

Tracking UIDs (TID 1500 "Tracking Unique Identifier", SEG "Tracking UID") are different: they
must stay the *same* across studies for the same patient, view and zone, so they are derived
from the patient identity instead of the source instances (see :func:`tracking_uid`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["OutputUids", "derive_uid", "tracking_uid"]

#: Namespace of DermNode's name-based UUIDs (itself uuid5(NAMESPACE_URL, project URL)).
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:dermnode:dicom-uid")
_SEP = "\x1f"


def derive_uid(*parts: str) -> str:
    """Return the ``2.25`` UID for the ordered *parts*.

    Parameters
    ----------
    *parts
        Strings identifying the object; at least one, none empty-after-join ambiguity
        (parts are joined with U+001F, which cannot occur in a UID or key).

    Returns
    -------
    str
        A valid DICOM UID of at most 44 characters.

    Raises
    ------
    ValueError
        When no part is given.
    """
    if not parts:
        raise ValueError("parts: at least one part is needed to derive a UID")
    for p in parts:
        if not isinstance(p, str):
            raise TypeError(f"parts: every part must be a str, got {type(p).__name__}")
    return f"2.25.{uuid.uuid5(_NAMESPACE, _SEP.join(parts)).int}"


def tracking_uid(
    patient_id: str, issuer_of_patient_id: str, view: str, region: str, *, study_uid: str = ""
) -> str:
    """UID that identifies one region of one patient across visits.

    Parameters
    ----------
    patient_id, issuer_of_patient_id
        The patient identity (PHI: used only as hash input, never stored or logged).
    view
        The photo's view (frontal, left ...): the same zone seen from another angle is a
        different finding because its measurements are not comparable.
    region
        The zone or feature (``cheek_left``, ``spots`` ...).
    study_uid
        Used instead of the patient identity when the source has no Patient ID; such a UID
        is then only stable within the study.
    """
    if not region:
        raise ValueError("region: must not be empty")
    if patient_id:
        return derive_uid("tracking", issuer_of_patient_id, patient_id, view, region)
    if not study_uid:
        raise ValueError("study_uid: needed when the source has no patient_id")
    return derive_uid("tracking-study", study_uid, view, region)


@dataclass(frozen=True, slots=True)
class OutputUids:
    """The UID factory for one analysis result.

    Parameters
    ----------
    source_uids
        SOP Instance UIDs of the source photos (order does not matter).
    algorithm_name, algorithm_version
        The algorithm that produced the result.
    study_version
        1 for the first analysis of a study; increase it to get new objects for a re-opened
        study instead of replacing the ones already sent.
    """

    source_uids: tuple[str, ...]
    algorithm_name: str
    algorithm_version: str
    study_version: int = 1

    def __post_init__(self) -> None:
        if not self.source_uids:
            raise ValueError("source_uids: at least one source SOP Instance UID is needed")
        if any(not u for u in self.source_uids):
            raise ValueError("source_uids: empty UID")
        if self.study_version < 1:
            raise ValueError(f"study_version must be >= 1, got {self.study_version}")
        object.__setattr__(self, "source_uids", tuple(sorted(self.source_uids)))

    @classmethod
    def of(
        cls,
        source_uids: Iterable[str],
        algorithm_name: str,
        algorithm_version: str,
        study_version: int = 1,
    ) -> OutputUids:
        """Build from any iterable of source UIDs."""
        return cls(tuple(source_uids), algorithm_name, algorithm_version, study_version)

    def _base(self) -> tuple[str, ...]:
        return (
            self.algorithm_name,
            self.algorithm_version,
            str(self.study_version),
            *self.source_uids,
        )

    def series(self, role: str) -> str:
        """Series Instance UID of output type *role* (``sr``, ``seg``, ``pdf``, ``sc``)."""
        return derive_uid("series", role, *self._base())

    def instance(self, role: str, source_uid: str = "") -> str:
        """SOP Instance UID of output *role*, for one source photo when *source_uid* is given."""
        if source_uid and source_uid not in self.source_uids:
            raise ValueError("source_uid: not one of this result's source UIDs")
        return derive_uid("instance", role, source_uid, *self._base())
