"""The clinic's rules file loaded for the node: validated against the analysis vocabulary and
turned into :class:`analysis.treatment.Rule` objects.

``config`` imports no analysis code (DESIGN.md §1), so the names a rules file may use (keys,
concerns, regions) are passed in from here, and the YAML models are mapped to the pure rule
types here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from analysis.keys import CONCERNS, KEYS, NOT_ASSESSED
from analysis.treatment import Condition, Priority, Rule
from analysis.types import Region
from config.rules import ConditionModel, RuleModel, Vocabulary, load_rules

__all__ = ["ClinicRules", "VOCABULARY", "load_clinic_rules"]

#: What a rules file may name.
VOCABULARY = Vocabulary(
    keys=frozenset(k.key for k in KEYS),
    concerns=frozenset({*CONCERNS, *NOT_ASSESSED, "quality"}),
    score_concerns=frozenset(CONCERNS),
    regions=frozenset(r.value for r in Region),
)


@dataclass(frozen=True, slots=True)
class ClinicRules:
    """A validated rules file: its name (echoed in the outputs) and its rules."""

    name: str
    rules: tuple[Rule, ...]


def _condition(c: ConditionModel) -> Condition:
    return Condition(
        measurement=c.measurement,
        score=c.score,
        change=c.change,
        quality=c.quality,
        zones=c.regions,
        above=c.above,
        below=c.below,
        verdict=c.verdict,
        since=c.since,
        match=c.match,
    )


def _rule(r: RuleModel) -> Rule:
    return Rule(
        id=r.id,
        concern=r.concern,
        topic=r.topic,
        priority=Priority[r.priority.upper()],
        when=tuple(_condition(c) for c in r.when),
    )


def load_clinic_rules(path: str | os.PathLike[str]) -> ClinicRules:
    """Load, validate and convert the rules file at *path*.

    Raises
    ------
    config.settings.ConfigError
        When the file is unreadable or invalid (the message names the rule and the field).
    """
    data = load_rules(path, VOCABULARY)
    return ClinicRules(data.name, tuple(_rule(r) for r in data.rules))
