"""The clinic's treatment-planning rules file (YAML), validated like the configuration.

A rules file is the clinic's own: clinicians write which measured findings should raise which
topic in the consultation. DermNode only evaluates it (:mod:`analysis.treatment`); a topic is
something to discuss, never a diagnosis or a prescription. ``config/examples/rules.yaml`` shows
the format; its rules are examples, not recommendations.

Format::

    version: 1
    name: "Clinic rules 2025-01"      # echoed in the outputs (optional)
    rules:
      - id: pigment-cheeks            # unique; [A-Za-z0-9_.-]
        concern: pigmentation         # a concern of analysis.keys.CONCERNS (or "quality")
        priority: high                # high | medium | low
        topic: "Pigment: discuss laser toning or topical options"
        when:                         # every condition must hold
          - measurement: pigmentation.spots.area_pct
            zones: [cheek_left, cheek_right]
            above: 2.0
          - score: pigmentation       # the photo's score (no zones) or each zone's
            above: 40
          - change: redness.erythema_index   # since an earlier visit (MDC-gated verdict)
            verdict: worsened         # improved | worsened | stable
            since: previous           # previous | baseline
          - quality: unusable         # or a quality issue code: blur, overexposed, ...

Errors name the rule (by id, else by position) and the field:
``rules.yaml: rule 'pigment-cheeks' (rules[0]) when[1].above: Input should be a valid number``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from analysis.keys import CONCERNS, KEYS, NOT_ASSESSED
from analysis.progress import ChangeLabel
from analysis.treatment import Condition, Priority, Rule
from analysis.types import Region
from config.settings import ConfigError

__all__ = ["ConditionModel", "RuleModel", "RulesFile", "load_rules"]

_KEYS = {k.key for k in KEYS}
_CONCERNS = {*CONCERNS, *NOT_ASSESSED, "quality"}
_REGIONS = {r.value for r in Region}
_QUALITY = {
    "unusable",
    "blur",
    "overexposed",
    "underexposed",
    "no_face",
    "low_resolution",
    "colour_cast",
    "glare",
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConditionModel(_Model):
    """One condition of a rule (exactly one of measurement, score, change, quality)."""

    measurement: str | None = None
    score: str | None = None
    change: str | None = None
    quality: str | None = None
    zones: tuple[str, ...] = ()
    zone: str | None = None  # shorthand for one zone
    above: float | None = None
    below: float | None = None
    verdict: Literal["improved", "worsened", "stable"] | None = None
    since: Literal["previous", "baseline"] = "previous"
    match: Literal["any", "all"] = "any"

    @field_validator("measurement", "change")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is not None and v not in _KEYS:
            raise ValueError(f"unknown measurement key {v!r} (see analysis.keys)")
        return v

    @field_validator("score")
    @classmethod
    def _concern(cls, v: str | None) -> str | None:
        if v is not None and v not in CONCERNS:
            raise ValueError(f"unknown concern {v!r}; one of {', '.join(CONCERNS)}")
        return v

    @field_validator("quality")
    @classmethod
    def _quality(cls, v: str | None) -> str | None:
        if v is not None and v not in _QUALITY:
            raise ValueError(f"unknown quality test {v!r}; one of {', '.join(sorted(_QUALITY))}")
        return v

    @field_validator("zones")
    @classmethod
    def _zones(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [z for z in v if z not in _REGIONS]
        if bad:
            raise ValueError(f"unknown zone(s) {', '.join(bad)}")
        return v

    @field_validator("zone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None and v not in _REGIONS:
            raise ValueError(f"unknown zone {v!r}")
        return v

    @model_validator(mode="after")
    def _one_test(self) -> ConditionModel:
        kinds = [k for k in ("measurement", "score", "change", "quality") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("set exactly one of measurement, score, change, quality")
        if kinds[0] in ("measurement", "score") and self.above is None and self.below is None:
            raise ValueError(f"a {kinds[0]} condition needs above or below")
        if (
            kinds[0] == "change"
            and self.verdict is None
            and self.above is None
            and (self.below is None)
        ):
            raise ValueError("a change condition needs verdict, above or below")
        if self.zone is not None and self.zones:
            raise ValueError("set zone or zones, not both")
        return self

    def to_condition(self) -> Condition:
        """The :class:`analysis.treatment.Condition` of this entry."""
        zones = (self.zone,) if self.zone is not None else self.zones
        return Condition(
            measurement=self.measurement,
            score=self.score,
            change=self.change,
            quality=self.quality,
            zones=zones,
            above=self.above,
            below=self.below,
            verdict=ChangeLabel(self.verdict).value if self.verdict else None,
            since=self.since,
            match=self.match,
        )


class RuleModel(_Model):
    """One rule: when every condition holds, the topic is raised for the concern."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    concern: str
    priority: Literal["high", "medium", "low"] = "medium"
    topic: Annotated[str, Field(min_length=1, max_length=300)]
    when: Annotated[tuple[ConditionModel, ...], Field(min_length=1)]

    @field_validator("concern")
    @classmethod
    def _concern(cls, v: str) -> str:
        if v not in _CONCERNS:
            raise ValueError(f"unknown concern {v!r}; one of {', '.join(sorted(_CONCERNS))}")
        return v

    def to_rule(self) -> Rule:
        """The :class:`analysis.treatment.Rule` of this entry."""
        return Rule(
            id=self.id,
            concern=self.concern,
            topic=self.topic,
            priority=Priority[self.priority.upper()],
            when=tuple(c.to_condition() for c in self.when),
        )


class RulesFile(_Model):
    """A whole rules file."""

    version: Literal[1] = 1
    name: str = ""
    rules: tuple[RuleModel, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> RulesFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self

    def to_rules(self) -> tuple[Rule, ...]:
        """The rules, ready for :func:`analysis.treatment.evaluate`."""
        return tuple(r.to_rule() for r in self.rules)


def _rule_label(data: Any, index: int) -> str:
    try:
        rule_id = data["rules"][index]["id"]
    except (KeyError, IndexError, TypeError):
        rule_id = None
    return f"rule {rule_id!r} (rules[{index}])" if isinstance(rule_id, str) else f"rules[{index}]"


def _format(source: str, data: Any, exc: ValidationError) -> str:
    lines = [f"{source}: {exc.error_count()} error(s) in the rules"]
    for err in exc.errors():
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            where = _rule_label(data, loc[1])
            rest = loc[2:]
            parts: list[str] = []
            for p in rest:
                if isinstance(p, int) and parts:
                    parts[-1] += f"[{p}]"
                else:
                    parts.append(str(p))
            field = ".".join(parts) or "(the rule)"
            lines.append(f"  {where} {field}: {err['msg']}")
        else:
            loc_text = ".".join(str(p) for p in loc) or "(top level)"
            lines.append(f"  {loc_text}: {err['msg']}")
    return "\n".join(lines)


def load_rules(path: str | os.PathLike[str]) -> RulesFile:
    """Load and validate a rules file.

    Raises
    ------
    config.settings.ConfigError
        The file is missing, not YAML, or invalid; the message names the file, each rule (by
        id) and each field.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read rules: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a mapping with a 'rules' list")
    try:
        return RulesFile(**data)
    except ValidationError as exc:
        raise ConfigError(_format(str(file), data, exc)) from exc
