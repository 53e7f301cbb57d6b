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
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config.settings import ConfigError

__all__ = ["ConditionModel", "RuleModel", "RulesFile", "Vocabulary", "load_rules"]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The names a rules file may use, given by the caller (``config`` imports no analysis
    code; :mod:`dicom_node.treatment` passes the keys, concerns and regions of
    :mod:`analysis`). An empty set accepts any name."""

    keys: frozenset[str] = frozenset()
    concerns: frozenset[str] = frozenset()
    score_concerns: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()


def _vocab(info: ValidationInfo) -> Vocabulary:
    ctx = info.context
    v = ctx.get("vocabulary") if isinstance(ctx, dict) else None
    return v if isinstance(v, Vocabulary) else Vocabulary()


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
    def _key(cls, v: str | None, info: ValidationInfo) -> str | None:
        keys = _vocab(info).keys
        if v is not None and keys and v not in keys:
            raise ValueError(f"unknown measurement key {v!r} (see docs/methods/treatment.md)")
        return v

    @field_validator("score")
    @classmethod
    def _concern(cls, v: str | None, info: ValidationInfo) -> str | None:
        known = _vocab(info).score_concerns
        if v is not None and known and v not in known:
            raise ValueError(f"unknown concern {v!r}; one of {', '.join(sorted(known))}")
        return v

    @field_validator("quality")
    @classmethod
    def _quality(cls, v: str | None) -> str | None:
        if v is not None and v not in _QUALITY:
            raise ValueError(f"unknown quality test {v!r}; one of {', '.join(sorted(_QUALITY))}")
        return v

    @field_validator("zones")
    @classmethod
    def _zones(cls, v: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        regions = _vocab(info).regions
        bad = [z for z in v if regions and z not in regions]
        if bad:
            raise ValueError(f"unknown zone(s) {', '.join(bad)}")
        return v

    @field_validator("zone")
    @classmethod
    def _zone(cls, v: str | None, info: ValidationInfo) -> str | None:
        regions = _vocab(info).regions
        if v is not None and regions and v not in regions:
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

    @property
    def regions(self) -> tuple[str, ...]:
        """The zones (``zone`` or ``zones``)."""
        return (self.zone,) if self.zone is not None else self.zones


class RuleModel(_Model):
    """One rule: when every condition holds, the topic is raised for the concern."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    concern: str
    priority: Literal["high", "medium", "low"] = "medium"
    topic: Annotated[str, Field(min_length=1, max_length=300)]
    when: Annotated[tuple[ConditionModel, ...], Field(min_length=1)]

    @field_validator("concern")
    @classmethod
    def _concern(cls, v: str, info: ValidationInfo) -> str:
        known = _vocab(info).concerns
        if known and v not in known:
            raise ValueError(f"unknown concern {v!r}; one of {', '.join(sorted(known))}")
        return v


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


def load_rules(path: str | os.PathLike[str], vocabulary: Vocabulary | None = None) -> RulesFile:
    """Load and validate a rules file.

    Parameters
    ----------
    path
        The YAML file.
    vocabulary
        The measurement keys, concerns and regions it may name (default: any name).

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
        return RulesFile.model_validate(data, context={"vocabulary": vocabulary or Vocabulary()})
    except ValidationError as exc:
        raise ConfigError(_format(str(file), data, exc)) from exc
