from __future__ import annotations

import re

import pytest

from integrations.uids import OutputUids, derive_uid, tracking_uid

UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def test_derived_uid_is_valid_and_deterministic() -> None:
    a = derive_uid("instance", "sr", "1.2.3")
    assert a == derive_uid("instance", "sr", "1.2.3")
    assert a.startswith("2.25.")
    assert UID_RE.match(a)
    assert len(a) <= 64


def test_parts_are_not_ambiguous() -> None:
    assert derive_uid("ab", "c") != derive_uid("a", "bc")
    assert derive_uid("a") != derive_uid("a", "")


def test_derive_uid_needs_parts() -> None:
    with pytest.raises(ValueError, match="parts"):
        derive_uid()


def test_output_uids_do_not_depend_on_source_order() -> None:
    u1 = OutputUids.of(["1.2.3", "1.2.4"], "dermnode", "0.1.0")
    u2 = OutputUids.of(["1.2.4", "1.2.3"], "dermnode", "0.1.0")
    assert u1.instance("sr") == u2.instance("sr")
    assert u1.series("seg") == u2.series("seg")


def test_roles_sources_versions_give_different_uids() -> None:
    u = OutputUids.of(["1.2.3", "1.2.4"], "dermnode", "0.1.0")
    uids = {
        u.instance("sr"),
        u.instance("pdf"),
        u.instance("seg", "1.2.3"),
        u.instance("seg", "1.2.4"),
        u.series("sr"),
        u.series("seg"),
        OutputUids.of(["1.2.3", "1.2.4"], "dermnode", "0.2.0").instance("sr"),
        OutputUids.of(["1.2.3", "1.2.4"], "dermnode", "0.1.0", 2).instance("sr"),
        OutputUids.of(["1.2.3"], "dermnode", "0.1.0").instance("sr"),
    }
    assert len(uids) == 9


def test_instance_for_unknown_source_is_refused() -> None:
    u = OutputUids.of(["1.2.3"], "dermnode", "0.1.0")
    with pytest.raises(ValueError, match="source_uid"):
        u.instance("seg", "9.9.9")


@pytest.mark.parametrize("bad", [[], [""]])
def test_output_uids_need_sources(bad: list[str]) -> None:
    with pytest.raises(ValueError, match="source_uids"):
        OutputUids.of(bad, "dermnode", "0.1.0")


def test_study_version_must_be_positive() -> None:
    with pytest.raises(ValueError, match="study_version"):
        OutputUids.of(["1.2.3"], "dermnode", "0.1.0", 0)


def test_tracking_uid_stable_per_patient_view_zone() -> None:
    a = tracking_uid("P1", "HOSP", "frontal", "cheek_left", study_uid="1.1")
    assert a == tracking_uid("P1", "HOSP", "frontal", "cheek_left", study_uid="2.2")
    others = {
        tracking_uid("P2", "HOSP", "frontal", "cheek_left"),
        tracking_uid("P1", "OTHER", "frontal", "cheek_left"),
        tracking_uid("P1", "HOSP", "left", "cheek_left"),
        tracking_uid("P1", "HOSP", "frontal", "cheek_right"),
    }
    assert a not in others and len(others) == 4


def test_tracking_uid_without_patient_id_falls_back_to_study() -> None:
    a = tracking_uid("", "", "frontal", "nose", study_uid="1.1")
    assert a != tracking_uid("", "", "frontal", "nose", study_uid="1.2")
    with pytest.raises(ValueError, match="study_uid"):
        tracking_uid("", "", "frontal", "nose")
