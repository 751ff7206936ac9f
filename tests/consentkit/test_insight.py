"""The comprehension insight read off the real trail: families read and answer in the ceremony."""

from __future__ import annotations

from typing import Any

from consentkit.services import ceremony, insight, records
from tests.consentkit.records_helpers import STAFF, T0, Family, content, make_family, signer_actor

TRIAL = "DEMO-NBL-1"


def _read_and_answer(family: Family, *, seconds: float, wrong_first: bool = False) -> None:
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    text = content(record, "fr")
    for guardian in family.guardians:
        actor = signer_actor(guardian)
        ceremony.record_views(
            family.participant,
            record.record_id,
            signer_id=str(guardian.id),
            locale="fr",
            sections=[{"id": s["id"], "seconds": seconds} for s in text["sections"]],
            actor=actor,
            now=T0,
        )
        right = {q["id"]: q["correct"] for q in text["questions"]}
        if wrong_first and guardian is family.guardians[0]:
            first = text["questions"][0]
            ceremony.answer_questions(
                family.participant,
                record.record_id,
                signer_id=str(guardian.id),
                locale="fr",
                answers={**right, first["id"]: "not-" + str(first["correct"])},
                actor=actor,
                now=T0,
            )
        ceremony.answer_questions(
            family.participant,
            record.record_id,
            signer_id=str(guardian.id),
            locale="fr",
            answers=right,
            actor=actor,
            now=T0,
        )


def test_insight_reads_time_wrong_answers_and_attempts_of_the_family_members(
    demo_study: Any,
) -> None:
    for number, seconds in enumerate((10.0, 20.0, 30.0), start=1):
        _read_and_answer(make_family(f"P-00{number}"), seconds=seconds, wrong_first=number == 1)

    found = insight.study_insight(TRIAL)

    first_section = found.sections[0]
    assert (first_section.form_id, first_section.locale, first_section.readers) == (
        "parental-consent",
        "fr",
        6,
    )
    assert first_section.median_s == 20.0
    (attempts,) = found.attempts
    assert (attempts.signers, attempts.several_attempts) == (6, 1)
    worst = found.questions[0]
    assert (worst.wrong, worst.answers, worst.signers) == (1, 7, 6)
    assert worst.age_band == "assent-6-9"  # the child is 8 when the record opens


def test_insight_hides_a_group_of_fewer_than_five_family_members(demo_study: Any) -> None:
    for number in (1, 2):
        _read_and_answer(make_family(f"P-00{number}"), seconds=15.0)

    found = insight.study_insight(TRIAL)

    assert found.sections and all(s.suppressed and s.readers is None for s in found.sections)
    assert all(a.signers is None for a in found.attempts)


def test_insight_of_a_site_counts_only_its_participants(demo_study: Any) -> None:
    for number in (1, 2, 3):
        _read_and_answer(make_family(f"P-00{number}"), seconds=15.0)

    assert insight.study_insight(TRIAL, sites=["FR-01"]).sections[0].readers == 6
    assert insight.study_insight(TRIAL, sites=["NL-01"]).sections == ()


def test_insight_csv_names_no_participant(demo_study: Any) -> None:
    families = [make_family(f"P-00{n}") for n in (1, 2, 3)]
    for family in families:
        _read_and_answer(family, seconds=15.0)

    csv_text = insight.to_csv(insight.study_insight(TRIAL))

    assert csv_text.startswith("measure,form_id,version,locale,age_band,item,n,median_s")
    assert "section-time,parental-consent,2,fr" in csv_text
    for family in families:
        assert family.participant.code not in csv_text
        assert all(str(s.id) not in csv_text for s in family.guardians)
