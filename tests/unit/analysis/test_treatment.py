"""Treatment-planning rules: a study meeting a rule's conditions gets its topic, one that does
not, does not (measurements, zones, scores, changes, quality; any/all; ranking)."""

from __future__ import annotations

import pytest

from analysis.treatment import NOTE, Condition, Priority, Rule, evaluate, zone_scores
from tests.unit.integrations import fakes
from tests.unit.integrations import progress_fakes as P

# fakes: erythema index per zone forehead 12.5, periorbital_right 13.0, periorbital_left 13.5,
# nose 14.0, cheek_right 14.5, cheek_left 15.0, chin 15.5; scores pigmentation 10, redness 20,
# pores 30, wrinkles 40, texture 50, oil 60; the second photo is blurred (unusable).


def _rule(
    *when: Condition, rid: str = "r1", concern: str = "redness", prio: str = "MEDIUM"
) -> Rule:
    return Rule(rid, concern, f"topic of {rid}", Priority[prio], tuple(when))


def _fired(*rules: Rule, comparisons=None, with_unusable: bool = True) -> dict[str, list]:
    support = evaluate(rules, fakes.analysis_result(with_unusable=with_unusable), comparisons)
    return {t.rule: list(t.triggers) for t in support.topics}


def test_measurement_in_a_zone() -> None:
    met = _rule(Condition(measurement="redness.erythema_index", zones=("cheek_left",), above=14.9))
    missed = _rule(
        Condition(measurement="redness.erythema_index", zones=("cheek_left",), above=15.1),
        rid="r2",
    )
    fired = _fired(met, missed)
    assert list(fired) == ["r1"]
    (trigger,) = fired["r1"]
    assert (trigger.region, trigger.key, trigger.value) == (
        "cheek_left",
        "redness.erythema_index",
        15.0,
    )
    assert trigger.image == 0  # the blurred photo never triggers a measurement rule


def test_any_zone_or_all_zones() -> None:
    zones = ("forehead", "cheek_left")
    anyz = _rule(Condition(measurement="redness.erythema_index", zones=zones, above=13.0))
    allz = _rule(
        Condition(measurement="redness.erythema_index", zones=zones, above=13.0, match="all"),
        rid="r2",
    )
    below = _rule(
        Condition(measurement="redness.erythema_index", zones=zones, below=13.0, match="all"),
        rid="r3",
    )
    fired = _fired(anyz, allz, below)
    assert set(fired) == {"r1"}
    assert [t.region for t in fired["r1"]] == ["cheek_left"]


def test_scores_of_the_photo_and_of_zones() -> None:
    oil = _rule(Condition(score="oil", above=55), rid="oil", concern="oil")
    red = _rule(Condition(score="redness", above=25), rid="red")
    per_zone = zone_scores(fakes.image_result(0))
    chin = per_zone["chin"]["pigmentation"]
    zone_met = _rule(
        Condition(score="pigmentation", zones=("chin",), above=chin - 1),
        rid="zone",
        concern="pigmentation",
    )
    zone_missed = _rule(
        Condition(score="pigmentation", zones=("chin",), above=chin + 1),
        rid="zone2",
        concern="pigmentation",
    )
    fired = _fired(oil, red, zone_met, zone_missed)
    assert set(fired) == {"oil", "zone"}
    assert fired["oil"][0].value == 60.0 and fired["oil"][0].region == "face"
    assert fired["zone"][0].value == pytest.approx(chin)


def test_every_condition_must_hold() -> None:
    both = _rule(
        Condition(score="oil", above=55),
        Condition(measurement="redness.erythema_index", zones=("chin",), above=15.0),
    )
    one = _rule(
        Condition(score="oil", above=55),
        Condition(measurement="redness.erythema_index", zones=("chin",), above=16.0),
        rid="r2",
    )
    fired = _fired(both, one)
    assert set(fired) == {"r1"}
    assert len(fired["r1"]) == 2  # one trigger per condition


def test_change_since_an_earlier_visit() -> None:
    worse = _rule(
        Condition(change="redness.erythema_index", zones=("cheek_left",), verdict="worsened")
    )
    worse_base = _rule(
        Condition(
            change="redness.erythema_index",
            zones=("cheek_left",),
            verdict="worsened",
            since="baseline",
        ),
        rid="r2",
    )
    bigger = _rule(
        Condition(change="redness.erythema_index", zones=("cheek_left",), above=4.0), rid="r3"
    )
    comparisons = [P.comparison(), None]
    fired = _fired(worse, worse_base, bigger, comparisons=comparisons)
    assert set(fired) == {"r1", "r3"}  # vs baseline the change is inside the MDC: stable
    assert fired["r1"][0].value == pytest.approx(5.0)
    # no earlier visit, or one that cannot be compared: a change rule never fires
    assert _fired(worse) == {}
    assert _fired(worse, comparisons=[P.not_comparable(), None]) == {}


def test_quality() -> None:
    retake = _rule(Condition(quality="unusable"), concern="quality")
    cast = _rule(Condition(quality="colour_cast"), rid="r2", concern="quality")
    glare = _rule(Condition(quality="glare"), rid="r3", concern="quality")
    fired = _fired(retake, cast, glare)
    assert set(fired) == {"r1", "r2"}
    assert fired["r1"][0].image == 1 and fired["r1"][0].value == "blur"
    assert "r1" not in _fired(retake, with_unusable=False)


def test_concerns_ranked_by_priority() -> None:
    rules = [
        _rule(Condition(score="oil", above=1), rid="oil-low", concern="oil", prio="LOW"),
        _rule(Condition(score="redness", above=1), rid="red-med", prio="MEDIUM"),
        _rule(Condition(score="pores", above=1), rid="pores-high", concern="pores", prio="HIGH"),
        _rule(Condition(score="redness", above=1), rid="red-high", prio="HIGH"),
    ]
    support = evaluate(rules, fakes.analysis_result())
    assert [c.concern for c in support.concerns] == ["redness", "pores", "oil"]
    assert [t.rule for t in support.concerns[0].topics] == ["red-high", "red-med"]
    doc = support.to_json()
    assert doc["note"] == NOTE and "not a diagnosis" in NOTE and "not a prescription" in NOTE
    assert doc["rules_evaluated"] == 4
    assert doc["concerns"][0]["rules"] == ["red-high", "red-med"]
    assert doc["concerns"][0]["priority"] == "high"


def test_conditions_check_themselves() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Condition(score="oil", measurement="pores.count", above=1)
    with pytest.raises(ValueError, match="above or below"):
        Condition(score="oil")
    with pytest.raises(ValueError, match="verdict"):
        Condition(change="pores.count")
    with pytest.raises(ValueError, match="at least one"):
        Rule("x", "oil", "t", Priority.LOW, ())
