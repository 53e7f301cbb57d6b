from __future__ import annotations

import pytest
from pydicom.sr._cid_dict import cid_concepts
from pydicom.sr._concepts_dict import concepts

from analysis.keys import KEYS, NOT_ASSESSED
from analysis.types import Region
from integrations.codes import (
    KEY_CODES,
    NOT_ASSESSED_CODES,
    ZONE_SITES,
    all_drmn_codes,
    key_code,
    ucum,
)


def test_every_key_and_not_assessed_concern_has_an_explicit_code() -> None:
    assert {k.key for k in KEYS} <= set(KEY_CODES)
    assert set(NOT_ASSESSED) <= set(NOT_ASSESSED_CODES)


def test_99drmn_codes_are_unique_and_fit_sh() -> None:
    values = [c.value for c in all_drmn_codes()]
    assert len(values) == len(set(values))
    assert all(len(v) <= 16 for v in values)
    assert {c.scheme_designator for c in all_drmn_codes()} == {"99DRMN"}


def test_released_codes_do_not_change() -> None:
    assert key_code("pores.count").value == "POR-N"
    assert key_code("pigmentation.ita_deg").value == "PIG-ITA"
    assert key_code("score.pigmentation").value == "SCORE-PIG"


def test_unknown_key_gets_a_stable_derived_code() -> None:
    a = key_code("future.key")
    assert a.value == key_code("future.key").value and a.value.startswith("K-")
    with pytest.raises(ValueError, match="concern"):
        key_code("score.nonsense")


def _cid4029_sct() -> set[str]:
    return {code for name in cid_concepts[4029]["SCT"] for code in concepts["SCT"][name]}


def test_zone_sites_are_in_cid_4029_and_cover_every_region() -> None:
    allowed = _cid4029_sct()
    assert {str(r) for r in Region} == set(ZONE_SITES)
    for region, site in ZONE_SITES.items():
        assert site.site.scheme_designator == "SCT"
        assert site.site.value in allowed, region
        if site.laterality is not None:
            assert site.laterality.value in {"7771000", "24028007"}


def test_every_key_unit_is_ucum_known() -> None:
    for k in KEYS:
        assert ucum(k.unit).scheme_designator == "UCUM"
        if k.unit_px:
            assert ucum(k.unit_px).value == k.unit_px
    with pytest.raises(ValueError, match="unit"):
        ucum("furlong")
