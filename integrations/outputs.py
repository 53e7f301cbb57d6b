"""Write every output of one analysis result into a folder (``dermnode analyze --out DIR``).

Files (DESIGN.md §5 ``outputs``)::

    sr.dcm            TID 1500 Comprehensive 3D SR of all photos with a DICOM source
    seg-N.dcm         BINARY Segmentation of photo N (zones + binary feature maps)
    seg-N-maps.dcm    FRACTIONAL Segmentation of photo N (continuous maps), if any
    seg-N-levels.dcm  BINARY Segmentation of the levels of those maps (what viewers show)
    sc-N.dcm          Secondary Capture of photo N with the maps burned in (optional)
    report.pdf        the PDF report (always, also for ordinary PNG/JPEG inputs)
    report.dcm        the same PDF as Encapsulated PDF Storage
    patient-report.pdf  the plain-language patient report in the first requested language
    patient-report.dcm  the same as Encapsulated PDF Storage (its own series, for the patient)
    patient-report-LL.pdf / .dcm  the same in a further language LL, when asked for

N is the 1-based position of the photo in the result. Photos without a DICOM source (an
ordinary image file) get no DICOM objects; they still get their page in the PDF. Files are
written to a temporary name and renamed, so a crash never leaves half a file behind.

:func:`write_result_set` returns what it wrote as typed values (:class:`OutputFile`: kind,
path, SOP Class UID, SOP Instance UID; the PDF bytes), so the service never reads an output
back; :func:`write_outputs` is the same as the JSON ``outputs`` object.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from analysis.progress import Comparison
from analysis.treatment import ClinicNorms, CourseResponse, TreatmentSupport
from analysis.types import AnalysisResult
from integrations.dicom_common import Equipment, pair_sources, set_series_date_time
from integrations.dicom_seg import SegOutput, build_segmentations, use_safe_rle_encoder
from integrations.dicom_sr import build_sr
from integrations.progress_view import PriorView
from integrations.report import encapsulated_pdf, render_patient_report, render_report
from integrations.secondary_capture import build_secondary_capture
from integrations.study import StudyInfo
from integrations.uids import OutputUids

__all__ = [
    "OutputFile",
    "OutputKind",
    "ResultSet",
    "decode_photo",
    "write_outputs",
    "write_result_set",
]

logger = logging.getLogger(__name__)


#: File name suffix per Segmentation content label (``seg-N.dcm``, ``seg-N-maps.dcm`` ...).
_SEG_SUFFIX = {"ZONES": "", "MAPS": "-maps", "LEVELS": "-levels"}


class OutputKind(StrEnum):
    """What a DICOM output file is."""

    SR = "sr"
    SEG = "seg"
    REPORT = "report_dcm"
    SC = "sc"
    #: The patient report as Encapsulated PDF (one per language).
    PATIENT_REPORT = "patient_dcm"


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One DICOM object written: what it is, where, and its identity."""

    kind: OutputKind
    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    #: The language of a patient report (``en``, ``ko``); None for the other kinds.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ResultSet:
    """Everything :func:`write_result_set` wrote for one analysis result.

    ``files`` are the DICOM objects in writing order (SEGs and SCs per photo, then the SR,
    then the Encapsulated PDF); ``pdf_path``/``pdf`` the readable report.
    """

    files: tuple[OutputFile, ...]
    pdf_path: Path
    pdf: bytes
    #: The patient report PDF per language, the first requested language first.
    patient_pdfs: tuple[tuple[str, Path], ...] = ()

    def patient_report(self, language: str) -> OutputFile | None:
        """The patient report object in *language*, if one was written."""
        return next(
            (f for f in self.of_kind(OutputKind.PATIENT_REPORT) if f.language == language), None
        )

    def of_kind(self, kind: OutputKind) -> list[OutputFile]:
        """The files of one kind, in order."""
        return [f for f in self.files if f.kind is kind]

    @property
    def sr(self) -> OutputFile | None:
        """The SR, when any photo had a DICOM source."""
        return next(iter(self.of_kind(OutputKind.SR)), None)

    def to_json(self, secondary_capture: bool = False) -> dict[str, Any]:
        """The ``outputs`` object of the JSON result (DESIGN.md §5)."""

        def one(kind: OutputKind) -> str | None:
            files = self.of_kind(kind)
            return str(files[0].path) if files else None

        doc: dict[str, Any] = {
            "sr": one(OutputKind.SR),
            "seg": [str(f.path) for f in self.of_kind(OutputKind.SEG)],
            "pdf": str(self.pdf_path),
            "report_dcm": one(OutputKind.REPORT),
        }
        if secondary_capture:
            doc["sc"] = [str(f.path) for f in self.of_kind(OutputKind.SC)]
        for n, (language, pdf_path) in enumerate(self.patient_pdfs):
            dcm = self.patient_report(language)
            entry = {"pdf": str(pdf_path), "dcm": None if dcm is None else str(dcm.path)}
            doc.setdefault("patient", {})[language] = entry
            if n == 0:
                doc["patient_pdf"], doc["patient_dcm"] = entry["pdf"], entry["dcm"]
        return doc


def _file(kind: OutputKind, ds: Dataset, path: Path, language: str | None = None) -> OutputFile:
    return OutputFile(kind, path, str(ds.SOPClassUID), str(ds.SOPInstanceUID), language)


def decode_photo(ds: Dataset) -> npt.NDArray[np.uint8] | None:
    """The RGB pixels of a source photo for the report, or None when they cannot be decoded.

    pydicom converts YBR to RGB; grayscale is repeated to three channels; other bit depths
    are scaled to 8 bits.
    """
    if "PixelData" not in ds:
        return None
    try:
        arr = np.asarray(ds.pixel_array)
    except Exception as exc:  # noqa: BLE001 - any decoder failure only loses the picture
        logger.warning("report photo could not be decoded (%s): drawn on grey", type(exc).__name__)
        return None
    if arr.ndim == 4:  # multi-frame: first frame
        arr = arr[0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.dtype != np.uint8:
        top = float(arr.max()) or 1.0
        arr = (arr.astype(np.float32) * (255.0 / top)).astype(np.uint8)
    return np.ascontiguousarray(arr[..., :3])


def _save(ds: Dataset, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        ds.save_as(tmp, enforce_file_format=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_bytes(data: bytes, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(
    result: AnalysisResult,
    sources: Sequence[Dataset | None],
    out_dir: Path,
    *,
    study_version: int = 1,
    photos: Sequence[npt.NDArray[np.uint8] | None] | None = None,
    secondary_capture: bool = False,
    progress: Sequence[PriorView | None] | None = None,
    patient_languages: Sequence[str] = (),
    treatment: TreatmentSupport | None = None,
    course: Sequence[CourseResponse | None] | None = None,
    norms: Sequence[ClinicNorms | None] | None = None,
) -> dict[str, Any]:
    """Write SR, SEG, PDF and Encapsulated PDF of *result*; return the JSON ``outputs``.

    The same as :func:`write_result_set` (see there for the parameters), with the result
    as ``{"sr": path | None, "seg": [paths], "pdf": path, "report_dcm": path | None}`` (and
    ``"sc": [paths]`` when asked; with a patient report also ``"patient_pdf"``,
    ``"patient_dcm"`` (first language) and ``"patient": {language: {"pdf", "dcm"}}``).
    """
    written = write_result_set(
        result,
        sources,
        out_dir,
        study_version=study_version,
        photos=photos,
        secondary_capture=secondary_capture,
        progress=progress,
        patient_languages=patient_languages,
        treatment=treatment,
        course=course,
        norms=norms,
    )
    return written.to_json(secondary_capture)


def write_result_set(
    result: AnalysisResult,
    sources: Sequence[Dataset | None],
    out_dir: Path,
    *,
    study_version: int = 1,
    photos: Sequence[npt.NDArray[np.uint8] | None] | None = None,
    secondary_capture: bool = False,
    progress: Sequence[PriorView | None] | None = None,
    patient_languages: Sequence[str] = (),
    treatment: TreatmentSupport | None = None,
    course: Sequence[CourseResponse | None] | None = None,
    norms: Sequence[ClinicNorms | None] | None = None,
) -> ResultSet:
    """Write SR, SEG, PDF and Encapsulated PDF of *result* into *out_dir*.

    Parameters
    ----------
    result
        The analysis result.
    sources
        The source dataset of each image of ``result.images`` (same order), None for an
        ordinary image file.
    out_dir
        The folder (created if missing).
    study_version
        1 for the first analysis of the study; higher for a re-opened study (new UIDs).
    photos
        The RGB pixels of each photo for the report; by default decoded from the sources.
    secondary_capture
        Also write ``sc-N.dcm`` per photo with a DICOM source.
    progress
        Per image of ``result.images`` (same order), the comparison with the patient's
        earlier visits and the earlier photo of that view, or None. The SR then carries the
        changes and verdicts, and the PDF gets a "Since last visit" page per such photo.
        None (default) writes exactly the objects written without progress tracking.
    patient_languages
        The languages of the patient report (``en``, ``ko``), the first one written as
        ``patient-report.pdf``; empty (default): no patient report.
    treatment
        The clinic rules' treatment-planning support (:func:`analysis.treatment.evaluate`), or
        None: shown on a "Topics for the consultation" page of the clinician report and as
        items of the SR.
    course
        Per image (same order), the response since the patient's treatment course began
        (:func:`analysis.treatment.course_response`), or None: a "Treatment course" page.
    norms
        Per image, the clinic norms (:func:`analysis.treatment.clinic_norms`), beside the
        scores of the clinician report.

    Returns
    -------
    ResultSet
        The DICOM objects written (kind, path, SOP Class and Instance UID) and the PDF.

    Raises
    ------
    ValueError
        When *sources* (or *progress*) and ``result.images`` differ in length.
    integrations.errors.EncodingError
        When an object cannot be built.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs = pair_sources(result, sources)
    if progress is not None and len(progress) != len(result.images):
        raise ValueError(
            f"progress: {len(progress)} entries for {len(result.images)} image results"
        )
    if photos is None:
        photos = [decode_photo(ds) if ds is not None else None for _, ds in pairs]
    dicom_pairs = [(i, img, ds) for i, (img, ds) in enumerate(pairs) if ds is not None]
    equipment = Equipment.of(result)
    files: list[OutputFile] = []
    study: StudyInfo | None = None
    if dicom_pairs:
        first = dicom_pairs[0][2]
        study = StudyInfo.from_dataset(first)
        uids = OutputUids.of(
            [str(ds.SOPInstanceUID) for _, _, ds in dicom_pairs],
            result.algorithm_name,
            result.algorithm_version,
            study_version,
        )
        segs: dict[str, list[SegOutput]] = {}
        # The photos' SEGs are independent: built on a few threads (highdicom's work is numpy
        # array copies that release the GIL). Each SEG is instance 1 of a series of its own.
        use_safe_rle_encoder()  # once, before the threads (it changes pydicom's plugins)
        workers = max(1, min(len(dicom_pairs), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seg") as pool:
            futures = [
                pool.submit(build_segmentations, image, ds, uids, equipment, photo_index=k)
                for k, (_, image, ds) in enumerate(dicom_pairs)
            ]
            built_all = [f.result() for f in futures]
        for (index, image, ds), built in zip(dicom_pairs, built_all, strict=True):
            segs[str(ds.SOPInstanceUID)] = built
            for seg in built:
                suffix = _SEG_SUFFIX.get(str(seg.dataset.get("ContentLabel", "")), "")
                path = out_dir / f"seg-{index + 1}{suffix}.dcm"
                _save(seg.dataset, path)
                files.append(_file(OutputKind.SEG, seg.dataset, path))
            if secondary_capture and (image.zones or image.maps):
                sc = build_secondary_capture(
                    image, ds, photos[index], uids, equipment, instance_number=index + 1
                )
                path = out_dir / f"sc-{index + 1}.dcm"
                _save(sc, path)
                files.append(_file(OutputKind.SC, sc, path))
        comparisons: list[Comparison | None] | None = None
        if progress is not None:
            views = [progress[i] for i, _, _ in dicom_pairs]
            comparisons = [None if v is None else v.comparison for v in views]
        sr = build_sr(
            result,
            [(img, ds) for _, img, ds in dicom_pairs],
            segs,
            uids,
            progress=comparisons,
            treatment=treatment,
        )
        sr_path = out_dir / "sr.dcm"
        _save(sr, sr_path)
        files.append(_file(OutputKind.SR, sr, sr_path))
    pdf = render_report(
        result,
        study,
        photos,
        progress=progress,
        treatment=treatment,
        course=course,
        norms=norms,
    )
    pdf_path = out_dir / "report.pdf"
    _save_bytes(pdf, pdf_path)
    if dicom_pairs:
        doc = encapsulated_pdf(pdf, dicom_pairs[0][2], uids, equipment)
        set_series_date_time(doc)
        doc_path = out_dir / "report.dcm"
        _save(doc, doc_path)
        files.append(_file(OutputKind.REPORT, doc, doc_path))
    patient_pdfs: list[tuple[str, Path]] = []
    for n, language in enumerate(dict.fromkeys(patient_languages)):
        stem = "patient-report" if n == 0 else f"patient-report-{language}"
        patient = render_patient_report(
            result, study, photos, progress=progress, language=language, course=course
        )
        patient_path = out_dir / f"{stem}.pdf"
        _save_bytes(patient, patient_path)
        patient_pdfs.append((language, patient_path))
        if dicom_pairs:
            pdoc = encapsulated_pdf(
                patient, dicom_pairs[0][2], uids, equipment, audience="patient", language=language
            )
            pdoc_path = out_dir / f"{stem}.dcm"
            _save(pdoc, pdoc_path)
            files.append(_file(OutputKind.PATIENT_REPORT, pdoc, pdoc_path, language))
    written = ResultSet(tuple(files), pdf_path, pdf, tuple(patient_pdfs))
    logger.info(
        "wrote outputs: %d DICOM photo(s), %d segmentation(s), sr=%s",
        len(dicom_pairs),
        len(written.of_kind(OutputKind.SEG)),
        written.sr is not None,
    )
    return written
