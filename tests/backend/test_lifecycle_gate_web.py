"""The staff pages for the gate: an enrolment the study cannot serve, a dissent reviewed.

regs = docs/regulatory-basis.md (each comment names its anchor).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from consentkit.clock import now_utc
from consentkit.models.participant import Participant
from consentkit.models.study import FormVersion
from consentkit.policy.roles import StaffRole
from consentkit.services import forms, participation, records
from consentkit.services.evidence import SYSTEM
from tests.backend.staff_helpers import (
    STUDY,
    csrf_of,
    family,
    make_member,
    participant_url,
    signed_in,
)


def test_the_enrol_page_says_which_required_form_the_study_lacks(
    app: Any, client: Any, demo_study: Any
) -> None:
    # Without an adult-consent form in force, enrolling an 18-year-old must be refused
    # with a message staff can act on, and nothing saved (docs/regulatory-basis.md#ctr-art-28
    # CTR-28a).
    FormVersion.objects(trial_id="DEMO-NBL-1", form_id="adult-consent").update(status="retired")
    forms.forget_catalogs()
    member = make_member(client, "inv.nl@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    signed_in(app, client, member)
    csrf = csrf_of(client.get(f"{STUDY}/enrol"))
    birth = (now_utc().date() - timedelta(days=19 * 365)).isoformat()

    response = client.post(
        f"{STUDY}/enrol",
        data={
            "csrf_token": csrf,
            "action": "enrol",
            "code": "NL-ADULT-1",
            "site": "NL-01",
            "birth_date": birth,
            "signers-0-role": "participant",
            "signers-0-name": "Sem",
            "signers-0-email": "sem@example.org",
        },
    )

    text = response.get_data(as_text=True)
    assert "adult-consent" in text and "no such form in force" in text
    assert Participant.objects(code="NL-ADULT-1").count() == 0


def test_the_participant_page_reviews_a_non_binding_dissent(
    app: Any, client: Any, demo_study: Any
) -> None:
    # docs/regulatory-basis.md#country-gb-eng GB-ENG CTIMP: a child's wish to refuse is considered
    # by the investigator;
    # docs/regulatory-basis.md#ctr-art-32 CTR-32c: a review is an audit-trailed investigator note.
    member = make_member(client, "inv.gb@example.org", StaffRole.INVESTIGATOR, ("GB-ENG-01",))
    child = family(
        member, "GB-WEB-1", "GB-ENG-01", birth_date=now_utc().date() - timedelta(days=3400)
    )
    participation.record_dissent(child, actor=SYSTEM)
    signed_in(app, client, member)
    page = client.get(participant_url(child.code))
    assert 'id="dissent-review-form"' in page.get_data(as_text=True)

    done = client.post(
        participant_url(child.code, "/dissent/review"),
        data={"csrf_token": csrf_of(page), "decision": "continue", "reason": "Heard again."},
    )

    assert done.status_code == 302
    [review] = [e for e in records.history(child) if e["type"] == "dissent.reviewed"]
    assert (review["payload"]["decision"], review["payload"]["reason"]) == (
        "continue",
        "Heard again.",
    )
    assert "dissent" not in records.profile(child)["blocked_by"]


def test_the_participant_page_refuses_to_review_a_binding_dissent(
    app: Any, client: Any, demo_study: Any
) -> None:
    member = make_member(client, "inv.nl@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    child = family(member, "NL-WEB-9", "NL-01")
    participation.record_dissent(child, actor=SYSTEM)
    signed_in(app, client, member)
    page = client.get(participant_url(child.code))

    refused = client.post(
        participant_url(child.code, "/dissent/review"),
        data={"csrf_token": csrf_of(page), "decision": "continue", "reason": "Parents insist."},
    )

    assert refused.status_code == 409
    assert "refusal is binding" in refused.get_data(as_text=True)
    assert "dissent" in records.profile(child)["blocked_by"]
