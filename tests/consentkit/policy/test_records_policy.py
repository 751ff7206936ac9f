"""Record states, item grants and the participation profile, derived from events alone.

No database: the events are the plain dicts the audit trail stores (payloads as
documented with the services that write them, e.g. :mod:`consentkit.services.ceremony`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentkit.enums import ItemCode, RecordState, WithdrawalScope
from consentkit.policy.records import (
    REVOKED_BY,
    participant_records,
    participation_profile,
    record_status,
    standing,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SIGNED = T0 + timedelta(hours=25)
LATER = T0 + timedelta(days=10)
EXPIRED = T0 + timedelta(days=31)
SECTIONS = ["why", "risks", "stopping"]
MUM, DAD, DOC = "guardian-a", "guardian-b", "investigator-1"
ITEMS = [
    {"id": "participation", "code": "participation", "required": True},
    {"id": "randomisation", "code": "randomisation", "required": True},
    {"id": "sample-storage", "code": "sample-storage", "required": False},
    {"id": "genetic-analysis", "code": "genetic-analysis", "required": False},
    {"id": "future-research", "code": "future-research", "required": False},
    {"id": "data-use-outside-protocol", "code": "data-use-outside-protocol", "required": False},
    {"id": "re-contact", "code": "re-contact", "required": False},
]


class Trail:
    """A participant's events, appended in order with consecutive ``seq``."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(
        self, type: str, payload: dict[str, Any], *, at: datetime, record_id: str | None = None
    ) -> dict[str, Any]:
        event = {
            "seq": len(self.events) + 1,
            "type": type,
            "at": at,
            "record_id": record_id,
            "payload": payload,
        }
        self.events.append(event)
        return event

    def open(
        self,
        record_id: str = "r1",
        *,
        form_id: str = "parental-consent",
        kind: str = "parental-consent",
        version: int = 2,
        signers: Sequence[tuple[str, str]] = (
            (MUM, "guardian"),
            (DAD, "guardian"),
            (DOC, "investigator"),
        ),
        items: Sequence[dict[str, Any]] = ITEMS,
        at: datetime = T0,
    ) -> dict[str, Any]:
        payload = {
            "record_id": record_id,
            "form_id": form_id,
            "form_kind": kind,
            "version": version,
            "locale": "fr",
            "content_sha256": {"fr": "0" * 64},
            "section_ids": SECTIONS,
            "items": list(items),
            "question_ids": [],
            "comprehension": None,
            "required_signers": [{"signer_id": s, "role": r} for s, r in signers],
            "reflection_hours": 24,
            "window_days": 30,
            "requirements": {},
        }
        return self.add("record.opened", payload, at=at, record_id=record_id)

    def view(
        self, signer: str, sections: Iterable[str] = SECTIONS, *, record_id: str = "r1"
    ) -> None:
        payload = {
            "signer_id": signer,
            "locale": "fr",
            "sections": [{"id": s, "seconds": 30} for s in sections],
            "client_at": None,
        }
        self.add("information.viewed", payload, at=T0, record_id=record_id)

    def choose(self, signer: str, *, record_id: str = "r1", **noes: bool) -> None:
        choices = {i["id"]: True for i in ITEMS}
        choices.update({k.replace("_", "-"): v for k, v in noes.items()})
        payload = {"signer_id": signer, "choices": choices}
        self.add("items.chosen", payload, at=T0, record_id=record_id)

    def sign(self, signer: str, *, record_id: str = "r1", at: datetime = SIGNED) -> None:
        self.add("signature.added", {"signer_id": signer}, at=at, record_id=record_id)

    def decline(self, signer: str, *, record_id: str = "r1") -> None:
        payload = {"signer_id": signer, "reason": None}
        self.add("consent.declined", payload, at=SIGNED, record_id=record_id)

    def dissent(self, *, at: datetime = LATER) -> None:
        payload = {"expressed_by": "child", "channel": "in-person", "note": None}
        self.add("assent.dissent", payload, at=at)

    def withdraw(self, *scopes: str, at: datetime = LATER) -> None:
        payload = {
            "scopes": sorted(scopes),
            "expressed_by": MUM,
            "channel": "app",
            "reason": None,
            "reason_declined": False,
        }
        self.add("withdrawal.recorded", payload, at=at)

    def consent(self, record_id: str = "r1", **kwargs: Any) -> dict[str, Any]:
        """Open a record; every required signer reads, says yes to all and signs."""
        opened = self.open(record_id, **kwargs)
        required = opened["payload"]["required_signers"]
        family = [s["signer_id"] for s in required if s["role"] != "investigator"]
        for signer in family:
            self.view(signer, record_id=record_id)
            self.choose(signer, record_id=record_id)
            self.sign(signer, record_id=record_id)
        for signer in required:
            if signer["role"] == "investigator":
                self.sign(signer["signer_id"], record_id=record_id)
        return opened

    def status(self, opened: dict[str, Any], *, at: datetime = LATER) -> Any:
        return record_status(opened, self.events, at=at)

    def profile(self, *, at: datetime = LATER, own_consent_due: bool = False) -> dict[str, Any]:
        return participation_profile(self.events, at=at, own_consent_due=own_consent_due).to_dict()


def _all_signed(trail: Trail, opened: dict[str, Any]) -> None:
    for guardian in (MUM, DAD):
        trail.view(guardian)
        trail.choose(guardian)
        trail.sign(guardian)
    trail.sign(DOC)


# ---------------------------------------------------------------- record_status


def _dissent_beats_all(trail: Trail, opened: dict[str, Any]) -> None:
    _all_signed(trail, opened)
    trail.withdraw("full")
    trail.dissent()


def _withdrawn_beats_declined(trail: Trail, opened: dict[str, Any]) -> None:
    trail.decline(MUM)
    trail.withdraw("full")


def _declined_beats_consented(trail: Trail, opened: dict[str, Any]) -> None:
    _all_signed(trail, opened)
    trail.decline(DAD)


def _consented(trail: Trail, opened: dict[str, Any]) -> None:
    _all_signed(trail, opened)


def _one_parent_read(trail: Trail, opened: dict[str, Any]) -> None:
    trail.view(MUM)


def _partly_read(trail: Trail, opened: dict[str, Any]) -> None:
    trail.view(MUM, SECTIONS[:2])


def _investigator_signed(trail: Trail, opened: dict[str, Any]) -> None:
    trail.sign(DOC)


def _nothing(trail: Trail, opened: dict[str, Any]) -> None:
    pass


@pytest.mark.parametrize(
    ("steps", "at", "expected"),
    [
        (_dissent_beats_all, LATER, RecordState.DISSENT),
        (_withdrawn_beats_declined, LATER, RecordState.WITHDRAWN),
        (_declined_beats_consented, LATER, RecordState.DECLINED),
        (_consented, EXPIRED, RecordState.CONSENTED),
        (_one_parent_read, EXPIRED, RecordState.EXPIRED),
        (_nothing, EXPIRED, RecordState.EXPIRED),
        (_one_parent_read, LATER, RecordState.AWAITING_SIGNATURES),
        (_investigator_signed, LATER, RecordState.AWAITING_SIGNATURES),
        (_partly_read, LATER, RecordState.AWAITING_INFORMATION),
        (_nothing, LATER, RecordState.AWAITING_INFORMATION),
    ],
    ids=[
        "dissent>withdrawn",
        "withdrawn>declined",
        "declined>consented",
        "consented>expired",
        "expired>awaiting-signatures",
        "expired>awaiting-information",
        "read-all-awaits-signatures",
        "a-signature-awaits-the-rest",
        "partly-read-awaits-information",
        "opened-awaits-information",
    ],
)
def test_record_status_derivation_order(steps: Any, at: datetime, expected: RecordState) -> None:
    trail = Trail()
    opened = trail.open()
    steps(trail, opened)

    assert trail.status(opened, at=at).state == expected


def test_record_status_expires_after_the_window_not_on_its_last_day() -> None:
    trail = Trail()
    opened = trail.open()

    assert trail.status(opened, at=T0 + timedelta(days=30)).state == "awaiting-information"
    assert trail.status(opened, at=T0 + timedelta(days=30, seconds=1)).state == "expired"


def test_record_status_ignores_events_of_other_records() -> None:
    trail = Trail()
    first = trail.open("r1")
    trail.consent("r2", form_id="assent-6-9", kind="child-assent", version=1)

    assert trail.status(first).state == "awaiting-information"


def test_record_status_ignores_a_withdrawal_before_the_record_was_opened() -> None:
    trail = Trail()
    trail.withdraw("stop-imp", at=T0 - timedelta(days=1))
    opened = trail.open()
    _all_signed(trail, opened)

    status = trail.status(opened)

    assert (status.state, status.withdrawn_scopes) == ("consented", [])


def test_record_status_completed_at_is_the_last_required_signature() -> None:
    trail = Trail()
    opened = trail.open()
    _all_signed(trail, opened)
    trail.events[-1]["at"] = SIGNED + timedelta(minutes=5)

    assert trail.status(opened).completed_at == SIGNED + timedelta(minutes=5)


# ---------------------------------------------------------------- item grants


def test_item_grants_need_every_choosers_yes() -> None:
    trail = Trail()
    opened = trail.open()
    trail.view(MUM)
    trail.choose(MUM, genetic_analysis=False)
    trail.view(DAD)
    trail.choose(DAD)
    for signer in (MUM, DAD, DOC):
        trail.sign(signer)

    grants = trail.status(opened).item_grants

    assert grants["genetic-analysis"] is False
    assert grants["sample-storage"] is True


def test_item_grants_are_all_false_until_the_record_is_consented() -> None:
    trail = Trail()
    opened = trail.open()
    trail.view(MUM)
    trail.choose(MUM)
    trail.sign(MUM)

    assert not any(trail.status(opened).item_grants.values())


def test_item_grants_the_investigator_who_chooses_nothing_does_not_veto() -> None:
    trail = Trail()
    opened = trail.consent()

    assert all(trail.status(opened).item_grants.values())


def test_item_grants_a_later_choice_replaces_an_earlier_one() -> None:
    trail = Trail()
    opened = trail.open()
    trail.view(MUM)
    trail.choose(MUM, re_contact=False)
    trail.choose(MUM)
    trail.view(DAD)
    trail.choose(DAD)
    for signer in (MUM, DAD, DOC):
        trail.sign(signer)

    assert trail.status(opened).item_grants["re-contact"] is True


@pytest.mark.parametrize(
    ("code", "scope"),
    sorted((code, scope) for code, scopes in REVOKED_BY.items() for scope in scopes),
)
def test_item_grants_a_revoking_scope_removes_the_grant(code: str, scope: str) -> None:
    items = [{"id": code, "code": code, "required": False}]
    trail = Trail()
    opened = trail.open(items=items, signers=[(MUM, "guardian")])
    trail.view(MUM)
    trail.add("items.chosen", {"signer_id": MUM, "choices": {code: True}}, at=T0, record_id="r1")
    trail.sign(MUM)
    trail.withdraw(scope)

    assert trail.status(opened).item_grants[code] is False


@pytest.mark.parametrize(
    ("code", "scope"),
    [
        (ItemCode.SAMPLE_STORAGE, WithdrawalScope.STOP_IMP),
        (ItemCode.GENETIC_ANALYSIS, WithdrawalScope.NO_FURTHER_CONTACT),
        (ItemCode.RE_CONTACT, WithdrawalScope.SAMPLES_DESTROY),
        (ItemCode.RANDOMISATION, WithdrawalScope.STOP_STUDY_PROCEDURES),
        (ItemCode.DATA_USE_OUTSIDE_PROTOCOL, WithdrawalScope.SAMPLES_STOP_COLLECTION),
    ],
)
def test_item_grants_an_unrelated_scope_keeps_the_grant(code: str, scope: str) -> None:
    trail = Trail()
    opened = trail.consent()
    trail.withdraw(scope)

    assert trail.status(opened).item_grants[code] is True


# ---------------------------------------------------------------- participation_profile


EVERYTHING = {
    "treatment": True,
    "randomisation": True,
    "study_procedures": True,
    "data_collection": "all",
    "sample_collection": True,
    "sample_future_use": True,
    "genetic_analysis": True,
    "use_outside_protocol": True,
    "contact": True,
    "re_contact": True,
}


#: What each scope of research notes 6.3 stops, written from the text (not the code):
#: everything else stays as with no withdrawal. Pre-withdrawal data are never touched
#: (CTR Art 28(3), GDPR Art 7(3)); these are permissions for what happens next.
NO_CONTACT = {"contact": False, "re_contact": False}
NO_NEW_COLLECTION = {
    "study_procedures": False,
    "randomisation": False,
    "sample_collection": False,
}


@pytest.mark.parametrize(
    ("scopes", "changed"),
    [
        ((), {}),
        # 6.3(1) stop investigational treatment; the participant remains in the trial.
        (("stop-imp",), {"treatment": False}),
        # 6.3(2) stop study-specific visits/tests/questionnaires, optional sub-studies:
        # a research sample and a randomisation are study-specific procedures too.
        (("stop-study-procedures",), NO_NEW_COLLECTION),
        # 6.3(3) "no contact, but data from routine care ... may still be collected".
        (
            ("routine-data-only",),
            {**NO_NEW_COLLECTION, **NO_CONTACT, "data_collection": "routine-care-only"},
        ),
        # 6.3(4) "no further data collection of any kind": samples and randomisation too.
        (("no-new-data",), {**NO_NEW_COLLECTION, "data_collection": "none"}),
        # 6.3(8) refusal of a randomisation, staying in follow-up.
        (("randomisation-refusal",), {"randomisation": False}),
        # 6.3(7) no further contact, including results: contact and re-contact.
        (("no-further-contact",), NO_CONTACT),
        # 6.3(6) revoke the CTR 28(2) secondary-use consent.
        (("no-use-outside-protocol",), {"use_outside_protocol": False, "sample_future_use": False}),
        # 6.3(5) per-sample consent.
        (("samples-stop-collection",), {"sample_collection": False}),
        (
            ("samples-no-future-use",),
            {"sample_collection": False, "sample_future_use": False, "genetic_analysis": False},
        ),
        (
            ("samples-destroy",),
            {"sample_collection": False, "sample_future_use": False, "genetic_analysis": False},
        ),
        (("samples-anonymise",), {"sample_collection": False}),
        (
            ("stop-imp", "samples-stop-collection"),
            {"treatment": False, "sample_collection": False},
        ),
    ],
    ids=lambda value: ("+".join(value) or "none") if isinstance(value, tuple) else None,
)
def test_participation_profile_permissions_by_scope(
    scopes: tuple[str, ...], changed: dict[str, Any]
) -> None:
    trail = Trail()
    trail.consent()
    if scopes:
        trail.withdraw(*scopes)

    profile = trail.profile()

    assert profile["participating"] is True
    assert profile["blocked_by"] == []
    assert profile["permissions"] == {**EVERYTHING, **changed}


def test_participation_profile_full_withdrawal_stops_everything_but_contact() -> None:
    trail = Trail()
    trail.consent()
    trail.withdraw("full")

    profile = trail.profile()

    assert (profile["participating"], profile["blocked_by"]) == (False, ["withdrawn"])
    assert profile["permissions"] == {
        **dict.fromkeys(EVERYTHING, False),
        "data_collection": "none",
        # Safety follow-up after withdrawal still needs a way to reach the family.
        "contact": True,
    }


def test_participation_profile_dissent_blocks_despite_parental_consent() -> None:
    trail = Trail()
    trail.consent()
    trail.dissent()

    profile = trail.profile()

    assert (profile["participating"], profile["blocked_by"]) == (False, ["dissent"])
    assert profile["permissions"]["treatment"] is False


def test_participation_profile_without_a_record_is_blocked_by_no_consent() -> None:
    assert Trail().profile()["blocked_by"] == ["no-consent"]


def test_participation_profile_an_assent_alone_does_not_allow_participation() -> None:
    trail = Trail()
    trail.consent(form_id="assent-6-9", kind="child-assent", version=1)

    profile = trail.profile()

    assert (profile["participating"], profile["blocked_by"]) == (False, ["no-consent"])


def test_participation_profile_samples_destroy_stops_sample_collection_and_genetics() -> None:
    trail = Trail()
    trail.consent()
    trail.withdraw("samples-destroy")

    permissions = trail.profile()["permissions"]

    assert (permissions["sample_collection"], permissions["genetic_analysis"]) == (False, False)
    assert permissions["treatment"] is True


def test_participation_profile_samples_destroy_ends_future_use_of_the_samples() -> None:
    trail = Trail()
    trail.consent()
    trail.withdraw("samples-destroy")

    assert trail.profile()["permissions"]["sample_future_use"] is False


@pytest.mark.parametrize(
    ("scope", "action"),
    [
        ("samples-destroy", "samples-destroy"),
        ("samples-anonymise", "samples-anonymise"),
        ("samples-stop-collection", None),
    ],
)
def test_participation_profile_says_what_to_do_with_held_samples(
    scope: str, action: str | None
) -> None:
    trail = Trail()
    trail.consent()
    trail.withdraw(scope)

    assert trail.profile()["samples_action"] == action


def test_participation_profile_awaits_own_consent_at_competence() -> None:
    trail = Trail()
    trail.consent()

    profile = trail.profile(own_consent_due=True)

    assert profile["participating"] is False
    assert profile["blocked_by"] == ["awaiting-own-consent"]


def test_participation_profile_own_consent_at_competence_lifts_the_suspension() -> None:
    trail = Trail()
    trail.consent()
    trail.consent(
        "r2",
        form_id="young-person-consent",
        kind="young-person-consent",
        version=1,
        signers=[("young-person", "participant"), (DOC, "investigator")],
    )

    profile = trail.profile(own_consent_due=True)

    assert (profile["participating"], profile["blocked_by"]) == (True, [])


def test_participation_profile_co_consent_as_a_minor_does_not_lift_the_suspension() -> None:
    # PL: the young person co-signed at 13; at 18 their own consent is still needed (Art 32(3)).
    trail = Trail()
    trail.consent()
    trail.consent(
        "r2",
        form_id="young-person-co-consent",
        kind="young-person-co-consent",
        version=1,
        signers=[("young-person", "participant"), (DOC, "investigator")],
    )

    profile = trail.profile(own_consent_due=True)

    assert (profile["participating"], profile["blocked_by"]) == (False, ["awaiting-own-consent"])


def test_participant_records_a_consented_later_version_supersedes_the_earlier() -> None:
    trail = Trail()
    trail.consent("r1", version=1)
    trail.consent("r2", version=2)

    states = [s.state for s in participant_records(trail.events, at=LATER)]

    assert states == ["superseded", "consented"]


def test_participant_records_an_unsigned_later_version_supersedes_nothing() -> None:
    trail = Trail()
    trail.consent("r1", version=1)
    trail.open("r2", version=2)

    states = [s.state for s in participant_records(trail.events, at=LATER)]

    assert states == ["consented", "awaiting-information"]


# ---------------------------------------------------------------- property


@st.composite
def _signers_and_order(draw: Any) -> tuple[list[tuple[str, str]], list[int]]:
    guardians = draw(st.integers(min_value=1, max_value=3))
    others = draw(st.sampled_from([[], [("child", "participant")], [("witness", "witness")]]))
    signers = [(f"g{i}", "guardian") for i in range(guardians)] + others
    signers.append((DOC, "investigator"))
    order = draw(st.permutations(range(len(signers))))
    return signers, order


@given(case=_signers_and_order(), minutes=st.integers(min_value=0, max_value=60 * 24 * 29))
def test_record_status_every_required_signature_in_any_order_consents(
    case: tuple[list[tuple[str, str]], list[int]], minutes: int
) -> None:
    signers, order = case
    trail = Trail()
    opened = trail.open(signers=signers)
    for index in order:
        trail.sign(signers[index][0], at=T0 + timedelta(minutes=minutes))

    assert trail.status(opened, at=EXPIRED).state == RecordState.CONSENTED


@given(case=_signers_and_order(), data=st.data())
def test_record_status_any_missing_signature_leaves_it_not_consented(
    case: tuple[list[tuple[str, str]], list[int]], data: Any
) -> None:
    signers, order = case
    missing = data.draw(st.sampled_from(order))
    trail = Trail()
    opened = trail.open(signers=signers)
    for index in order:
        if index != missing:
            trail.sign(signers[index][0])

    status = trail.status(opened)

    assert status.state != RecordState.CONSENTED
    assert status.missing_signers == [
        {"signer_id": signers[missing][0], "role": signers[missing][1]}
    ]
    assert not any(status.item_grants.values())


@pytest.mark.parametrize(
    ("participating", "blocked_by", "expected"),
    [
        (True, (), "yes"),
        # A new enrolment waits for consents: "not yet", never "no".
        (False, ("no-consent",), "not-yet"),
        (False, ("missing:parental-consent", "missing:child-assent"), "not-yet"),
        # The child's no and a full withdrawal end taking part.
        (False, ("dissent",), "no"),
        (False, ("withdrawn",), "no"),
        (False, ("dissent", "missing:child-assent"), "no"),
        # At competence, the own consent is awaited: participation is paused.
        (False, ("awaiting-own-consent",), "paused"),
    ],
)
def test_standing_says_not_yet_for_consents_still_to_come(
    participating: bool, blocked_by: tuple[str, ...], expected: str
) -> None:
    assert standing(participating, blocked_by) == expected
