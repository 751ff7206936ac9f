"""Comprehension insight for staff: how families read and understood a form, nobody identified.

Pure aggregation of facts the service reads off the audit trail
(:mod:`consentkit.services.insight`), per form version and reading language:

* time per section: the median and quartiles of the seconds each family member
  spent on it (all their ``information.viewed`` events of the record added up);
* quiz questions answered wrongly most often, by language and the child's age band:
  of all answers given (every attempt), how many were wrong;
* family members who needed more than one attempt at the quiz.

Small groups are suppressed: a cell counting fewer than :data:`MIN_GROUP` family
members shows no figure (``suppressed``), so a rare language or age band cannot
point at one family (the usual small-cell rule of health statistics).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

#: The fewest family members a figure may rest on.
MIN_GROUP = 5
#: The age band of a form read with no band (an adult's consent).
NO_BAND = "-"


@dataclass(frozen=True)
class SignerFacts:
    """One family member's reading and quiz of one record, in one language (no identity)."""

    form_id: str
    version: int
    locale: str
    age_band: str
    #: The record's sections in their order.
    section_ids: tuple[str, ...]
    #: Seconds spent per section (all views added up).
    seconds: Mapping[str, float] = field(default_factory=dict)
    #: One mapping per quiz attempt: question id -> answered correctly.
    attempts: tuple[Mapping[str, bool], ...] = ()


@dataclass(frozen=True)
class SectionTime:
    """Time spent on one section by the family members who read it."""

    form_id: str
    version: int
    locale: str
    section_id: str
    readers: int | None
    median_s: float | None
    q1_s: float | None
    q3_s: float | None
    suppressed: bool


@dataclass(frozen=True)
class QuestionMisses:
    """How often one quiz question was answered wrongly, in one language and age band."""

    form_id: str
    version: int
    locale: str
    age_band: str
    question_id: str
    signers: int | None
    answers: int | None
    wrong: int | None
    wrong_rate: float | None
    suppressed: bool


@dataclass(frozen=True)
class Attempts:
    """How many family members needed more than one attempt at a form's quiz."""

    form_id: str
    version: int
    locale: str
    signers: int | None
    several_attempts: int | None
    suppressed: bool


@dataclass(frozen=True)
class Insight:
    """The whole insight of a study (or of the sites a member sees)."""

    min_group: int
    sections: tuple[SectionTime, ...]
    questions: tuple[QuestionMisses, ...]
    attempts: tuple[Attempts, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return asdict(self)


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    q1, median, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return round(q1, 1), round(median, 1), round(q3, 1)


def _section_times(facts: Sequence[SignerFacts], min_group: int) -> list[SectionTime]:
    groups: dict[tuple[str, int, str], list[SignerFacts]] = defaultdict(list)
    for fact in facts:
        if fact.seconds:
            groups[(fact.form_id, fact.version, fact.locale)].append(fact)
    rows = []
    for (form_id, version, locale), members in sorted(groups.items()):
        order: list[str] = []
        for member in members:
            order.extend(s for s in member.section_ids if s not in order)
        for section_id in order:
            values = [m.seconds[section_id] for m in members if section_id in m.seconds]
            if not values:
                continue
            shown = len(values) >= min_group
            q1, median, q3 = _quartiles(values) if shown else (None, None, None)
            rows.append(
                SectionTime(
                    form_id=form_id,
                    version=version,
                    locale=locale,
                    section_id=section_id,
                    readers=len(values) if shown else None,
                    median_s=median,
                    q1_s=q1,
                    q3_s=q3,
                    suppressed=not shown,
                )
            )
    return rows


def _question_misses(facts: Sequence[SignerFacts], min_group: int) -> list[QuestionMisses]:
    # (form, version, locale, band, question) -> [signers, answers, wrong]
    counts: dict[tuple[str, int, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for fact in facts:
        asked: set[str] = set()
        for attempt in fact.attempts:
            for question_id, correct in attempt.items():
                cell = counts[(fact.form_id, fact.version, fact.locale, fact.age_band, question_id)]
                cell[1] += 1
                cell[2] += 0 if correct else 1
                asked.add(question_id)
        for question_id in asked:
            counts[(fact.form_id, fact.version, fact.locale, fact.age_band, question_id)][0] += 1
    rows = []
    for (form_id, version, locale, band, question_id), (signers, answers, wrong) in counts.items():
        shown = signers >= min_group
        rows.append(
            QuestionMisses(
                form_id=form_id,
                version=version,
                locale=locale,
                age_band=band,
                question_id=question_id,
                signers=signers if shown else None,
                answers=answers if shown else None,
                wrong=wrong if shown else None,
                wrong_rate=round(wrong / answers, 3) if shown else None,
                suppressed=not shown,
            )
        )
    # The most often wrong first within each form version, language and band; hidden cells last.
    rows.sort(
        key=lambda r: (
            r.form_id,
            r.version,
            r.locale,
            r.age_band,
            r.suppressed,
            -(r.wrong_rate or 0.0),
            r.question_id,
        )
    )
    return rows


def _attempts(facts: Sequence[SignerFacts], min_group: int) -> list[Attempts]:
    groups: dict[tuple[str, int, str], list[int]] = defaultdict(list)
    for fact in facts:
        if fact.attempts:
            groups[(fact.form_id, fact.version, fact.locale)].append(len(fact.attempts))
    rows = []
    for (form_id, version, locale), tries in sorted(groups.items()):
        shown = len(tries) >= min_group
        rows.append(
            Attempts(
                form_id=form_id,
                version=version,
                locale=locale,
                signers=len(tries) if shown else None,
                several_attempts=sum(1 for n in tries if n > 1) if shown else None,
                suppressed=not shown,
            )
        )
    return rows


def comprehension_insight(facts: Iterable[SignerFacts], *, min_group: int = MIN_GROUP) -> Insight:
    """Aggregate family members' reading and quiz facts; cells under ``min_group`` are hidden."""
    collected = list(facts)
    return Insight(
        min_group=min_group,
        sections=tuple(_section_times(collected, min_group)),
        questions=tuple(_question_misses(collected, min_group)),
        attempts=tuple(_attempts(collected, min_group)),
    )


#: The CSV export's columns, one row per figure (``measure``: section-time, question, attempts).
CSV_COLUMNS = (
    "measure",
    "form_id",
    "version",
    "locale",
    "age_band",
    "item",
    "n",
    "median_s",
    "q1_s",
    "q3_s",
    "answers",
    "wrong",
    "wrong_rate",
    "several_attempts",
    "suppressed",
)


def csv_rows(insight: Insight) -> list[dict[str, Any]]:
    """Return the insight as flat rows with :data:`CSV_COLUMNS` (empty cells where hidden)."""
    rows: list[dict[str, Any]] = []
    blank = dict.fromkeys(CSV_COLUMNS, "")
    for s in insight.sections:
        rows.append(
            {
                **blank,
                "measure": "section-time",
                "form_id": s.form_id,
                "version": s.version,
                "locale": s.locale,
                "item": s.section_id,
                "n": s.readers,
                "median_s": s.median_s,
                "q1_s": s.q1_s,
                "q3_s": s.q3_s,
                "suppressed": s.suppressed,
            }
        )
    for q in insight.questions:
        rows.append(
            {
                **blank,
                "measure": "question",
                "form_id": q.form_id,
                "version": q.version,
                "locale": q.locale,
                "age_band": q.age_band,
                "item": q.question_id,
                "n": q.signers,
                "answers": q.answers,
                "wrong": q.wrong,
                "wrong_rate": q.wrong_rate,
                "suppressed": q.suppressed,
            }
        )
    for a in insight.attempts:
        rows.append(
            {
                **blank,
                "measure": "attempts",
                "form_id": a.form_id,
                "version": a.version,
                "locale": a.locale,
                "n": a.signers,
                "several_attempts": a.several_attempts,
                "suppressed": a.suppressed,
            }
        )
    return [{k: ("" if v is None else v) for k, v in row.items()} for row in rows]
