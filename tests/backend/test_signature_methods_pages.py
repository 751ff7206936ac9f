"""The staff pages of signature methods: attest in person, correct a name, countersign as oneself.

A family member who signs in front of the study team is attested on the staff page
(recorded as ``attested``); a name the team registered wrongly is corrected there as
an audited event; the countersign page prints the investigator's own account name,
which a posted field cannot change.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from consentkit.clock import now_utc
from consentkit.models.participant import Participant, Signer
from consentkit.models.staff import StaffSession
from consentkit.models.study import ConsentForm
from consentkit.services import participants, records
from tests.backend.staff_helpers import (
    Member,
    csrf_of,
    family,
    participant_url,
    signed_in,
    staff_doc,
)
from tests.consentkit.records_helpers import T0, prepare

STROKES_FIELD = "[[[1, 2], [30, 40], [60, 10]]]"


def _fresh(client: Any, app: Any, member: Member) -> None:
    """Signed in, with the password and code given again just now."""
    signed_in(app, client, member)
    StaffSession.objects.update(set__reauth_at=now_utc())


def _record(participant: Participant, form_id: str) -> str:
    return next(
        r["record_id"] for r in records.profile(participant)["records"] if r["form_id"] == form_id
    )


def _signatures(participant: Participant) -> list[dict[str, Any]]:
    return [e for e in records.history(participant) if e["type"] == "signature.added"]


def test_the_countersign_page_prints_the_members_own_name(app: Any, client: Any, nl: Any) -> None:
    child = family(nl, "NL-PAGE-1", "NL-01")
    _fresh(client, app, nl)
    url = participant_url(child.code, f"/records/{_record(child, 'investigator-declaration')}")
    page = client.get(f"{url}/countersign")
    name = staff_doc(nl).name

    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    assert f'id="printed_name" value="{name}" readonly' in html
    signed = client.post(
        f"{url}/countersign",
        data={
            "csrf_token": csrf_of(page),
            "printed_name": "Someone Else",  # not a field of the page: ignored
            "strokes": STROKES_FIELD,
        },
    )

    assert signed.status_code == 302, signed.get_data(as_text=True)
    [signature] = _signatures(child)
    assert signature["payload"]["printed_name"] == name


@pytest.fixture
def attested_allowed(demo_study: Any) -> None:
    ConsentForm.objects(form_id="parental-consent").update(
        set__signature_methods=["drawn", "typed", "attested"]
    )


def test_a_parent_signs_in_front_of_staff_on_the_attest_page(
    app: Any, client: Any, nl: Any, attested_allowed: None
) -> None:
    child = family(nl, "NL-PAGE-2", "NL-01")
    record_id = _record(child, "parental-consent")
    anna = next(
        s
        for s in Signer.objects(participant_id=str(child.id), role="guardian")
        if participants.signer_identity(s)["name"] == "Anna Jansen"
    )
    opened = records.ConsentRecord.objects(record_id=record_id).get()
    rec = SimpleNamespace(record_id=record_id, form_id=opened.form_id, version=opened.version)
    prepare(SimpleNamespace(participant=child), rec, anna, locale="nl", at=T0)
    _fresh(client, app, nl)
    url = participant_url(child.code, f"/records/{record_id}/attest?signer={anna.id}")
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)
    assert "Anna Jansen" in page.get_data(as_text=True)
    form = {
        "csrf_token": csrf_of(page),
        "signer": str(anna.id),
        "printed_name": "ANNA JANSEN",
        "justification": "Surgery is tomorrow",
    }

    unconfirmed = client.post(url.split("?")[0], data=form)
    attested = client.post(url.split("?")[0], data={**form, "attest": "1"})

    assert unconfirmed.status_code == 422
    assert attested.status_code == 302, attested.get_data(as_text=True)
    [signature] = _signatures(child)
    assert signature["payload"]["signature_method"] == "attested"
    assert signature["payload"]["signer_id"] == str(anna.id)
    assert signature["payload"]["attested_by"]["staff_name"] == staff_doc(nl).name


def test_staff_correct_a_registered_name_on_the_page(app: Any, client: Any, nl: Any) -> None:
    child = family(nl, "NL-PAGE-3", "NL-01", names=("Ana Jansen", "Piet Jansen", "Sem Jansen"))
    ana = next(
        s
        for s in Signer.objects(participant_id=str(child.id), role="guardian")
        if participants.signer_identity(s)["name"] == "Ana Jansen"
    )
    _fresh(client, app, nl)
    url = participant_url(child.code, f"/signers/{ana.id}/name")
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)

    no_reason = client.post(url, data={"csrf_token": csrf_of(page), "name": "Anna Jansen"})
    corrected = client.post(
        url,
        data={"csrf_token": csrf_of(page), "name": "Anna Jansen", "reason": "as in her passport"},
    )

    assert no_reason.status_code == 422
    assert corrected.status_code == 302, corrected.get_data(as_text=True)
    ana.reload()
    assert participants.signer_identity(ana)["name"] == "Anna Jansen"
    [event] = [e for e in records.history(child) if e["type"] == "signer.name-corrected"]
    assert event["payload"]["reason"] == "as in her passport"
    assert event["payload"]["spelling_only"] is False
    assert "Anna Jansen" not in str(event["payload"])  # the names stay encrypted on the signer
