"""The staff dashboard: live counters equal a recount of the projections, whatever happened."""

from __future__ import annotations

import csv
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from consentkit.cli import main
from consentkit.enums import RecordState, WithdrawalScope
from consentkit.errors import InvalidDataError
from consentkit.models.audit import AuditEvent, ConsentRecord
from consentkit.models.dashboard import DateCount, StatusCount, counter_key, split_key
from consentkit.models.participant import Participant
from consentkit.models.task import ConsentTask
from consentkit.services import (
    ceremony,
    dashboard,
    participants,
    participation,
    records,
    requirements,
    tasks,
    wallet,
)
from consentkit.services.evidence import AuthEvidence
from consentkit.services.importing import import_study
from tests.consentkit.records_helpers import (
    STAFF,
    T0,
    Family,
    consented_family,
    make_family,
    prepare,
    sign,
)

TRIAL = "DEMO-NBL-1"
SIGN_AT = T0 + timedelta(hours=25)
AWAITING = {RecordState.AWAITING_INFORMATION.value, RecordState.AWAITING_SIGNATURES.value}
STATES = [s.value for s in RecordState]


def recount(*, site_codes: Collection[str] | None = None, at: datetime = SIGN_AT) -> dict[str, Any]:
    """Count everything the summary shows straight from the projections and events."""
    sites = None if site_codes is None else set(site_codes)
    rows = [
        r for r in ConsentRecord.objects(trial_id=TRIAL) if sites is None or r.site_code in sites
    ]
    people = [
        p for p in Participant.objects(trial_id=TRIAL) if sites is None or p.site_code in sites
    ]

    def state(r: ConsentRecord) -> str:
        return "expired" if r.state in AWAITING and r.due_at < at else str(r.state)

    by_site: dict[str, Counter[str]] = {}
    by_form: dict[tuple[str, int], Counter[str]] = {}
    for r in rows:
        by_site.setdefault(r.site_code, Counter())[state(r)] += 1
        by_form.setdefault((r.form_id, r.version), Counter())[state(r)] += 1
    signed = {e.record_id for e in AuditEvent.objects(trial_id=TRIAL, type="signature.added")}
    on = at.date()
    competence = [
        p
        for p in people
        if on
        < requirements.requirements_for(p, on).competence_date
        <= on + timedelta(days=dashboard.COMPETENCE_WINDOW_DAYS)
    ]
    ids = {str(p.id) for p in people}
    scopes: dict[str, set[str]] = {}
    for event in AuditEvent.objects(trial_id=TRIAL, type="withdrawal.recorded"):
        if event.participant_id in ids:
            scopes.setdefault(event.participant_id, set()).update(event.payload["scopes"])
    withdrawn = Counter(s for chosen in scopes.values() for s in chosen)
    return {
        "records": len(rows),
        "by_state": {s: sum(1 for r in rows if state(r) == s) for s in STATES},
        "by_site": {code: {s: c[s] for s in STATES} for code, c in by_site.items()},
        "by_form_version": [
            {"form_id": f, "version": v, "by_state": {s: c[s] for s in STATES}}
            for (f, v), c in sorted(by_form.items())
        ],
        "by_language": dict(sorted(Counter(r.locale for r in rows).items())),
        "participants": len(people),
        "partially_consented": sum(
            1 for r in rows if state(r) == "awaiting-signatures" and r.record_id in signed
        ),
        "expired": sum(1 for r in rows if state(r) == "expired"),
        "competence_within_90_days": len(competence),
        "withdrawn_by_scope": {s.value: withdrawn[s.value] for s in WithdrawalScope},
    }


def event_states(at: datetime) -> dict[str, int]:
    """Count record states as derived from the events alone, the truth behind it all."""
    states = Counter(
        status.state.value
        for participant in Participant.objects(trial_id=TRIAL)
        for status in records.record_statuses(participant, at=at)
    )
    return {s: states[s] for s in STATES}


def assert_matches_recount(
    *, site_codes: Collection[str] | None = None, at: datetime = SIGN_AT
) -> dashboard.Summary:
    shown = dashboard.summary(TRIAL, site_codes=site_codes, at=at)
    expected = recount(site_codes=site_codes, at=at)
    # Sites without records show zeros; the recount only knows sites that have some.
    shown_sites = {code: states for code, states in shown.by_site.items() if any(states.values())}
    as_dict = asdict(shown)
    assert {**as_dict, "by_site": shown_sites} == {**as_dict, **expected}
    return shown


def _race(*actions: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = action()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _set_version(folder: Path, form: str, index: int, **changes: Any) -> None:
    path = folder / "forms" / form / "form.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["versions"][index].update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _opened(family: Family, form_id: str = "parental-consent", **kwargs: Any) -> Any:
    return records.open_record(family.participant, form_id=form_id, actor=STAFF, now=T0, **kwargs)


def _signed_by_one_guardian(code: str, site: str = "FR-01") -> tuple[Family, Any]:
    family = make_family(code, site=site)
    record = _opened(family)
    prepare(family, record, family.guardians[0])
    sign(family, record, family.guardians[0], at=SIGN_AT)
    return family, record


# ---------------------------------------------------------------- a realistic mix


@pytest.fixture
def mixed_study(clean_db: Any, study_folder: Path) -> Path:
    """Families in every state, on parental consent v1, with v2 (major) still approved only."""
    _set_version(study_folder, "parental-consent", 1, status="approved")
    import_study(study_folder)
    consented_family("P-001")
    withdrawing, _ = consented_family("P-002")
    participation.withdraw(
        withdrawing.participant,
        scopes=["samples-destroy", "no-further-contact"],
        actor=STAFF,
        expressed_by=str(withdrawing.guardians[0].id),
        now=SIGN_AT + timedelta(days=2),
    )
    _signed_by_one_guardian("P-003")
    _opened(make_family("P-004", site="DE-01"))
    declining = make_family("P-005", site="IT-01")
    record = _opened(declining)
    ceremony.decline(
        declining.participant,
        record.record_id,
        signer_id=str(declining.guardians[0].id),
        actor=STAFF,
        now=SIGN_AT,
    )
    dissenting, _ = consented_family("P-006", site="FR-02")
    participation.record_dissent(
        dissenting.participant,
        actor=STAFF,
        expressed_by=str(dissenting.child.id),
        now=SIGN_AT + timedelta(days=3),
    )
    leaving, _ = consented_family("P-007")
    participation.withdraw(
        leaving.participant,
        scopes=["full"],
        actor=STAFF,
        reason_declined=True,
        now=SIGN_AT + timedelta(days=4),
    )
    return study_folder


def test_summary_counts_a_realistic_mix_like_a_recount(mixed_study: Path) -> None:
    shown = assert_matches_recount()

    assert shown.participants == 7
    assert shown.records == 7
    assert shown.by_state["consented"] == 2
    assert shown.by_state["awaiting-signatures"] == 1
    assert shown.by_state["awaiting-information"] == 1
    assert (
        shown.by_state["declined"],
        shown.by_state["dissent"],
        shown.by_state["withdrawn"],
    ) == (1, 1, 1)
    assert shown.by_state["expired"] == shown.expired == 0
    assert shown.by_state == event_states(SIGN_AT)
    assert shown.partially_consented == 1
    assert shown.by_language == {"de": 1, "fr": 5, "it": 1}
    assert shown.withdrawn_by_scope["full"] == 1
    assert shown.withdrawn_by_scope["samples-destroy"] == 1
    assert shown.withdrawn_by_scope["stop-imp"] == 0
    assert shown.by_site["FR-01"]["consented"] == 2
    assert shown.by_site["ES-01"] == dict.fromkeys(STATES, 0)
    assert shown.reconsent_due == 0


def test_summary_follows_a_major_reconsent(mixed_study: Path) -> None:
    _set_version(mixed_study, "parental-consent", 1, status="published")
    import_study(mixed_study)  # publishes v2 (major): creates the re-consent tasks

    before = assert_matches_recount()
    tasks = ConsentTask.objects(trial_id=TRIAL, reason="reconsent", status="open").count()
    assert before.reconsent_due == tasks == 2  # P-001 and P-002, still consented on v1

    # The import's task events are stamped now, and a chain's times never go back.
    start = datetime.now(UTC) + timedelta(minutes=1)
    family = Family(Participant.objects.get(code="P-001"), *_signers_of("P-001"))
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=start
    )
    assert record.version == 2
    for guardian in family.guardians:
        prepare(family, record, guardian, at=start)
    for signer in (family.guardians[0], family.investigator, family.guardians[1]):
        sign(family, record, signer, at=start + timedelta(hours=25))

    after = assert_matches_recount(at=start + timedelta(hours=25))
    assert after.reconsent_due == 1
    assert after.by_state["superseded"] == 1
    [v1, v2] = after.by_form_version[:2]
    assert (v1.version, v1.by_state["superseded"], v1.by_state["consented"]) == (1, 1, 1)
    assert (v2.version, v2.by_state["consented"]) == (2, 1)


def _signers_of(code: str) -> tuple[list[Any], Any, Any]:
    signers = participants.signers_of(Participant.objects.get(code=code))
    guardians = [s for s in signers if s.role == "guardian"]
    child = next(s for s in signers if s.role == "participant")
    investigator = next(s for s in signers if s.role == "investigator")
    return guardians, child, investigator


def test_summary_counts_an_assent_beside_the_parental_consent(demo_study: Any) -> None:
    family, _ = consented_family("P-ASSENT")
    assent = _opened(family, form_id="assent-6-9")
    prepare(family, assent, family.child)  # stamped SIGN_AT: a chain's times never go back
    sign(family, assent, family.child, at=SIGN_AT + timedelta(hours=25))

    shown = assert_matches_recount(at=SIGN_AT + timedelta(hours=25))

    forms = {(f.form_id, f.version): f.by_state for f in shown.by_form_version}
    # assent-6-9 v2 (the hearing-loss update) is in force on T0
    assert forms[("assent-6-9", 2)]["awaiting-signatures"] == 1
    assert forms[("parental-consent", 2)]["consented"] == 1
    assert shown.partially_consented == 1


# ---------------------------------------------------------------- concurrency


@pytest.mark.parametrize("round_", range(3))
def test_counters_stay_exact_when_two_guardians_sign_at_once(demo_study: Any, round_: int) -> None:
    family = make_family(f"P-RACE-{round_}")
    record = _opened(family)
    for guardian in family.guardians:
        prepare(family, record, guardian)
    sign(family, record, family.guardians[0], at=SIGN_AT)
    sign(family, record, family.investigator, at=SIGN_AT)

    results = _race(
        lambda: sign(family, record, family.guardians[1], at=SIGN_AT),
        lambda: sign(family, record, family.guardians[0], at=SIGN_AT),  # a retried request
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    shown = assert_matches_recount()
    assert shown.by_state["consented"] == 1
    assert shown.by_state["awaiting-signatures"] == 0
    assert shown.partially_consented == 0


@pytest.mark.parametrize("round_", range(3))
def test_counters_stay_exact_when_a_withdrawal_races_a_signature(
    demo_study: Any, round_: int
) -> None:
    family, record = _signed_by_one_guardian(f"P-WD-{round_}")
    prepare(family, record, family.guardians[1])
    sign(family, record, family.investigator, at=SIGN_AT)

    _race(
        lambda: sign(family, record, family.guardians[1], at=SIGN_AT),
        lambda: participation.withdraw(
            family.participant, scopes=["full", "stop-imp"], actor=STAFF, now=SIGN_AT
        ),
        lambda: participation.withdraw(
            family.participant, scopes=["full"], actor=STAFF, now=SIGN_AT
        ),
    )

    shown = assert_matches_recount()
    assert shown.by_state["withdrawn"] == 1
    assert shown.withdrawn_by_scope["full"] == 1  # two withdrawals, one participant
    assert shown.withdrawn_by_scope["stop-imp"] == 1


# ---------------------------------------------------------------- scoping and time


def test_summary_for_a_site_list_leaves_other_sites_out(demo_study: Any) -> None:
    consented_family("P-FR")
    _signed_by_one_guardian("P-FR2", site="FR-02")
    _opened(make_family("P-DE", site="DE-01"))

    shown = assert_matches_recount(site_codes=["FR-01", "FR-02"])

    assert shown.sites == ["FR-01", "FR-02"]
    assert set(shown.by_site) == {"FR-01", "FR-02"}
    assert shown.participants == 2
    assert shown.records == 2
    assert shown.by_language == {"fr": 2}
    assert shown.by_state["awaiting-information"] == 0  # DE-01's record is not counted
    assert dashboard.summary(TRIAL, site_codes=["DE-01"], at=SIGN_AT).records == 1
    assert dashboard.summary(TRIAL, site_codes=[], at=SIGN_AT).records == 0


def test_expired_counts_open_records_once_their_window_has_passed(demo_study: Any) -> None:
    _opened(make_family("P-IDLE", site="DE-01"))
    _signed_by_one_guardian("P-HALF")
    consented_family("P-DONE")
    due = T0 + timedelta(days=30)  # the demo study's completion window

    before = assert_matches_recount(at=due - timedelta(days=1))
    assert (before.expired, before.partially_consented) == (0, 1)
    assert dashboard.summary(TRIAL, at=due).expired == 0  # expired only after the end
    just_after = assert_matches_recount(at=due + timedelta(seconds=1))
    assert just_after.expired == 2
    assert just_after.by_state == event_states(due + timedelta(seconds=1))
    later = assert_matches_recount(at=due + timedelta(days=400))
    assert later.by_state["expired"] == later.expired == 2
    assert later.by_state["awaiting-signatures"] == later.partially_consented == 0
    assert later.by_site["DE-01"]["expired"] == 1
    assert later.by_state["consented"] == 1
    assert assert_matches_recount(at=due + timedelta(days=1), site_codes=["DE-01"]).expired == 1


def test_expired_stops_counting_a_record_that_is_completed(demo_study: Any) -> None:
    family, record = _signed_by_one_guardian("P-LATE")
    prepare(family, record, family.guardians[1])  # stamped SIGN_AT
    sign(family, record, family.investigator, at=SIGN_AT)
    sign(family, record, family.guardians[1], at=SIGN_AT + timedelta(hours=25))

    assert assert_matches_recount(at=T0 + timedelta(days=60)).expired == 0


def test_competence_within_90_days_follows_each_country(demo_study: Any) -> None:
    at = T0  # 2026-03-02
    make_family("P-FR-17", birth_date=date(2008, 5, 1))  # FR: 18 on 2026-05-01, in 60 days
    make_family("P-FR-LATER", birth_date=date(2008, 7, 15))  # 18 in 135 days
    make_family("P-UK-15", site="GB-ENG-01", birth_date=date(2010, 4, 1))  # England: 16
    make_family("P-FR-ADULT", birth_date=date(2008, 3, 2))  # 18 today: already competent

    shown = assert_matches_recount(at=at)

    assert shown.competence_within_90_days == 2
    assert dashboard.summary(TRIAL, site_codes=["GB-ENG-01"], at=at).competence_within_90_days == 1


def test_competence_within_90_days_follows_a_corrected_birth_date(demo_study: Any) -> None:
    family = make_family("P-FIX", birth_date=date(2008, 7, 15))
    assert dashboard.summary(TRIAL, at=T0).competence_within_90_days == 0

    participation.change_birth_date(
        family.participant, date(2008, 5, 15), reason="typo", actor=STAFF, now=T0
    )

    assert assert_matches_recount(at=T0).competence_within_90_days == 1
    assert Participant.objects.get(code="P-FIX").competence_date == date(2026, 5, 15)


# ---------------------------------------------------------------- rebuilding


def test_rebuild_counts_repairs_a_corrupted_counter(demo_study: Any) -> None:
    consented_family("P-001")
    _signed_by_one_guardian("P-002")
    make_family("P-OLD", birth_date=date(2008, 5, 1))
    key = counter_key("parental-consent", 2, "fr", "consented")
    StatusCount._get_collection().update_one(
        {"trial_id": TRIAL, "site_code": "FR-01"},
        {"$inc": {f"counts.{key}": 5, "participants": -1}},
    )
    DateCount._get_collection().update_many(
        {"trial_id": TRIAL, "metric": "competence"}, {"$set": {"counts": {}}}
    )
    assert dashboard.summary(TRIAL, at=T0).by_state["consented"] == 6

    report = dashboard.rebuild_counts(TRIAL)

    assert len(report.corrected) == 4, report.corrected
    assert "rebuilt, 4 corrected" in report.summary()
    assert assert_matches_recount(at=T0).by_state["consented"] == 1
    assert dashboard.rebuild_counts(TRIAL).corrected == []


def test_counters_keep_when_each_states_latest_and_the_first_record_opened(
    demo_study: Any,
) -> None:
    # The worklists start their walk from these bounds: as the services keep them, they are
    # what a recount of the records gives (a record's latest state; the site's first record).
    consented_family("P-001")
    _signed_by_one_guardian("P-002")
    kept = StatusCount._get_collection().find_one({"trial_id": TRIAL, "site_code": "FR-01"})
    records = list(ConsentRecord.objects(trial_id=TRIAL, site_code="FR-01"))

    dashboard.rebuild_counts(TRIAL)
    recounted = StatusCount._get_collection().find_one({"trial_id": TRIAL, "site_code": "FR-01"})

    latest = {}
    for record in records:
        key = counter_key(record.form_id, record.version, record.locale, record.state)
        latest[key] = max(latest.get(key, record.opened_at), record.opened_at)
    assert recounted["newest"] == latest
    # Kept live, the bounds also remember the states the records passed through (awaiting).
    assert {key: kept["newest"][key] for key in latest} == latest
    assert set(kept["newest"]) > set(latest)
    assert kept["oldest_opened"] == recounted["oldest_opened"] == min(latest.values())


def test_cli_dashboard_rebuild(
    demo_study: Any, connected: str, db_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENTKIT_MONGODB_URI", connected)
    monkeypatch.setenv("CONSENTKIT_MONGODB_DB", db_name)
    consented_family("P-001")
    StatusCount._get_collection().update_one({"trial_id": TRIAL}, {"$inc": {"participants": 3}})

    result = CliRunner().invoke(main, ["dashboard", "rebuild", "--trial", TRIAL])

    assert result.exit_code == 0, result.output
    assert "1 corrected" in result.output
    assert "FR-01 participants: 4 -> 1" in result.output
    assert dashboard.summary(TRIAL, at=SIGN_AT).participants == 1


# ---------------------------------------------------------------- the worklist


@pytest.fixture
def worklist(demo_study: Any) -> None:
    for index in range(1, 6):
        consented_family(f"P-00{index}")
    _signed_by_one_guardian("P-010")
    _signed_by_one_guardian("Q-001", site="FR-02")
    _opened(make_family("P-020", site="DE-01"))


def _table(**filters: Any) -> tuple[list[dashboard.WorklistRow], int]:
    page = dashboard.status_table(TRIAL, **filters)
    return page.items, page.total


def _codes(rows: Iterable[dashboard.WorklistRow]) -> list[str]:
    return [row.participant_code for row in rows]


def _all_pages(
    page_size: int, cursor: str | None = None, **filters: Any
) -> list[dashboard.WorklistPage]:
    pages = [dashboard.status_table(TRIAL, page_size=page_size, cursor=cursor, **filters)]
    while pages[-1].next_cursor is not None:
        cursor = pages[-1].next_cursor
        pages.append(dashboard.status_table(TRIAL, page_size=page_size, cursor=cursor, **filters))
    return pages


def test_status_table_pages_newest_first_by_cursor(worklist: None) -> None:
    first, second, last = _all_pages(3, at=SIGN_AT)

    assert (first.total, last.next_cursor) == (8, None)
    # Opened at the same moment: the later record (larger id) first.
    assert _codes(first.items) == ["P-020", "Q-001", "P-010"]
    assert _codes(second.items) == ["P-005", "P-004", "P-003"]
    assert _codes(last.items) == ["P-002", "P-001"]
    row = first.items[-1]
    assert (row.site_code, row.form_id, row.version, row.locale) == (
        "FR-01",
        "parental-consent",
        2,
        "fr",
    )
    assert row.state == "awaiting-signatures"
    assert row.missing_signers == ["guardian", "investigator"]
    assert row.due_at == row.opened_at + timedelta(days=30)
    assert row.completed_at is None
    assert last.items[-1].completed_at == SIGN_AT


def test_status_table_cursor_neither_skips_nor_repeats_rows_added_while_paging(
    worklist: None,
) -> None:
    before = [r.record_id for r in dashboard.status_table(TRIAL, at=SIGN_AT, page_size=500).items]
    first = dashboard.status_table(TRIAL, at=SIGN_AT, page_size=3)
    # Families enrolled while staff page: one opened later, one at the same moment.
    later = T0 + timedelta(hours=1)
    new = make_family("P-NEW", site="FR-02").participant
    records.open_record(new, form_id="parental-consent", actor=STAFF, now=later)
    _opened(make_family("P-TIE", site="DE-01"))
    rest = _all_pages(3, at=SIGN_AT, cursor=first.next_cursor)
    walked = [r.record_id for page in [first, *rest] for r in page.items]

    assert walked == before
    fresh = dashboard.status_table(TRIAL, at=SIGN_AT, page_size=2)
    assert _codes(fresh.items) == ["P-NEW", "P-TIE"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "bm90IGEgY3Vyc29y",  # base64 of "not a cursor"
        "MjAyNi0wMy0wMlQwOTowMDowMC4wMDAwMDArMDA6MDB8eno",  # a date and a bad id
        "MjAyNi0wMy0wMlQwOTowMDowMHw2NWYwMDAwMDAwMDAwMDAwMDAwMDAwMDA",  # no time zone
        "",
    ],
)
def test_status_table_refuses_a_cursor_it_did_not_give_out(worklist: None, cursor: str) -> None:
    with pytest.raises(InvalidDataError) as refused:
        dashboard.status_table(TRIAL, at=SIGN_AT, cursor=cursor)

    assert refused.value.code == "bad-cursor"


def test_status_table_filters_by_state_site_form_and_code_prefix(worklist: None) -> None:
    awaiting, total = _table(at=SIGN_AT, state="awaiting-signatures")
    assert (_codes(awaiting), total) == (["Q-001", "P-010"], 2)

    own_site, total = _table(at=SIGN_AT, site_codes=["FR-01"], state="awaiting-signatures")
    assert (_codes(own_site), total) == (["P-010"], 1)

    two_sites, total = _table(at=SIGN_AT, site_codes=["FR-02", "DE-01"])
    assert (_codes(two_sites), total) == (["P-020", "Q-001"], 2)

    found, total = _table(at=SIGN_AT, search="P-01")
    assert (_codes(found), total) == (["P-010"], None)
    found, _ = _table(at=SIGN_AT, search="P-010")
    assert _codes(found) == ["P-010"]

    assert _codes(_table(at=SIGN_AT, search="P-0", site_codes=["DE-01"])[0]) == ["P-020"]
    assert _table(at=SIGN_AT, form_id="assent-6-9") == ([], 0)
    assert _table(at=SIGN_AT, form_id="parental-consent", state="consented")[1] == 5


def test_status_table_shows_and_finds_expired_records(worklist: None) -> None:
    late = T0 + timedelta(days=31)

    expired, total = _table(at=late, state="expired")
    still_open, _ = _table(at=late, state="awaiting-signatures")

    assert (_codes(expired), total) == (["P-020", "Q-001", "P-010"], 3)
    assert {row.state for row in expired} == {"expired"}
    assert still_open == []
    assert dashboard.summary(TRIAL, at=late).expired == 3


def test_status_table_refuses_a_bad_page_size_or_state(worklist: None) -> None:
    with pytest.raises(InvalidDataError):
        dashboard.status_table(TRIAL, at=SIGN_AT, page_size=0)
    with pytest.raises(InvalidDataError):
        dashboard.status_table(TRIAL, at=SIGN_AT, page_size=501)
    with pytest.raises(InvalidDataError):
        dashboard.status_table(TRIAL, at=SIGN_AT, state="signed")


def test_export_rows_streams_every_matching_row_in_worklist_order(worklist: None) -> None:
    rows = list(dashboard.export_rows(TRIAL, at=SIGN_AT))
    page, _ = _table(at=SIGN_AT, page_size=500)

    assert rows == page
    assert _codes(list(dashboard.export_rows(TRIAL, at=SIGN_AT, site_codes=["FR-02"]))) == ["Q-001"]


def test_export_has_a_column_per_item_choice_and_withdrawal_scope_ids_last(
    demo_study: Any,
) -> None:
    family = make_family("P-CHO")
    record = _opened(family)
    first, second = family.guardians
    prepare(family, record, first, choices={"genetic-analysis": False})
    prepare(family, record, second)
    for signer in (first, family.investigator, second):
        sign(family, record, signer, at=SIGN_AT)
    participation.withdraw(family.participant, scopes=["samples-destroy"], actor=STAFF, now=SIGN_AT)

    made = dashboard.export(TRIAL, "csv", at=SIGN_AT)
    header, row = list(csv.reader("".join(made.content).splitlines()))
    line = dict(zip(header, row, strict=True))

    assert header[0] == "participant_code" and header[-1] == "record_id"
    assert (line["participant_code"], line["record_id"]) == ("P-CHO", record.record_id)
    # The guardians chose differently on genetic analysis, alike on participation.
    assert (line["choice:participation"], line["choice:genetic-analysis"]) == ("yes", "yes/no")
    assert line["withdrawn:samples-destroy"] == "yes"
    assert line["withdrawn:full"] == ""
    assert {f"withdrawn:{s.value}" for s in WithdrawalScope} <= set(header)


def test_export_choice_column_follows_a_choice_changed_after_signing(demo_study: Any) -> None:
    family, record = consented_family("P-CHG")
    later = SIGN_AT + timedelta(days=1)
    for guardian in family.guardians:
        wallet.change_choice(
            str(guardian.id),
            record.record_id,
            item_id="sample-storage",
            value=False,
            auth=AuthEvidence(factors=("session", "otp"), verified_at=later),
            now=later,
        )

    made = dashboard.export(TRIAL, "csv", at=later)
    header, row = list(csv.reader("".join(made.content).splitlines()))
    line = dict(zip(header, row, strict=True))

    assert (line["choice:sample-storage"], line["choice:participation"]) == ("no", "yes")


def test_summary_at_defaults_to_now(worklist: None) -> None:
    shown = dashboard.summary(TRIAL)

    assert abs(shown.at - datetime.now(UTC)) < timedelta(minutes=1)
    assert shown.expired == recount(at=shown.at)["expired"]


@pytest.mark.parametrize("part", ["FR-01", "site.with.dots", "a|b", "$x", "50%", "fr-BE"])
def test_counter_keys_round_trip_any_site_code_or_locale(part: str) -> None:
    key = counter_key(part, 2, "fr-BE", "consented")

    assert "." not in key and not key.startswith("$")
    assert split_key(key) == [part, "2", "fr-BE", "consented"]


# ---------------------------------------------------------------- what needs attention, listed

DUE_AT = T0 + timedelta(days=10)  # 2026-03-12


@pytest.fixture
def due_world(mixed_study: Path) -> Path:
    """Something behind every "needs attention" count of the dashboard.

    P-001 and P-002 consented on v1 when v2 (major) is published; P-006 dissented;
    P-COMP (France) and P-COMP-GB (England) reach competence within 90 days; P-BAND turns 10
    on 2026-04-01 (a new assent band); P-ADULT turned 18 on 2026-03-05 with only the
    parents' consent, and is suspended until they consent themselves.
    """
    _set_version(mixed_study, "parental-consent", 1, status="published")
    import_study(mixed_study)
    for code, site, born in (
        ("P-COMP", "FR-01", date(2008, 5, 1)),
        ("P-COMP-GB", "GB-ENG-01", date(2010, 4, 1)),
        ("P-BAND", "FR-01", date(2016, 4, 1)),
    ):
        _opened(make_family(code, site=site, birth_date=born))
    adult, _ = consented_family("P-ADULT", birth_date=date(2008, 3, 5))
    participation.withdraw(
        adult.participant, scopes=["no-further-contact"], actor=STAFF, now=T0 + timedelta(days=8)
    )
    tasks.create_due_tasks(on=DUE_AT.date(), trial_id=TRIAL)
    return mixed_study


def _due_counts(**filters: Any) -> dict[str, int]:
    return {d.due: d.count for d in dashboard.summary(TRIAL, at=DUE_AT, **filters).due}


def test_status_table_due_filters_list_exactly_what_the_dashboard_counted(
    due_world: Path,
) -> None:
    expected = {
        "reconsent": ["P-001", "P-002"],
        "competence": ["P-COMP", "P-COMP-GB"],
        "band-change": ["P-BAND"],
        "suspended": ["P-ADULT"],
        "dissent": ["P-006"],
    }
    counts = _due_counts()

    listed = {
        due: dashboard.status_table(TRIAL, due=due, at=DUE_AT, page_size=500)
        for due in dashboard.DUE_FILTERS
    }

    assert {due: page.total for due, page in listed.items()} == counts
    # Which rows, not their order (newest first: test_status_table_pages_newest_first...).
    assert {due: sorted(_codes(page.items)) for due, page in listed.items()} == expected
    assert [r.state for r in listed["suspended"].items] == ["suspended-awaiting-own-consent"]
    assert {r.version for r in listed["reconsent"].items} == {1}


def test_status_table_due_filters_follow_the_site_filter(due_world: Path) -> None:
    for sites in (["GB-ENG-01"], ["FR-01"], ["FR-02", "IT-01"]):
        counts = _due_counts(site_codes=sites)
        totals = {
            due: dashboard.status_table(TRIAL, site_codes=sites, due=due, at=DUE_AT).total
            for due in dashboard.DUE_FILTERS
        }
        assert totals == counts, sites
    assert _due_counts(site_codes=["GB-ENG-01"])["competence"] == 1


def test_status_table_due_filter_pages_one_row_per_participant(due_world: Path) -> None:
    first = dashboard.status_table(TRIAL, due="competence", at=DUE_AT, page_size=1)
    cursor = first.next_cursor
    second = dashboard.status_table(TRIAL, due="competence", at=DUE_AT, cursor=cursor, page_size=1)

    assert (first.total, second.next_cursor) == (2, None)
    assert sorted(_codes(first.items + second.items)) == ["P-COMP", "P-COMP-GB"]
    exported = list(dashboard.export_rows(TRIAL, due="competence", at=DUE_AT))
    assert exported == first.items + second.items


def test_status_table_due_filter_and_another_state_match_nothing(due_world: Path) -> None:
    assert dashboard.status_table(TRIAL, due="dissent", state="consented", at=DUE_AT).total == 0
    assert dashboard.status_table(TRIAL, due="dissent", state="dissent", at=DUE_AT).total == 1


def test_status_table_refuses_an_unknown_due_filter(due_world: Path) -> None:
    with pytest.raises(InvalidDataError) as refused:
        dashboard.status_table(TRIAL, due="overdue", at=DUE_AT)

    assert refused.value.code == "unknown-due-filter"


def test_band_change_due_stops_counting_a_task_no_longer_open(due_world: Path) -> None:
    ConsentTask.objects(participant_code="P-BAND").update(status="done")

    assert _due_counts()["band-change"] == 0
    assert dashboard.status_table(TRIAL, due="band-change", at=DUE_AT).total == 0
