"""Jurisdiction rules: who must consent for a participant of a given age, country and trial type.

The rules are data, not code: ``consentkit/data/jurisdictions.yaml`` is a versioned,
effective-dated rule pack, one row per country and trial type, each cell with its own sources
and confidence (docs/regulatory-basis.md#jurisdiction-rule-pack), the "versioned,
effective-dated, source-linked" rule engine of docs/regulatory-basis.md#checklist-6. This module
validates the pack, applies a study's ethics-committee overrides and turns a birth date into
:class:`Requirements`: how many guardians sign, what the minor does, which forms are needed
and when the answer next changes (the competence-age scheduler,
docs/regulatory-basis.md#checklist-14).

Where the table says a cell is unknown (U) the decision falls back to the conservative
default: competence at 18, both guardians, assent from 7, the minor's refusal binding and
re-consent at competence. Nothing here touches a database or the clock: callers pass ``on``.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from importlib import resources
from typing import Any, Generic, TypeVar

import yaml

from consentkit.enums import (
    Confidence,
    FormKind,
    GuardianExceptionCode,
    GuardianRule,
    MinorRole,
    TrialType,
)
from consentkit.errors import ConfigurationError, InvalidDataError
from consentkit.policy.age import age_on, date_of_age

__all__ = [
    "AgeBand",
    "JurisdictionRule",
    "Requirements",
    "RoleStep",
    "RuleCell",
    "RuleOverride",
    "RulePack",
    "Transition",
    "TransitionReason",
    "decide_requirements",
    "load_rule_pack",
    "normalize_country",
    "parse_rule_pack",
    "supported_countries",
]

T = TypeVar("T")

#: Conservative defaults for cells the table marks U. 18 is the CTR "age of legal competence"
#: unless a source says otherwise (docs/regulatory-basis.md#jurisdiction-columns); both guardians
#: and assent from 7 are the strictest common readings of the table; a binding refusal and
#: re-consent at competence follow CTR Art 32(1)(c) and 32(3)
#: (docs/regulatory-basis.md#jurisdiction-defaults and docs/regulatory-basis.md#ctr-art-32).
DEFAULT_COMPETENCE_AGE = 18
DEFAULT_GUARDIAN_RULE = GuardianRule.BOTH
DEFAULT_ASSENT_AGE = 7
DEFAULT_MINOR_REFUSAL_BINDING = True
DEFAULT_RECONSENT_AT_COMPETENCE = True
#: Where the pack does not know which single-parent exceptions a country recognises, only the
#: two that follow from "the holders of parental authority" itself: a sole holder is all the
#: holders, and a deceased parent holds none (docs/regulatory-basis.md#guardian-exceptions).
DEFAULT_GUARDIAN_EXCEPTIONS = (
    GuardianExceptionCode.SOLE_PARENTAL_AUTHORITY,
    GuardianExceptionCode.OTHER_PARENT_DECEASED,
)

#: Age from which a participant deciding alone signs an adult form rather than a young-person
#: form: documents for 16- and 17-year-olds who consent alone (NL, IE, UK) are written for them.
ADULT_FORM_AGE = 18

#: The UK has four legal systems; the CTIMP rules are UK-wide but non-CTIMP rules differ in
#: Scotland (docs/regulatory-basis.md#uk-nations).
UK_NATIONS = ("GB-ENG", "GB-NIR", "GB-SCT", "GB-WLS")

#: The cells of a row, in pack order; these are also the fields an override may replace.
CELL_FIELDS = (
    "competence_age",
    "guardian_rule",
    "guardian_exceptions",
    "minor_roles",
    "minor_refusal_binding",
    "reconsent_at_competence",
    "gdpr_age",
)

_PACK_RESOURCE = "jurisdictions.yaml"
_ROW_KEYS = frozenset({"country", "trial_type", "effective_from", "effective_to", *CELL_FIELDS})
_CELL_KEYS = frozenset({"value", "confidence", "source", "note"})
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_CONFIDENCE_RANK = {Confidence.UNKNOWN: 0, Confidence.SECONDARY: 1, Confidence.VERIFIED: 2}
_FORM_ORDER = (
    FormKind.PARENTAL_CONSENT,
    FormKind.CHILD_ASSENT,
    FormKind.YOUNG_PERSON_CO_CONSENT,
    FormKind.YOUNG_PERSON_CONSENT,
    FormKind.ADULT_CONSENT,
    FormKind.INVESTIGATOR_DECLARATION,
)
#: Roles in which the minor's document is chosen by age band (the child's assent or
#: information document); a co-signing minor's document is the co-consent form.
_BANDED_ROLES = frozenset({MinorRole.INFORMED, MinorRole.ASSENT})


def _invalid(field: str, message: str) -> InvalidDataError:
    return InvalidDataError(message, details={"errors": {field: [message]}})


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class RuleCell(Generic[T]):
    """One cell of the jurisdiction table, carrying its own evidence.

    ``value`` is None exactly when ``confidence`` is U: the decision then uses the
    conservative default and says so.
    """

    value: T | None
    confidence: Confidence
    source: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True)
class RoleStep:
    """From ``from_age`` (until the next step or competence) the minor has ``role``.

    ``role`` None marks an age range the table leaves open; the conservative default
    roles fill it. ``confidence`` weakens the cell's confidence for this step alone: a
    source states the role but not the age it starts at (DE, FI: "a capable minor", no
    age) or not what it means (CZ "12 years - own consent"); the pack then keeps its
    conservative reading and the decision reports U from that age.
    """

    from_age: int
    role: MinorRole | None
    confidence: Confidence | None = None


@dataclass(frozen=True)
class JurisdictionRule:
    """One effective-dated row of the rule pack: a country and trial type over a date range."""

    country: str
    trial_type: TrialType
    effective_from: date
    effective_to: date | None
    competence_age: RuleCell[int]
    guardian_rule: RuleCell[GuardianRule]
    guardian_exceptions: RuleCell[tuple[GuardianExceptionCode, ...]]
    minor_roles: RuleCell[tuple[RoleStep, ...]]
    minor_refusal_binding: RuleCell[bool]
    reconsent_at_competence: RuleCell[bool]
    gdpr_age: RuleCell[int]

    @property
    def label(self) -> str:
        """Name the row in messages, as a reviewer would look it up in the YAML."""
        return f"{self.country} {self.trial_type.value} from {self.effective_from.isoformat()}"

    def applies_on(self, on: date) -> bool:
        """Tell whether the row is in force on ``on`` (both ends inclusive)."""
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def cell(self, name: str) -> RuleCell[Any]:
        """Return the cell called ``name`` (one of :data:`CELL_FIELDS`)."""
        if name not in CELL_FIELDS:
            raise _invalid("field", f"unknown rule field {name!r}")
        cell: RuleCell[Any] = getattr(self, name)
        return cell


@dataclass(frozen=True)
class AgeBand:
    """A study's assent/information document band, e.g. pictorial for 6-9-year-olds.

    Bands are per study and country (docs/regulatory-basis.md#checklist-2 and item 16);
    the pack ships defaults (docs/regulatory-basis.md#age-bands). ``max_age`` is inclusive.

    Raises:
        InvalidDataError: on an empty id, a negative age or ``min_age > max_age``.

    """

    id: str
    min_age: int
    max_age: int
    style: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise _invalid("age_bands", "an age band needs a non-empty id")
        for name in ("min_age", "max_age"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _invalid(
                    "age_bands", f"age band {self.id!r}: {name} must be a non-negative integer"
                )
        if self.min_age > self.max_age:
            raise _invalid(
                "age_bands",
                f"age band {self.id!r}: min_age {self.min_age} is above max_age {self.max_age}",
            )
        if self.style is not None and not isinstance(self.style, str):
            raise _invalid("age_bands", f"age band {self.id!r}: style must be a string")

    def contains(self, age: int) -> bool:
        """Tell whether ``age`` falls in the band."""
        return self.min_age <= age <= self.max_age


@dataclass(frozen=True)
class RulePack:
    """The whole validated rule pack; its version is snapshotted with each decision."""

    version: str
    last_reviewed: date
    rules: tuple[JurisdictionRule, ...]
    default_age_bands: tuple[AgeBand, ...]

    def countries(self) -> list[str]:
        """Return the sorted country codes the pack has rows for."""
        return sorted({rule.country for rule in self.rules})


@dataclass(frozen=True)
class RuleOverride:
    """An ethics committee's decision replacing one cell of the pack for a study.

    E.g. a Swiss minimal-risk study (competence 14, docs/regulatory-basis.md#country-ch)
    or a UK committee requiring written assent from 7. The override is reported in
    the result and the cell becomes confidence V with ``reference`` as its source.
    ``trial_type`` None means the override applies to every trial type.

    Raises:
        InvalidDataError: for an unknown field, a value the field cannot take, a
            missing reason or reference, or a malformed country code.

    """

    country: str
    field: str
    value: Any
    reason: str
    reference: str
    trial_type: TrialType | None = None

    def __post_init__(self) -> None:
        # Frozen, so the normalised forms are written with object.__setattr__.
        object.__setattr__(self, "country", _canonical_country(self.country))
        if self.field not in CELL_FIELDS:
            raise _invalid(
                "overrides",
                f"cannot override unknown field {self.field!r}; fields: {', '.join(CELL_FIELDS)}",
            )
        where = f"override of {self.country} {self.field}"
        if self.value is None:
            raise _invalid("overrides", f"{where}: value must not be null")
        try:
            value = _parse_value(self.field, self.value, where)
        except InvalidDataError as exc:
            raise _invalid("overrides", exc.message) from None
        if self.field == "minor_roles" and any(step.role is None for step in value):
            raise _invalid("overrides", f"{where}: every age range needs a definite role")
        object.__setattr__(self, "value", value)
        for name in ("reason", "reference"):
            text = getattr(self, name)
            if not isinstance(text, str) or not text.strip():
                raise _invalid(
                    "overrides", f"{where}: {name} is required (an override must be justified)"
                )
        if self.trial_type is not None:
            object.__setattr__(self, "trial_type", _coerce_trial_type(self.trial_type))

    def applies_to(self, country: str, trial_type: TrialType) -> bool:
        """Tell whether this override concerns the given country and trial type."""
        return self.country == country and self.trial_type in (None, trial_type)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict, for the decision snapshot."""
        return {
            "country": self.country,
            "trial_type": None if self.trial_type is None else self.trial_type.value,
            "field": self.field,
            "value": _jsonable(self.value),
            "reason": self.reason,
            "reference": self.reference,
        }


class TransitionReason(StrEnum):
    """Why the requirements change on a future date."""

    AGE_BAND = "age-band"
    MINOR_ROLE = "minor-role"
    COMPETENCE_AGE = "competence-age"


@dataclass(frozen=True)
class Transition:
    """The next date on which the requirements change, and why."""

    date: date
    reason: TransitionReason

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-able dict."""
        return {"date": self.date.isoformat(), "reason": self.reason.value}


@dataclass(frozen=True)
class Requirements:
    """What consent a participant needs on one date, with the evidence behind it.

    ``guardians_required`` counts guardian signatures: 2 for "both", 1 for "one" and
    for "one-with-agreement" (plus the other guardian's documented agreement, flagged
    by ``other_guardian_agreement_required``), 0 once the participant consents alone.
    ``confidence`` is the weakest confidence of the cells the decision used and
    ``sources`` their deduplicated URLs (or override references).
    """

    country: str
    trial_type: TrialType
    rule_trial_type: TrialType
    on: date
    age: int
    competence_age: int
    competence_date: date
    guardians_required: int
    guardian_rule: GuardianRule
    other_guardian_agreement_required: bool
    guardian_exceptions: tuple[GuardianExceptionCode, ...]
    guardian_exceptions_confidence: Confidence
    minor_role: MinorRole
    form_kinds: tuple[FormKind, ...]
    age_band: AgeBand | None
    next_transition: Transition | None
    sources: tuple[str, ...]
    confidence: Confidence
    rule_pack_version: str
    rule_effective_from: date
    overrides_applied: tuple[RuleOverride, ...]
    defaults_applied: tuple[str, ...]
    minor_refusal_binding: bool
    reconsent_at_competence: bool
    gdpr_age: int | None

    @property
    def is_minor(self) -> bool:
        """Tell whether the participant is below the competence age."""
        return self.age < self.competence_age

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (ISO dates, enum values), e.g. for the API or a snapshot."""
        return {
            "country": self.country,
            "trial_type": self.trial_type.value,
            "rule_trial_type": self.rule_trial_type.value,
            "on": self.on.isoformat(),
            "age": self.age,
            "is_minor": self.is_minor,
            "competence_age": self.competence_age,
            "competence_date": self.competence_date.isoformat(),
            "guardians_required": self.guardians_required,
            "guardian_rule": self.guardian_rule.value,
            "other_guardian_agreement_required": self.other_guardian_agreement_required,
            "guardian_exceptions": [code.value for code in self.guardian_exceptions],
            "guardian_exceptions_confidence": self.guardian_exceptions_confidence.value,
            "minor_role": self.minor_role.value,
            "form_kinds": [kind.value for kind in self.form_kinds],
            "age_band": None if self.age_band is None else self.age_band.id,
            "age_band_style": None if self.age_band is None else self.age_band.style,
            "next_transition": (
                None if self.next_transition is None else self.next_transition.to_dict()
            ),
            "sources": list(self.sources),
            "confidence": self.confidence.value,
            "rule_pack_version": self.rule_pack_version,
            "rule_effective_from": self.rule_effective_from.isoformat(),
            "overrides_applied": [override.to_dict() for override in self.overrides_applied],
            "defaults_applied": list(self.defaults_applied),
            "minor_refusal_binding": self.minor_refusal_binding,
            "reconsent_at_competence": self.reconsent_at_competence,
            "gdpr_age": self.gdpr_age,
        }


def _step_dict(step: RoleStep) -> dict[str, Any]:
    found: dict[str, Any] = {
        "from_age": step.from_age,
        "role": None if step.role is None else step.role.value,
    }
    if step.confidence is not None:
        found["confidence"] = step.confidence.value
    return found


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple) and all(isinstance(step, RoleStep) for step in value):
        return [_step_dict(step) for step in value]
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


# --------------------------------------------------------------------------- parsing


def _parse_int(value: Any, where: str, low: int, high: int) -> int:
    # bool is an int subclass; "competence_age: true" is a typo, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("rule_pack", f"{where}: expected an integer, got {value!r}")
    if not low <= value <= high:
        raise _invalid("rule_pack", f"{where}: {value} is outside {low}-{high}")
    return value


def _parse_enum(enum: type[StrEnum], value: Any, where: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise _invalid("rule_pack", f"{where}: {value!r} is not one of {choices}") from None


def _parse_role_steps(value: Any, where: str) -> tuple[RoleStep, ...]:
    if isinstance(value, Mapping | str) or not isinstance(value, Sequence) or not value:
        raise _invalid("rule_pack", f"{where}: expected a non-empty list of {{from_age, role}}")
    steps: list[RoleStep] = []
    for index, raw in enumerate(value):
        at = f"{where}[{index}]"
        step_confidence: Any = None
        if isinstance(raw, Mapping):
            unknown = set(raw) - {"from_age", "role", "confidence"}
            if unknown:
                raise _invalid("rule_pack", f"{at}: unknown keys {sorted(unknown)}")
            from_age, role = raw.get("from_age"), raw.get("role")
            step_confidence = raw.get("confidence")
        elif isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) == 2:
            from_age, role = raw
        else:
            raise _invalid("rule_pack", f"{at}: expected {{from_age, role}}, got {raw!r}")
        age = _parse_int(from_age, f"{at}.from_age", 0, 25)
        parsed_role: MinorRole | None = (
            None if role is None else _parse_enum(MinorRole, role, f"{at}.role")
        )
        parsed_confidence: Confidence | None = (
            None
            if step_confidence is None
            else _parse_enum(Confidence, step_confidence, f"{at}.confidence")
        )
        if parsed_confidence is not None and parsed_role is None:
            raise _invalid(
                "rule_pack", f"{at}: an open step (role null) is U already; drop its confidence"
            )
        if parsed_role is MinorRole.OWN_CONSENT:
            raise _invalid(
                "rule_pack",
                f"{at}: own-consent is implied from competence_age; set competence_age instead",
            )
        if steps and age <= steps[-1].from_age:
            raise _invalid(
                "rule_pack", f"{at}: from_age must increase ({age} after {steps[-1].from_age})"
            )
        if steps and parsed_role == steps[-1].role:
            raise _invalid("rule_pack", f"{at}: repeats the previous role {role!r}")
        steps.append(RoleStep(age, parsed_role, parsed_confidence))
    if steps[0].from_age != 0:
        raise _invalid("rule_pack", f"{where}: the first step must start at from_age 0")
    return tuple(steps)


def _parse_exceptions(value: Any, where: str) -> tuple[GuardianExceptionCode, ...]:
    """Parse the single-parent exceptions a row recognises (an empty list: none)."""
    if not isinstance(value, list):
        raise _invalid("rule_pack", f"{where}: expected a list of exception codes")
    codes = tuple(
        _parse_enum(GuardianExceptionCode, code, f"{where}[{index}]")
        for index, code in enumerate(value)
    )
    if len(set(codes)) != len(codes):
        raise _invalid("rule_pack", f"{where}: lists an exception twice")
    return codes


def _parse_value(field: str, value: Any, where: str) -> Any:
    """Parse a non-null cell value of ``field``; shared by the pack and overrides."""
    if field == "competence_age":
        # No European competence age in the rule pack's sources is outside 14-18
        # (docs/regulatory-basis.md#jurisdiction-rule-pack); 21 leaves room for the
        # optional US module (docs/regulatory-basis.md#us-subpart-d) without accepting nonsense.
        return _parse_int(value, where, 1, 21)
    if field == "gdpr_age":
        # GDPR Art 8(1): Member States may choose between 13 and 16.
        return _parse_int(value, where, 13, 16)
    if field == "guardian_rule":
        return _parse_enum(GuardianRule, value, where)
    if field == "minor_roles":
        return _parse_role_steps(value, where)
    if field == "guardian_exceptions":
        return _parse_exceptions(value, where)
    if field in ("minor_refusal_binding", "reconsent_at_competence"):
        if not isinstance(value, bool):
            raise _invalid("rule_pack", f"{where}: expected true or false, got {value!r}")
        return value
    raise _invalid("rule_pack", f"{where}: unknown field {field!r}")


def _parse_cell(field: str, raw: Any, where: str, catalogue: frozenset[str]) -> RuleCell[Any]:
    where = f"{where}: {field}"
    if not isinstance(raw, Mapping):
        raise _invalid("rule_pack", f"{where}: expected {{value, confidence, source}}")
    missing = {"value", "confidence", "source"} - set(raw)
    if missing:
        raise _invalid("rule_pack", f"{where}: missing {', '.join(sorted(missing))}")
    unknown = set(raw) - _CELL_KEYS
    if unknown:
        raise _invalid("rule_pack", f"{where}: unknown keys {sorted(unknown)}")
    confidence: Confidence = _parse_enum(Confidence, raw["confidence"], f"{where}.confidence")
    source = raw["source"]
    if not isinstance(source, list) or not all(isinstance(url, str) for url in source):
        raise _invalid("rule_pack", f"{where}.source: expected a list of URLs")
    stray = [url for url in source if url not in catalogue]
    if stray:
        raise _invalid("rule_pack", f"{where}.source: not in the sources catalogue: {stray}")
    if len(set(source)) != len(source):
        raise _invalid("rule_pack", f"{where}.source: lists a URL twice")
    note = raw.get("note")
    if note is not None and not isinstance(note, str):
        raise _invalid("rule_pack", f"{where}.note: expected text")
    # The pack's one invariant for unknowns: null value <=> confidence U, so a reader never
    # mistakes a guess for a finding, and the code always knows when to fall back.
    if raw["value"] is None:
        if confidence is not Confidence.UNKNOWN:
            raise _invalid("rule_pack", f"{where}: a null value must have confidence U")
        return RuleCell(None, confidence, tuple(source), note)
    if confidence is Confidence.UNKNOWN:
        raise _invalid("rule_pack", f"{where}: confidence U requires value null")
    if not source:
        raise _invalid("rule_pack", f"{where}: a V or S cell must cite at least one source")
    return RuleCell(_parse_value(field, raw["value"], where), confidence, tuple(source), note)


def _parse_date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        raise _invalid("rule_pack", f"{where}: expected a date, got a datetime")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _invalid("rule_pack", f"{where}: expected an ISO date (YYYY-MM-DD), got {value!r}")


def _parse_rule(raw: Any, index: int, catalogue: frozenset[str]) -> JurisdictionRule:
    where = f"rules[{index}]"
    if not isinstance(raw, Mapping):
        raise _invalid("rule_pack", f"{where}: expected a mapping")
    # Name the row by what a reviewer can search for in the YAML.
    where = f"rules[{index}] ({raw.get('country', '?')} {raw.get('trial_type', '?')})"
    unknown = set(raw) - _ROW_KEYS
    if unknown:
        raise _invalid("rule_pack", f"{where}: unknown keys {sorted(unknown)}")
    missing = (_ROW_KEYS - {"effective_to"}) - set(raw)
    if missing:
        raise _invalid("rule_pack", f"{where}: missing {', '.join(sorted(missing))}")
    country = raw["country"]
    if isinstance(country, bool):
        raise _invalid(
            "rule_pack",
            f'{where}: quote the country code: YAML 1.1 reads NO as {country}, "NO" as Norway',
        )
    if (
        not isinstance(country, str)
        or not (_COUNTRY_RE.match(country) or country in UK_NATIONS)
        or country in ("GB", "UK")
    ):
        raise _invalid(
            "rule_pack",
            f"{where}: country must be an upper-case ISO 3166-1 alpha-2 code or one of "
            f"{', '.join(UK_NATIONS)}",
        )
    trial_type: TrialType = _parse_enum(TrialType, raw["trial_type"], f"{where}.trial_type")
    effective_from = _parse_date(raw["effective_from"], f"{where}.effective_from")
    effective_to = (
        None
        if raw.get("effective_to") is None
        else _parse_date(raw["effective_to"], f"{where}.effective_to")
    )
    if effective_to is not None and effective_to < effective_from:
        raise _invalid("rule_pack", f"{where}: effective_to is before effective_from")
    cells = {field: _parse_cell(field, raw[field], where, catalogue) for field in CELL_FIELDS}
    rule = JurisdictionRule(
        country=country,
        trial_type=trial_type,
        effective_from=effective_from,
        effective_to=effective_to,
        competence_age=cells["competence_age"],
        guardian_rule=cells["guardian_rule"],
        guardian_exceptions=cells["guardian_exceptions"],
        minor_roles=cells["minor_roles"],
        minor_refusal_binding=cells["minor_refusal_binding"],
        reconsent_at_competence=cells["reconsent_at_competence"],
        gdpr_age=cells["gdpr_age"],
    )
    competence = rule.competence_age.value or DEFAULT_COMPETENCE_AGE
    for step in rule.minor_roles.value or ():
        if step.from_age >= competence:
            raise _invalid(
                "rule_pack",
                f"{where}: minor_roles step at {step.from_age} is not below the competence "
                f"age {competence} (the role from competence on is own-consent)",
            )
    return rule


def _parse_age_bands(raw: Any, field: str) -> tuple[AgeBand, ...]:
    if not isinstance(raw, list):
        raise _invalid(field, f"{field}: expected a list of {{id, min_age, max_age, style}}")
    bands: list[AgeBand] = []
    for index, item in enumerate(raw):
        keys = set(item) if isinstance(item, Mapping) else set()
        if not {"id", "min_age", "max_age"} <= keys <= {"id", "min_age", "max_age", "style"}:
            raise _invalid(field, f"{field}[{index}]: expected {{id, min_age, max_age, style}}")
        bands.append(AgeBand(item["id"], item["min_age"], item["max_age"], item.get("style")))
    return _check_bands(bands)


def _check_bands(bands: Iterable[AgeBand]) -> tuple[AgeBand, ...]:
    bands = list(bands)
    if not all(isinstance(band, AgeBand) for band in bands):
        raise _invalid("age_bands", "age_bands must be AgeBand instances")
    ordered = sorted(bands, key=lambda band: (band.min_age, band.max_age))
    ids = [band.id for band in ordered]
    if len(set(ids)) != len(ids):
        raise _invalid("age_bands", f"age band ids must be unique: {ids}")
    for before, after in itertools.pairwise(ordered):
        # Overlapping bands would make the document shown to a child ambiguous
        # (docs/regulatory-basis.md#checklist-16: record which band was displayed).
        if after.min_age <= before.max_age:
            raise _invalid("age_bands", f"age bands {before.id!r} and {after.id!r} overlap")
    return tuple(ordered)


def parse_rule_pack(data: Any, *, origin: str = "rule pack") -> RulePack:
    """Validate a loaded rule pack (the parsed YAML) and build a :class:`RulePack`.

    Validation is strict because the pack is legal content: a typo must fail the
    build, not silently relax who signs.

    Raises:
        InvalidDataError: naming ``origin`` and the offending row and cell.

    """
    try:
        return _parse_pack(data)
    except InvalidDataError as exc:
        message = f"{origin}: {exc.message}"
        raise InvalidDataError(message, details={"errors": {"rule_pack": [message]}}) from exc


def _parse_pack(data: Any) -> RulePack:
    if not isinstance(data, Mapping):
        raise _invalid("rule_pack", "expected a mapping at the top level")
    unknown = set(data) - {"pack_version", "last_reviewed", "sources", "default_age_bands", "rules"}
    if unknown:
        raise _invalid("rule_pack", f"unknown top-level keys {sorted(unknown)}")
    version = data.get("pack_version")
    if not isinstance(version, str) or not version.strip():
        raise _invalid("rule_pack", "pack_version must be a non-empty string")
    last_reviewed = _parse_date(data.get("last_reviewed"), "last_reviewed")
    catalogue_raw = data.get("sources")
    if not isinstance(catalogue_raw, Mapping) or not all(
        isinstance(url, str) and url.startswith(("http://", "https://"))
        for url in catalogue_raw.values()
    ):
        raise _invalid("rule_pack", "sources must map each key to an http(s) URL")
    catalogue = frozenset(catalogue_raw.values())
    default_bands = _parse_age_bands(data.get("default_age_bands", []), "default_age_bands")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise _invalid("rule_pack", "rules must be a non-empty list")
    rules = tuple(_parse_rule(raw, index, catalogue) for index, raw in enumerate(raw_rules))
    _check_rows(rules)
    return RulePack(version.strip(), last_reviewed, rules, default_bands)


def _check_rows(rules: Sequence[JurisdictionRule]) -> None:
    by_key: dict[tuple[str, TrialType], list[JurisdictionRule]] = {}
    for rule in rules:
        by_key.setdefault((rule.country, rule.trial_type), []).append(rule)
    for rows in by_key.values():
        rows.sort(key=lambda rule: rule.effective_from)
        for before, after in itertools.pairwise(rows):
            if before.effective_to is None or after.effective_from <= before.effective_to:
                raise _invalid(
                    "rule_pack",
                    f"rows {before.label} and {after.label} overlap; give the earlier one an "
                    f"effective_to before {after.effective_from.isoformat()}",
                )
    # Other trial types fall back to the medicinal-product row, so every country needs one.
    for country in {rule.country for rule in rules}:
        if (country, TrialType.MEDICINAL_PRODUCT) not in by_key:
            raise _invalid("rule_pack", f"{country} has no medicinal-product row")


@functools.cache
def load_rule_pack() -> RulePack:
    """Load and validate the rule pack shipped in ``consentkit/data`` (once per process).

    Raises:
        ConfigurationError: if the shipped pack is missing or malformed; that is a
            broken installation, never the caller's fault.

    """
    resource = resources.files("consentkit.data").joinpath(_PACK_RESOURCE)
    try:
        data = yaml.safe_load(resource.read_text(encoding="utf-8"))
        return parse_rule_pack(data, origin=f"consentkit/data/{_PACK_RESOURCE}")
    except (OSError, yaml.YAMLError, InvalidDataError) as exc:
        message = exc.message if isinstance(exc, InvalidDataError) else str(exc)
        raise ConfigurationError(
            "jurisdiction rule pack is unusable: %(reason)s", params={"reason": message}
        ) from exc


def supported_countries() -> list[str]:
    """Return the country codes the shipped rule pack covers, sorted."""
    return load_rule_pack().countries()


# --------------------------------------------------------------------------- decision


def _canonical_country(code: Any) -> str:
    if not isinstance(code, str) or not code.strip():
        raise _invalid("country", "country is required")
    canonical = code.strip().upper()
    if canonical in ("GB", "UK"):
        # Consent law differs between the UK's legal systems (docs/regulatory-basis.md#uk-nations).
        raise _invalid(
            "country",
            f"{code.strip()!r} is ambiguous: pick a UK nation, one of {', '.join(UK_NATIONS)}",
        )
    return canonical


def normalize_country(code: str, *, rule_pack: RulePack | None = None) -> str:
    """Return the canonical (upper-case) code for ``code`` if the rule pack covers it.

    Raises:
        InvalidDataError: for "GB"/"UK" (pick a nation) or an unsupported code; the
            message lists the supported codes.

    """
    pack = rule_pack or load_rule_pack()
    canonical = _canonical_country(code)
    countries = pack.countries()
    if canonical not in countries:
        raise _invalid(
            "country",
            f"unsupported country {code.strip()!r}; supported: {', '.join(countries)}",
        )
    return canonical


def _coerce_trial_type(value: Any) -> TrialType:
    try:
        return TrialType(value)
    except ValueError:
        choices = ", ".join(member.value for member in TrialType)
        raise _invalid("trial_type", f"unknown trial type {value!r}; one of {choices}") from None


def _find_rule(
    pack: RulePack, country: str, trial_type: TrialType, on: date
) -> tuple[JurisdictionRule, bool]:
    """Return the row in force and whether it was borrowed from medicinal-product."""
    own = [rule for rule in pack.rules if (rule.country, rule.trial_type) == (country, trial_type)]
    borrowed = not own
    rows = own or [
        rule
        for rule in pack.rules
        if (rule.country, rule.trial_type) == (country, TrialType.MEDICINAL_PRODUCT)
    ]
    for rule in rows:
        if rule.applies_on(on):
            return rule, borrowed
    spans = ", ".join(
        f"{rule.effective_from.isoformat()}..{rule.effective_to or ''}" for rule in rows
    )
    raise _invalid(
        "on",
        f"no {country} {rows[0].trial_type.value} rule is in force on {on.isoformat()} "
        f"(the pack covers {spans})",
    )


def _resolve_cells(
    rule: JurisdictionRule,
    overrides: Iterable[RuleOverride],
    country: str,
    trial_type: TrialType,
    *,
    borrowed: bool,
) -> tuple[dict[str, RuleCell[Any]], tuple[RuleOverride, ...]]:
    cells: dict[str, RuleCell[Any]] = {}
    for field in CELL_FIELDS:
        cell = rule.cell(field)
        if borrowed and cell.confidence is Confidence.VERIFIED:
            # A rule verified for medicinal-product trials is only an inference for
            # another trial type.
            cell = RuleCell(cell.value, Confidence.SECONDARY, cell.source, cell.note)
        cells[field] = cell
    applied: list[RuleOverride] = []
    seen: set[str] = set()
    for override in overrides:
        if not isinstance(override, RuleOverride):
            raise _invalid("overrides", f"expected RuleOverride, got {type(override).__name__}")
        if not override.applies_to(country, trial_type):
            continue
        if override.field in seen:
            raise _invalid(
                "overrides", f"two overrides of {country} {override.field}; keep exactly one"
            )
        seen.add(override.field)
        cells[override.field] = RuleCell(
            override.value, Confidence.VERIFIED, (override.reference,), override.reason
        )
        applied.append(override)
    return cells, tuple(applied)


@dataclass(frozen=True)
class _Span:
    from_age: int
    role: MinorRole
    known: bool
    confidence: Confidence | None = None


def _role_spans(steps: tuple[RoleStep, ...] | None, competence: int) -> tuple[_Span, ...]:
    """Expand role steps below ``competence``, filling unknown ranges with the defaults."""
    defaults = (RoleStep(0, MinorRole.INFORMED), RoleStep(DEFAULT_ASSENT_AGE, MinorRole.ASSENT))
    steps = steps or (RoleStep(0, None),)
    spans: list[_Span] = []
    for index, step in enumerate(steps):
        if step.from_age >= competence:
            # An override lowered competence below this step: competence wins.
            break
        end = steps[index + 1].from_age if index + 1 < len(steps) else competence
        end = min(end, competence)
        if step.role is not None:
            spans.append(_Span(step.from_age, step.role, known=True, confidence=step.confidence))
            continue
        for d_index, default in enumerate(defaults):
            d_end = defaults[d_index + 1].from_age if d_index + 1 < len(defaults) else competence
            low, high = max(step.from_age, default.from_age), min(end, d_end)
            if low < high and default.role is not None:
                spans.append(_Span(low, default.role, known=False))
    return tuple(spans)


def _span_at(spans: Sequence[_Span], age: int) -> _Span:
    current = spans[0]
    for span in spans:
        if span.from_age <= age:
            current = span
    return current


def _band_at(bands: Sequence[AgeBand], age: int, competence: int) -> AgeBand | None:
    if age >= competence:
        return None
    return next((band for band in bands if band.contains(age)), None)


def _form_kinds(role: MinorRole, age: int, band: AgeBand | None) -> tuple[FormKind, ...]:
    """Return the form kinds for a minor role: one form per signing party, by its meaning.

    Own consent (at or after competence) is the young person's own form below 18 and the
    adult form from 18. A minor who co-signs or whose own consent is required in addition
    to the parents' (NL 12-15, PL from 13, DK 15-17) signs the co-consent form next to the
    parental consent: not the own-consent form, whose text is for someone deciding alone,
    and not an assent form, which is agreement rather than consent (CTR Art 29(8), Art 32).
    """
    kinds = {FormKind.INVESTIGATOR_DECLARATION}  # CTR Art 29(1): the interviewer signs too
    if role is MinorRole.OWN_CONSENT:
        kinds.add(
            FormKind.ADULT_CONSENT if age >= ADULT_FORM_AGE else FormKind.YOUNG_PERSON_CONSENT
        )
    else:
        kinds.add(FormKind.PARENTAL_CONSENT)  # CTR Art 32(1)(a)
        if role in (MinorRole.CO_SIGN, MinorRole.OWN_CONSENT_WITH_GUARDIAN):
            kinds.add(FormKind.YOUNG_PERSON_CO_CONSENT)
        elif role is MinorRole.ASSENT or band is not None:
            # An informed child still gets information adapted to age (CTR Art 32(1)(b)):
            # the band's child document, where the study has one for that age.
            kinds.add(FormKind.CHILD_ASSENT)
    return tuple(kind for kind in _FORM_ORDER if kind in kinds)


def _next_transition(
    *,
    birth_date: date,
    age: int,
    competence: int,
    spans: Sequence[_Span],
    bands: Sequence[AgeBand],
) -> Transition | None:
    if age >= competence:
        return None
    # On a shared date the weightier reason wins: competence, then role, then band.
    candidates = [(date_of_age(birth_date, competence), 0, TransitionReason.COMPETENCE_AGE)]
    role_now = _span_at(spans, age).role
    for span in spans:
        if span.from_age > age and span.role is not role_now:
            candidates.append(
                (date_of_age(birth_date, span.from_age), 1, TransitionReason.MINOR_ROLE)
            )
            break
    # A new band means a new child document only while the band chooses that document
    # (informed or assenting child): a co-signing 13-year-old in the Netherlands has nothing
    # to sign at 14 (CCMO: 12-15 co-sign; turning 16, no action), so no band change for them.
    band_now = _band_at(bands, age, competence)
    for later in range(age + 1, competence if role_now in _BANDED_ROLES else age + 1):
        if _band_at(bands, later, competence) != band_now:
            candidates.append((date_of_age(birth_date, later), 2, TransitionReason.AGE_BAND))
            break
    when, _, reason = min(candidates)
    return Transition(when, reason)


def decide_requirements(
    *,
    birth_date: date,
    country: str,
    on: date,
    trial_type: TrialType | str = TrialType.MEDICINAL_PRODUCT,
    overrides: Iterable[RuleOverride] = (),
    age_bands: Sequence[AgeBand] | None = None,
    rule_pack: RulePack | None = None,
) -> Requirements:
    """Decide who must consent for a participant born on ``birth_date``, on the date ``on``.

    ``on`` should be the participant's local date (:func:`consentkit.policy.age.local_date`).
    The row in force on ``on`` is used; a trial type without its own row borrows the
    country's medicinal-product row with confidence capped at S. ``overrides`` are the
    study's ethics-committee decisions (those for other countries or trial types are
    ignored); ``age_bands`` the study's document bands for this country (None: the
    pack's defaults). ``rule_pack`` defaults to the shipped pack.

    Raises:
        InvalidDataError: for "GB"/"UK", an unsupported country, an unknown trial type,
            a birth date after ``on``, no rule in force on ``on``, overlapping age bands
            or conflicting overrides.

    """
    pack = rule_pack or load_rule_pack()
    country_code = normalize_country(country, rule_pack=pack)
    kind = _coerce_trial_type(trial_type)
    age = age_on(birth_date, on)
    rule, borrowed = _find_rule(pack, country_code, kind, on)
    cells, applied = _resolve_cells(rule, overrides, country_code, kind, borrowed=borrowed)
    bands = pack.default_age_bands if age_bands is None else _check_bands(age_bands)

    defaults: list[str] = []

    def value_of(field: str, default: Any) -> Any:
        value = cells[field].value
        if value is None:
            defaults.append(field)
            return default
        return value

    competence: int = value_of("competence_age", DEFAULT_COMPETENCE_AGE)
    guardian_rule: GuardianRule = value_of("guardian_rule", DEFAULT_GUARDIAN_RULE)
    exceptions_cell = cells["guardian_exceptions"]
    exceptions: tuple[GuardianExceptionCode, ...] = (
        DEFAULT_GUARDIAN_EXCEPTIONS if exceptions_cell.value is None else exceptions_cell.value
    )
    refusal_binding: bool = value_of("minor_refusal_binding", DEFAULT_MINOR_REFUSAL_BINDING)
    reconsent: bool = value_of("reconsent_at_competence", DEFAULT_RECONSENT_AT_COMPETENCE)
    spans = _role_spans(cells["minor_roles"].value, competence)
    is_minor = age < competence

    # The cells the answer rests on: competence always; for a minor also who signs
    # with them and what happens on refusal or at competence.
    used: list[tuple[str, Confidence]] = [("competence_age", cells["competence_age"].confidence)]
    if is_minor:
        span = _span_at(spans, age)
        role = span.role
        role_confidence = cells["minor_roles"].confidence if span.known else Confidence.UNKNOWN
        if span.confidence is not None:
            role_confidence = min(
                role_confidence, span.confidence, key=_CONFIDENCE_RANK.__getitem__
            )
        if not span.known and "minor_roles" not in defaults:
            defaults.append("minor_roles")
        used += [
            ("guardian_rule", cells["guardian_rule"].confidence),
            ("minor_roles", role_confidence),
            ("minor_refusal_binding", cells["minor_refusal_binding"].confidence),
            ("reconsent_at_competence", cells["reconsent_at_competence"].confidence),
        ]
        guardians = 2 if guardian_rule is GuardianRule.BOTH else 1
    else:
        role = MinorRole.OWN_CONSENT
        guardians = 0
    used_fields = {field for field, _ in used}
    sources = tuple(dict.fromkeys(url for field, _ in used for url in cells[field].source))
    confidence = min((conf for _, conf in used), key=_CONFIDENCE_RANK.__getitem__)
    band = _band_at(bands, age, competence)

    return Requirements(
        country=country_code,
        trial_type=kind,
        rule_trial_type=rule.trial_type,
        on=on,
        age=age,
        competence_age=competence,
        competence_date=date_of_age(birth_date, competence),
        guardians_required=guardians,
        guardian_rule=guardian_rule,
        other_guardian_agreement_required=(
            is_minor and guardian_rule is GuardianRule.ONE_WITH_AGREEMENT
        ),
        # The exceptions matter only where one parent alone is not enough: a minor under a
        # "both" or "one with the other's agreement" rule. They do not enter ``confidence``
        # (who must sign when both parents are there); they carry their own.
        guardian_exceptions=(
            exceptions if is_minor and guardian_rule is not GuardianRule.ONE else ()
        ),
        guardian_exceptions_confidence=exceptions_cell.confidence,
        minor_role=role,
        form_kinds=_form_kinds(role, age, band),
        age_band=band,
        next_transition=_next_transition(
            birth_date=birth_date, age=age, competence=competence, spans=spans, bands=bands
        ),
        sources=sources,
        confidence=confidence,
        rule_pack_version=pack.version,
        rule_effective_from=rule.effective_from,
        overrides_applied=applied,
        defaults_applied=tuple(
            field for field in CELL_FIELDS if field in defaults and field in used_fields
        ),
        minor_refusal_binding=refusal_binding,
        reconsent_at_competence=reconsent,
        gdpr_age=cells["gdpr_age"].value,
    )
