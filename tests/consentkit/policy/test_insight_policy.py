"""The comprehension insight from plain facts: figures, their order, small groups hidden."""

from __future__ import annotations

from consentkit.policy.insight import SignerFacts, comprehension_insight, csv_rows


def _facts(n: int, *, locale: str = "fr", band: str = "assent-6-9") -> list[SignerFacts]:
    return [
        SignerFacts(
            form_id="parental-consent",
            version=1,
            locale=locale,
            age_band=band,
            section_ids=("intro", "risks"),
            seconds={"intro": 10.0 * (i + 1), "risks": 60.0},
            attempts=(
                ({"q1": False, "q2": True}, {"q1": True, "q2": True})
                if i == 0
                else ({"q1": True, "q2": i % 2 == 0},)
            ),
        )
        for i in range(n)
    ]


def test_section_time_is_the_median_and_quartiles_in_section_order() -> None:
    insight = comprehension_insight(_facts(5))

    intro, risks = insight.sections
    assert (intro.section_id, intro.readers, intro.median_s) == ("intro", 5, 30.0)
    assert (intro.q1_s, intro.q3_s) == (20.0, 40.0)
    assert (risks.section_id, risks.median_s) == ("risks", 60.0)


def test_questions_most_often_wrong_come_first() -> None:
    insight = comprehension_insight(_facts(5))

    first, second = insight.questions
    # q2 is wrong for family members 1 and 3 (2 of 6 answers); q1 once, on a first try.
    assert (first.question_id, first.wrong, first.answers, first.signers) == ("q2", 2, 6, 5)
    assert (second.question_id, second.wrong, second.wrong_rate) == ("q1", 1, round(1 / 6, 3))


def test_several_attempts_counts_family_members_not_attempts() -> None:
    (attempts,) = comprehension_insight(_facts(6)).attempts

    assert (attempts.signers, attempts.several_attempts) == (6, 1)


def test_a_group_under_five_shows_no_figure() -> None:
    insight = comprehension_insight([*_facts(5), *_facts(4, locale="lt")])

    hidden = [s for s in insight.sections if s.locale == "lt"]
    assert hidden and all(s.suppressed and s.median_s is None for s in hidden)
    assert all(q.wrong is None for q in insight.questions if q.locale == "lt")
    lt_attempts = next(a for a in insight.attempts if a.locale == "lt")
    assert (lt_attempts.signers, lt_attempts.several_attempts) == (None, None)
    assert all(not s.suppressed for s in insight.sections if s.locale == "fr")


def test_age_bands_are_counted_apart() -> None:
    insight = comprehension_insight([*_facts(5), *_facts(5, band="assent-10-13")])

    assert {q.age_band for q in insight.questions if not q.suppressed} == {
        "assent-6-9",
        "assent-10-13",
    }


def test_csv_rows_leave_hidden_cells_empty() -> None:
    rows = csv_rows(comprehension_insight(_facts(3)))

    assert rows and all(row["n"] == "" and row["suppressed"] is True for row in rows)
    assert {row["measure"] for row in rows} == {"section-time", "question", "attempts"}
