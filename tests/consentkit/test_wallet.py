"""The family's wallet: one person's children and studies, and optional choices changed later.

Demo study, real database. A person's signers are linked by the blind index of their
contact (docs/records.md#the-familys-wallet); a choice changed after signing is a new
signed event read by the profile, the permission API and FHIR, the signed record untouched.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from consentkit import crypto
from consentkit.cli import main
from consentkit.errors import ConflictError, InvalidDataError, NotFoundError
from consentkit.interop.fhir import Release
from consentkit.models.audit import AuditEvent
from consentkit.models.participant import Signer
from consentkit.services import access, audit, enrolment, fhir, permissions, records, wallet
from tests.consentkit.records_helpers import STAFF, T0
from tests.consentkit.wallet_helpers import AUTH, LATER, consented, family_with_email


def _codes(found: wallet.Wallet) -> list[str]:
    return [child.participant_code for child in found.children]


def test_wallet_links_siblings_by_the_same_address_and_never_anotherfamily_with_email(
    demo_study: Any,
) -> None:
    first = family_with_email("P-W01", "Ana.Lima@example.org")
    sibling = family_with_email("P-W02", "  ana.lima@EXAMPLE.org ")
    other = family_with_email("P-W03", "someone.else@example.org")
    for family in (first, sibling, other):
        consented(family)

    found = wallet.wallet(str(first.guardians[0].id), at=LATER, locale="en")

    assert _codes(found) == ["P-W01", "P-W02"]
    assert [child.is_current for child in found.children] == [True, False]
    assert all(child.role == "guardian" for child in found.children)
    # The other parent's wallet holds only what they sign: their own address links nothing.
    assert _codes(wallet.wallet(str(first.guardians[1].id), at=LATER)) == ["P-W01"]


def test_wallet_says_each_records_state_in_the_familys_words_with_documents_and_agreements(
    demo_study: Any,
) -> None:
    family = family_with_email("P-W01", "ana@example.org")
    record = consented(family, {"genetic-analysis": False})

    [child] = wallet.wallet(str(family.guardians[0].id), at=LATER, locale="en").children

    [shown] = child.records
    assert shown.record_id == record.record_id
    assert shown.status_text == "Everyone has signed"
    assert shown.phase == "consented"
    genetic = next(i for i in shown.items if i.item_id == "genetic-analysis")
    assert (genetic.signed, genetic.current, genetic.changeable) == (False, False, True)
    participation_item = next(i for i in shown.items if i.item_id == "participation")
    assert participation_item.changeable is False
    agreed = {a.activity: a.agreed for a in child.agreements}
    assert agreed["treatment"] is True
    assert agreed["genetic_analysis"] is False


def test_wallet_leaves_out_a_sibling_whose_invitations_staff_revoked(demo_study: Any) -> None:
    first = family_with_email("P-W01", "ana@example.org")
    sibling = family_with_email("P-W02", "ana@example.org")
    access.create_invitation(sibling.participant, sibling.guardians[0], actor=STAFF)
    [invitation] = access.invitations_of(sibling.participant)
    access.revoke_invitation(sibling.participant, invitation.invitation_id, actor=STAFF)

    found = wallet.wallet(str(first.guardians[0].id), at=LATER)

    assert _codes(found) == ["P-W01"]


def test_change_choice_is_a_signed_event_the_permission_api_and_fhir_follow(
    demo_study: Any,
) -> None:
    family = family_with_email("P-W01", "ana@example.org")
    record = consented(family)
    signer_id = str(family.guardians[0].id)

    def sample_answer() -> str:
        answer = permissions.permissions_for(
            "DEMO-NBL-1", "P-W01", activities=["sample-storage"], at=LATER + timedelta(hours=1)
        )
        return str(answer["answers"][0]["decision"])

    assert sample_answer() == "permit"
    before = AuditEvent.objects(record_id=record.record_id, type="items.chosen").count()

    changed = wallet.change_choice(
        signer_id, record.record_id, item_id="sample-storage", value=False, auth=AUTH, now=LATER
    )

    assert changed.type == "items.changed"
    assert changed.permissions["sample_collection"] is False
    assert sample_answer() == "deny"
    # The signed choices stay as signed; the change is its own event in the chain.
    assert AuditEvent.objects(record_id=record.record_id, type="items.chosen").count() == before
    event = audit.chain_dicts(str(family.participant.id))[-1]
    assert event["payload"]["changes"] == {"sample-storage": False}
    assert event["payload"]["auth"]["method"] == "otp-email"
    assert all(report.ok for report in audit.verify("DEMO-NBL-1", "P-W01"))
    consent = fhir.consent(family.participant, record.record_id, Release.R4)
    provisions = consent["provision"]["provision"]
    nested = {c["coding"][0]["code"]: p for p in provisions for c in p["code"]}
    assert nested["sample-storage"]["type"] == "deny"
    [child] = wallet.wallet(signer_id, at=LATER + timedelta(hours=1)).children
    item = next(i for i in child.records[0].items if i.item_id == "sample-storage")
    assert (item.signed, item.current) == (True, False)


def test_change_choice_back_to_yes_needs_every_signer_to_say_yes(demo_study: Any) -> None:
    family = family_with_email("P-W01", "ana@example.org")
    record = consented(family, {"re-contact": False})

    wallet.change_choice(
        str(family.guardians[0].id),
        record.record_id,
        item_id="re-contact",
        value=True,
        auth=AUTH,
        now=LATER,
    )

    # The other parent still says no: one "no" is a no.
    profile = records.participation(family.participant, at=LATER + timedelta(hours=1))
    assert profile.permissions.re_contact is False


@pytest.mark.parametrize(
    ("item", "value", "error", "code"),
    [
        ("participation", False, InvalidDataError, "item-required"),
        ("no-such-item", False, InvalidDataError, "items-incomplete"),
        ("sample-storage", True, ConflictError, "choice-unchanged"),
    ],
)
def test_change_choice_refuses_before_writing(
    demo_study: Any, item: str, value: bool, error: type[Exception], code: str
) -> None:
    family = family_with_email("P-W01", "ana@example.org")
    record = consented(family)
    before = len(audit.chain_dicts(str(family.participant.id)))

    with pytest.raises(error) as refused:
        wallet.change_choice(
            str(family.guardians[0].id),
            record.record_id,
            item_id=item,
            value=value,
            auth=AUTH,
            now=LATER,
        )

    assert getattr(refused.value, "code", None) == code
    assert len(audit.chain_dicts(str(family.participant.id))) == before


def test_change_choice_refuses_an_unsigned_record_and_another_familys(demo_study: Any) -> None:
    family = family_with_email("P-W01", "ana@example.org")
    other = family_with_email("P-W02", "someone.else@example.org")
    theirs = consented(other)
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    mine = str(family.guardians[0].id)

    with pytest.raises(ConflictError) as unsigned:
        wallet.change_choice(
            mine, record.record_id, item_id="sample-storage", value=False, auth=AUTH, now=LATER
        )
    with pytest.raises(NotFoundError):
        wallet.change_choice(
            mine, theirs.record_id, item_id="sample-storage", value=False, auth=AUTH, now=LATER
        )

    assert unsigned.value.code == "record-not-signed"


def test_change_choice_on_a_siblings_record_is_recorded_for_that_childs_signer(
    demo_study: Any,
) -> None:
    first = family_with_email("P-W01", "ana@example.org")
    sibling = family_with_email("P-W02", "ana@example.org")
    record = consented(sibling)

    wallet.change_choice(
        str(first.guardians[0].id),
        record.record_id,
        item_id="future-research",
        value=False,
        auth=AUTH,
        now=LATER,
    )

    event = audit.chain_dicts(str(sibling.participant.id))[-1]
    assert event["payload"]["signer_id"] == str(sibling.guardians[0].id)
    assert event["payload"]["via_signer_id"] == str(first.guardians[0].id)
    assert event["actor"]["id"] == str(sibling.guardians[0].id)


def test_a_corrected_address_moves_the_sibling_into_the_wallet(demo_study: Any) -> None:
    first = family_with_email("P-W01", "ana@example.org")
    sibling = family_with_email("P-W02", "ana.typo@example.org")

    enrolment.correct_contact(
        sibling.participant,
        str(sibling.guardians[0].id),
        email="ANA@example.org",
        phone=None,
        reason="Typo at enrolment",
        actor=STAFF,
    )

    assert _codes(wallet.wallet(str(first.guardians[0].id))) == ["P-W01", "P-W02"]


def test_backfill_indexes_signers_stored_before_the_index(demo_study: Any) -> None:
    family = family_with_email("P-W01", "ana@example.org")
    Signer.objects(participant_id=str(family.participant.id)).update(unset__contact_index=True)

    written = wallet.backfill_contact_index()

    assert written == 4
    guardian = Signer.objects(id=family.guardians[0].id).get()
    assert guardian.contact_index == [crypto.blind_index("email", "ANA@example.org")]
    assert wallet.backfill_contact_index() == 0


def test_cli_wallet_backfill_indexes_what_is_missing(
    demo_study: Any, connected: str, db_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSENTKIT_MONGODB_URI", connected)
    monkeypatch.setenv("CONSENTKIT_MONGODB_DB", db_name)
    first = family_with_email("P-W01", "ana@example.org")
    family_with_email("P-W02", "ana@example.org")
    Signer.objects().update(unset__contact_index=True)

    result = CliRunner().invoke(main, ["wallet", "backfill"])

    assert result.exit_code == 0, result.output
    assert "8 signer(s) indexed" in result.output
    assert _codes(wallet.wallet(str(first.guardians[0].id))) == ["P-W01", "P-W02"]


def test_blind_index_normalises_phone_numbers_and_hides_the_contact() -> None:
    assert crypto.blind_index("phone", "+32 470 12 34 56") == crypto.blind_index(
        "phone", "+32470123456"
    )
    index = crypto.blind_index("email", "ana@example.org")
    assert index is not None and "ana" not in index
    assert crypto.blind_index("email", "  ") is None
