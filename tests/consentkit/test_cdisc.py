"""The CDISC rows from plain facts (no database): the columns of docs/cdisc.md."""

from __future__ import annotations

from datetime import date

from consentkit.interop.cdisc import (
    DM_COLUMNS,
    DS_COLUMNS,
    Milestone,
    Subject,
    Withdrawal,
    dm_row,
    ds_rows,
)

CONSENT = Milestone("parental-consent", "parental-consent", 2, date(2026, 3, 3))
ASSENT = Milestone("child-assent", "child-assent", 1, date(2026, 3, 2))


def _subject(
    *withdrawals: Withdrawal, milestones: tuple[Milestone, ...] = (CONSENT, ASSENT)
) -> Subject:
    return Subject("DEMO-NBL-1", "P-001", "FR-01", milestones, withdrawals)


def test_ds_rows_name_consent_and_assent_with_date_and_version_in_date_order() -> None:
    rows = ds_rows(_subject())

    assert [(r["DSSEQ"], r["DSDECOD"], r["DSSTDTC"], r["FORMVER"]) for r in rows] == [
        (1, "INFORMED ASSENT OBTAINED", "2026-03-02", "1"),
        (2, "INFORMED CONSENT OBTAINED", "2026-03-03", "2"),
    ]
    assert {r["DSCAT"] for r in rows} == {"PROTOCOL MILESTONE"}
    assert {r["USUBJID"] for r in rows} == {"DEMO-NBL-1-P-001"}


def test_ds_withdrawal_says_who_withdrew_and_the_scope() -> None:
    rows = ds_rows(
        _subject(
            Withdrawal(date(2026, 4, 1), ["samples-destroy"], "guardian"),
            Withdrawal(date(2026, 5, 1), ["full"], "participant"),
            Withdrawal(date(2026, 6, 1), ["no-new-data"], None),
        )
    )

    withdrawals = [(r["DSDECOD"], r["DSCAT"], r["WDSCOPE"]) for r in rows[2:]]
    assert withdrawals == [
        ("WITHDRAWAL BY PARENT/GUARDIAN", "OTHER EVENT", "samples-destroy"),
        ("WITHDRAWAL BY SUBJECT", "DISPOSITION EVENT", "full"),
        ("OTHER", "OTHER EVENT", "no-new-data"),
    ]


def test_rficdtc_is_the_first_consent_not_the_assent() -> None:
    assert dm_row(_subject())["RFICDTC"] == "2026-03-03"
    assert dm_row(_subject(milestones=(ASSENT,)))["RFICDTC"] == ""


def test_columns_fit_sas_transport_version_5() -> None:
    for name, label, _kind in (*DS_COLUMNS, *DM_COLUMNS):
        assert len(name) <= 8 and name.isupper()
        assert len(label) <= 40
    assert set(ds_rows(_subject())[0]) == {name for name, _l, _k in DS_COLUMNS}
