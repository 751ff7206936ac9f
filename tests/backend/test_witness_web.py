"""The impartial witness on the staff pages: registered, then signs on the staff device."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape

from consentkit.clock import now_utc
from consentkit.i18n import gettext
from consentkit.models.staff import StaffSession
from consentkit.policy.roles import StaffRole
from consentkit.services import audit, documents, records
from consentkit.services.ceremony import WITNESS_STATEMENT
from tests.backend.staff_helpers import Member, colleague, csrf_of, participant_url, signed_in
from tests.consentkit.records_helpers import STAFF, STROKES, Family, make_family, prepare, sign

WITNESS = "Jeanne Témoin"
REASON = "The family came from far away and asked to sign at the visit."


@pytest.fixture
def nurse(app: Any, demo_study: Any) -> Member:
    return colleague("martin@example.org", StaffRole.SITE_STAFF, ("FR-01",))


def _family_with_open_record() -> tuple[Family, Any]:
    family = make_family("FR-W-1")  # France: both parents sign, then the investigator
    record = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    return family, record


def _register(client: Any, family: Family, name: str = WITNESS) -> Any:
    page = client.get(participant_url(family.participant.code))
    return client.post(
        participant_url(family.participant.code, "/witnesses"),
        data={
            "csrf_token": csrf_of(page),
            "for_signer_id": str(family.guardians[0].id),
            "witness_name": name,
        },
    )


def _family_signs(family: Family, record: Any) -> None:
    at = now_utc()
    for guardian in family.guardians:
        prepare(family, record, guardian, at=at)
        sign(family, record, guardian, at=at, early_signing_justification=REASON)
    sign(family, record, family.investigator, at=at)


def _sign_link(page: str) -> str:
    found = re.search(r'<a class="button primary small" href="([^"]+/witness\?[^"]+)"', page)
    assert found is not None, page
    return found.group(1).replace("&amp;", "&")


def test_witness_page_flow_register_parent_signs_witness_signs_record_complete(
    app: Any, client: Any, nurse: Member
) -> None:
    family, record = _family_with_open_record()
    signed_in(app, client, nurse)

    registered = _register(client, family)
    assert registered.status_code == 302, registered.get_data(as_text=True)
    assert "notice=witness-registered" in registered.headers["Location"]
    _family_signs(family, record)
    participant_page = client.get(participant_url(family.participant.code))
    link = _sign_link(participant_page.get_data(as_text=True))
    form = client.get(link)
    body = form.get_data(as_text=True)
    assert form.status_code == 200
    assert "Ελένη Παπαδοπούλου" in body  # whom the witness attests for
    # The statement, in the language of the text read out to the parent (fr), as stored.
    statement = gettext("fr", WITNESS_STATEMENT)
    assert f'<blockquote id="witness-statement" lang="fr">{escape(statement)}</blockquote>' in body
    signed = client.post(
        link.split("?")[0],
        data={
            "csrf_token": csrf_of(form),
            "witness": parse_qs(urlsplit(link).query)["witness"][0],
            "printed_name": WITNESS,
            "strokes": str(STROKES).replace("'", '"'),
        },
    )

    assert signed.status_code == 302, signed.get_data(as_text=True)
    assert "notice=witness-signed" in signed.headers["Location"]
    [status] = records.record_statuses(family.participant)
    assert status.state.value == "consented"
    last = audit.chain_dicts(str(family.participant.id))[-1]["seq"]
    payload = documents.consent_record_payload(family.participant, record.record_id, "fr", last)
    [witnessed] = [s for s in payload["signatures"] if s["role"] == "witness"]
    assert witnessed["printed_name"] == WITNESS
    assert witnessed["attestation"]["witnessed_name"] == "Ελένη Παπαδοπούλου"
    assert witnessed["attestation"]["statement"] == statement
    pdf = client.get(
        participant_url(family.participant.code, f"/records/{record.record_id}/document.pdf")
    )
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


def test_witness_page_before_the_parent_signed_is_refused_and_offers_no_link(
    app: Any, client: Any, nurse: Member
) -> None:
    family, record = _family_with_open_record()
    signed_in(app, client, nurse)
    _register(client, family)

    page = client.get(participant_url(family.participant.code)).get_data(as_text=True)
    early = client.get(
        participant_url(family.participant.code, f"/records/{record.record_id}/witness")
    )

    assert "/witness?" not in page
    assert early.status_code == 409
    assert early.mimetype == "text/html"


def test_witness_page_asks_for_password_and_code_again_after_five_minutes(
    app: Any, client: Any, nurse: Member
) -> None:
    family, record = _family_with_open_record()
    signed_in(app, client, nurse)
    StaffSession.objects(staff_id=nurse.staff_id).update(
        set__reauth_at=now_utc() - timedelta(minutes=10)
    )

    stale = client.get(
        participant_url(family.participant.code, f"/records/{record.record_id}/witness")
    )

    assert stale.status_code == 302
    assert urlsplit(stale.headers["Location"]).path == "/staff/reauth"


def test_witness_registration_without_a_name_is_refused_on_the_page(
    app: Any, client: Any, nurse: Member
) -> None:
    family, _record = _family_with_open_record()
    signed_in(app, client, nurse)

    refused = _register(client, family, name="  ")

    assert refused.status_code == 422
    assert "Give the witness" in refused.get_data(as_text=True)
    assert not [
        e
        for e in audit.chain_dicts(str(family.participant.id))
        if e["type"] == "witness.registered"
    ]


def test_witness_registration_without_csrf_is_refused(app: Any, client: Any, nurse: Member) -> None:
    family, _record = _family_with_open_record()
    signed_in(app, client, nurse)

    refused = client.post(
        participant_url(family.participant.code, "/witnesses"),
        data={"for_signer_id": str(family.guardians[0].id), "witness_name": WITNESS},
    )

    assert refused.status_code == 400
