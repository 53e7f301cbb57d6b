"""Progress tracking in the outputs: SR (read back with highdicom), PDF (pdftotext), HL7 ORU.

The comparison is built with :func:`analysis.progress.compare` from three hand-made visits
whose changes and verdicts are known (:mod:`progress_fakes`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import cv2
import highdicom as hd
import hl7
import numpy as np
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hl7apy.validation import Validator
from pydicom import dcmread
from skimage import data as skdata

from analysis.progress import Comparison
from integrations.codes import (
    CHANGE_LABEL_CODES,
    CONCEPT_BASELINE_SR,
    CONCEPT_BASELINE_STUDY,
    CONCEPT_CHANGE_BASELINE,
    CONCEPT_CHANGE_PREVIOUS,
    CONCEPT_CHANGE_PREVIOUS_PCT,
    CONCEPT_COMPARED,
    CONCEPT_EXCLUDED_PRIOR,
    CONCEPT_LABEL_BASELINE,
    CONCEPT_LABEL_PREVIOUS,
    CONCEPT_MDC_PREVIOUS,
    CONCEPT_PREVIOUS_DATE,
    CONCEPT_PREVIOUS_SR,
    CONCEPT_PREVIOUS_STUDY,
    key_code,
)
from integrations.hl7 import build_oru
from integrations.outputs import write_outputs
from integrations.progress_view import PriorView, before_after
from integrations.uids import tracking_uid
from tests.peers import require_binary
from tests.unit.integrations import fakes, hl7_fakes
from tests.unit.integrations import progress_fakes as P


def _astronaut(shape: tuple[int, int] = (fakes.ROWS, fakes.COLS)) -> np.ndarray:
    out = cv2.resize(skdata.astronaut(), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out, dtype=np.uint8)


def _shifted(photo: np.ndarray, dx: float = 4.0, dy: float = 3.0) -> np.ndarray:
    m = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
    h, w = photo.shape[:2]
    return np.asarray(cv2.warpAffine(photo, m, (w, h), borderMode=cv2.BORDER_REFLECT), np.uint8)


def _write(tmp: Path, comparison: Comparison, earlier: np.ndarray | None) -> dict[str, Any]:
    current = _astronaut()
    prior = PriorView(comparison, earlier, fakes.image_result(0) if earlier is not None else None)
    return write_outputs(
        fakes.analysis_result(),
        fakes.sources(),
        tmp,
        photos=[current, None],
        progress=[prior, None],
    )


@pytest.fixture(scope="module")
def fair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _write(tmp_path_factory.mktemp("fair"), P.comparison(), _shifted(_astronaut()))


@pytest.fixture(scope="module")
def unfair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # the "earlier photo" is another scene (a coffee cup): no fair comparison
    coffee = skdata.coffee()  # type: ignore[no-untyped-call]
    scene = cv2.resize(coffee, (fakes.COLS, fakes.ROWS), interpolation=cv2.INTER_AREA)
    return _write(tmp_path_factory.mktemp("unfair"), P.comparison(), scene)


@pytest.fixture(scope="module")
def not_compared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _write(tmp_path_factory.mktemp("nc"), P.not_comparable(), None)


# --------------------------------------------------------------------------- SR


def _groups(path: str) -> dict[str, Any]:
    report = hd.sr.srread(path).content
    groups = list(report.get_planar_roi_measurement_groups())
    groups += list(report.get_image_measurement_groups())
    # each zone also has an outline group (same Tracking UID, an Image Region, no values)
    return {str(g.tracking_identifier): g for g in groups if not _is_outline(g)}


def _is_outline(group: Any) -> bool:
    return getattr(group, "reference_type", None) == hd.sr.CodedConcept(
        "111030", "DCM", "Image Region"
    )


def _props(item: Any) -> dict[str, Any]:
    """Children of a content item by concept code value: NUM -> float, CODE -> code value,
    TEXT -> text, UIDREF -> uid, DATE -> date string."""
    out: dict[str, Any] = {}
    for child in item.get("ContentSequence", []):
        code = child.ConceptNameCodeSequence[0].CodeValue
        vt = child.ValueType
        if vt == "NUM":
            value: Any = float(child.MeasuredValueSequence[0].NumericValue)
        elif vt == "CODE":
            value = child.ConceptCodeSequence[0].CodeValue
        elif vt == "TEXT":
            value = str(child.TextValue)
        elif vt == "UIDREF":
            value = str(child.UID)
        elif vt == "DATE":
            value = str(child.Date)
        else:
            continue
        out.setdefault(code, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


@pytest.mark.parametrize(("region", "key"), sorted(P.TRUTH))
def test_sr_carries_the_change_values_and_verdicts(
    fair: dict[str, Any], region: str, key: str
) -> None:
    prev, base, cur, label, label_base = P.TRUTH[(region, key)]
    group = _groups(fair["sr"])[f"frontal/{region}"]
    (m,) = group.get_measurements(name=key_code(key))
    assert float(m.value) == pytest.approx(cur)  # the measurement itself is unchanged
    props = _props(m[0])
    assert props[CONCEPT_CHANGE_PREVIOUS.value] == pytest.approx(cur - prev)
    assert props[CONCEPT_CHANGE_PREVIOUS_PCT.value] == pytest.approx(100 * (cur - prev) / prev)
    assert props[CONCEPT_CHANGE_BASELINE.value] == pytest.approx(cur - base)
    assert props[CONCEPT_LABEL_PREVIOUS.value] == CHANGE_LABEL_CODES[label].value
    assert props[CONCEPT_LABEL_BASELINE.value] == CHANGE_LABEL_CODES[label_base].value
    if key in P.MDC:
        assert props[CONCEPT_MDC_PREVIOUS.value] == pytest.approx(P.MDC[key])
    else:
        assert CONCEPT_MDC_PREVIOUS.value not in props


def test_sr_groups_keep_the_patient_tracking_uids(fair: dict[str, Any]) -> None:
    groups = _groups(fair["sr"])
    for region in ("cheek_left", "nose", "face"):
        g = groups[f"frontal/{region}"]
        assert g.tracking_uid == tracking_uid("DRMN-0001", "TESTHOSP", "frontal", region)


def _compared_item(path: str, identifier: str) -> Any:
    """The raw "Compared with earlier visits" CODE item of the group *identifier* (highdicom's
    get_qualitative_evaluations drops the children, so the dataset is walked with pydicom)."""
    ds = dcmread(path)
    (measurements,) = [
        i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "126010"
    ]
    for group in measurements.ContentSequence:
        texts = {
            c.ConceptNameCodeSequence[0].CodeValue: c.get("TextValue")
            for c in group.ContentSequence
        }
        if texts.get("112039") != identifier:
            continue
        (item,) = [
            c
            for c in group.ContentSequence
            if c.ConceptNameCodeSequence[0].CodeValue == CONCEPT_COMPARED.value
        ]
        return item
    raise AssertionError(f"no group {identifier}")


def test_sr_references_previous_and_baseline_and_lists_excluded(fair: dict[str, Any]) -> None:
    ds = dcmread(fair["sr"])
    item = _compared_item(fair["sr"], "frontal/face")
    assert item.ConceptCodeSequence[0].CodeValue == "373066001"  # Yes
    props = _props(item)
    assert props[CONCEPT_PREVIOUS_STUDY.value] == P.PREVIOUS_STUDY
    assert props[CONCEPT_PREVIOUS_SR.value] == P.PREVIOUS_SR
    assert props[CONCEPT_PREVIOUS_DATE.value] == "20240601"
    assert props[CONCEPT_BASELINE_STUDY.value] == P.BASELINE_STUDY
    assert props[CONCEPT_BASELINE_SR.value] == P.BASELINE_SR
    excluded = props[CONCEPT_EXCLUDED_PRIOR.value]
    assert "2023-03-05" in excluded and "version 0.0.9" in excluded
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"


def test_sr_not_comparable_says_why(not_compared: dict[str, Any]) -> None:
    item = _compared_item(not_compared["sr"], "frontal/face")
    assert item.ConceptCodeSequence[0].CodeValue == "373067005"  # No
    assert "algorithm version(s) 0.0.9" in _props(item)["121106"]
    group = _groups(not_compared["sr"])["frontal/face"]
    (m,) = group.get_measurements(name=key_code("pigmentation.ita_deg"))
    assert "ContentSequence" not in m[0] or not any(
        c.ValueType == "NUM" for c in m[0].ContentSequence
    )


def test_without_progress_the_sr_content_is_unchanged(tmp_path: Path) -> None:
    plain = write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path / "a")
    nones = write_outputs(
        fakes.analysis_result(), fakes.sources(), tmp_path / "b", progress=[None, None]
    )
    a, b = dcmread(plain["sr"]), dcmread(nones["sr"])
    assert a.ContentSequence == b.ContentSequence
    assert a.SOPInstanceUID == b.SOPInstanceUID
    assert Path(plain["pdf"]).read_bytes() == Path(nones["pdf"]).read_bytes()


def test_progress_length_must_match(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="progress"):
        write_outputs(fakes.analysis_result(), fakes.sources(), tmp_path, progress=[None])


# --------------------------------------------------------------------------- PDF


def _pdf_text(path: str) -> str:
    exe = require_binary("pdftotext")
    proc = subprocess.run([exe, "-layout", path, "-"], capture_output=True, check=True)
    return proc.stdout.decode()


def test_pdf_has_the_since_last_visit_page_with_verdicts(fair: dict[str, Any]) -> None:
    text = _pdf_text(fair["pdf"])
    assert "Since last visit" in text
    assert "previous visit of 2024-06-01" in text and "baseline visit of 2024-01-10" in text
    assert "Trend per concern over all visits" in text
    # the table: one row per change with its verdict
    lines = [" ".join(line.split()) for line in text.splitlines()]
    row = next(x for x in lines if x.startswith("cheek left Pore count"))
    assert "-8" in row and "-11.4 %" in row and "improved" in row
    row = next(x for x in lines if x.startswith("cheek left Erythema index"))
    assert "+5" in row and "worsened" in row and "stable" in row
    row = next(x for x in lines if x.startswith("forehead Brown spot count"))
    assert "-0.50" in row and "improved" not in row and "stable" in row
    assert "never called an improvement" in " ".join(lines)
    assert "2023-03-05" in text and "version 0.0.9" in text  # excluded prior listed
    assert "NOT A FAIR COMPARISON" not in text
    assert "current - earlier" in text  # difference maps of the common maps


def test_pdf_unfair_pair_shows_reasons_and_no_difference_maps(unfair: dict[str, Any]) -> None:
    text = _pdf_text(unfair["pdf"])
    assert "NOT A FAIR COMPARISON" in text
    assert "alignment: residual correlation" in text
    assert "current - earlier" not in text


def test_pdf_not_comparable_shows_the_reason(not_compared: dict[str, Any]) -> None:
    text = " ".join(_pdf_text(not_compared["pdf"]).split())
    assert "Not compared: earlier results were made by algorithm version(s) 0.0.9" in text
    assert "The earlier photo is not available" in text


def test_before_after_of_a_12_megapixel_photo_is_done_at_drawing_size() -> None:
    big = _astronaut((3000, 4000))
    cmp = P.comparison()
    prior = PriorView(cmp, _shifted(big, 16, 12), fakes.image_result(0))
    ba = before_after(big, fakes.image_result(0), prior)
    assert ba is not None
    assert ba.current.shape == (900, 1200, 3) and ba.earlier.shape == (900, 1200, 3)
    assert ba.registration.valid.shape == (900, 1200)
    assert ba.registration.fair
    # earlier -> current undoes the (16, 12) px shift: (-4.8, -3.6) px at 0.3x drawing size
    assert ba.registration.shift == pytest.approx((-4.8, -3.6), abs=0.3)


def test_prior_view_checks_its_fields() -> None:
    with pytest.raises(TypeError, match="comparison"):
        PriorView("nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="earlier_photo"):
        PriorView(P.comparison(), np.zeros((4, 4), np.uint8))


# --------------------------------------------------------------------------- HL7


def _oru(progress: list[Comparison | None]) -> str:
    msg = build_oru(
        hl7_fakes.result(hl7_fakes.image()),
        hl7_fakes.study(),
        hl7_fakes.endpoint(),
        control_id="CTRL0002",
        sr_uid=None,
        seg_uids=(),
        pdf=None,
        observed_at=hl7_fakes.OBSERVED_AT,
        progress=progress,
    )
    reparsed = parse_message(msg.text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert Validator.validate(reparsed) is True
    return msg.text


def _obx(text: str) -> dict[tuple[str, str], list[str]]:
    """(OBX-3.1, OBX-4) -> [OBX-2, OBX-5 first component, OBX-6.1] parsed by python-hl7."""
    msg = hl7.parse(text)
    out: dict[tuple[str, str], list[str]] = {}
    for seg in msg:
        if str(seg[0]) != "OBX":
            continue
        first = [str(seg[n]).split("^")[0] for n in (3, 5, 6)]
        out[(first[0], str(seg[4]))] = [str(seg[2]), first[1], first[2]]
    return out


def test_oru_carries_change_rows_and_passes_strict_validation() -> None:
    rows = _obx(_oru([P.comparison()]))
    assert rows[("progress.compared", "1")][1] == "Y"
    assert rows[("progress.previous_study", "1")][1] == P.PREVIOUS_STUDY
    assert rows[("progress.previous_date", "1")][:2] == ["DT", "20240601"]
    assert rows[("progress.baseline_date", "1")][1] == "20240110"
    # the image-level region: every value and both verdicts
    ita = "pigmentation.ita_deg"
    assert float(rows[(f"{ita}.change", "1.face")][1]) == pytest.approx(2.2)
    assert rows[(f"{ita}.change", "1.face")][2] == "deg"
    assert float(rows[(f"{ita}.change_pct", "1.face")][1]) == pytest.approx(220 / 36, abs=1e-5)
    assert float(rows[(f"{ita}.change_mdc", "1.face")][1]) == pytest.approx(1.0)
    assert rows[(f"{ita}.change_label", "1.face")][:2] == ["CE", "improved"]
    assert float(rows[(f"{ita}.change_baseline", "1.face")][1]) == pytest.approx(0.2)
    assert rows[(f"{ita}.change_baseline_label", "1.face")][1] == "stable"
    # zones: only improved / worsened changes, delta and verdict
    assert rows[("pores.count.change_label", "1.cheek_left")][1] == "improved"
    assert float(rows[("pores.count.change", "1.cheek_left")][1]) == -8
    assert rows[("redness.erythema_index.change_label", "1.cheek_left")][1] == "worsened"
    assert ("pigmentation.melanin_index.change_label", "1.nose") not in rows  # stable
    assert ("pigmentation.spots.count.change_label", "1.forehead") not in rows  # stable
    excluded = [v for (code, _), v in rows.items() if code == "progress.excluded"]
    assert len(excluded) == 1


def test_oru_not_comparable_sends_the_reason() -> None:
    rows = _obx(_oru([P.not_comparable()]))
    assert rows[("progress.compared", "1")][1] == "N"
    assert "0.0.9" in rows[("progress.reason", "1")][1]
    assert not any(code.endswith(".change") for code, _ in rows)


def test_oru_without_progress_is_unchanged() -> None:
    base = _oru([])
    assert _oru([None]) == base
    assert "progress." not in base and ".change" not in base
