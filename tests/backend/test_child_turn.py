"""A young child's assent on a parent's device, within the parent's session (issue 14).

Below the study's own-invitation age (default 12) a child has no contact and no
one-time code of their own: the parent's family page offers "your child's turn",
the child reads, chooses and signs, the signature is the child's (their role) and
the parent is recorded as present. From that age a child may have their own invitation.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from pypdf import PdfReader

from consentkit.clock import now_utc
from consentkit.labels import label
from consentkit.models.audit import AuditEvent
from consentkit.policy.age import local_date
from consentkit.policy.roles import StaffRole
from consentkit.services import access, documents, records
from tests.backend.signer_helpers import content
from tests.backend.staff_helpers import (
    BASE,
    FAMILY,
    STUDY,
    Member,
    auth,
    csrf_of,
    make_member,
    signed_in,
    token_for,
)
from tests.consentkit.records_helpers import STAFF, STROKES, make_family, sign

#: 9 years old on any day of the suite's runs up to May 2027: below the default age of 12.
YOUNG = date(2017, 5, 4)
#: 14 at least from 2026 on: old enough for their own invitation.
OLDER = date(2011, 3, 1)


class Device:
    """A parent's phone, signed in through the real invitation and one-time code flow."""

    def __init__(self, client: Any, capsys: Any, code: str) -> None:
        self.client = client
        self.capsys = capsys
        sent = client.post("/api/v1/auth/invitations/redeem", json={"code": code})
        assert sent.status_code == 202, sent.get_json()
        tokens = client.post(
            f"/api/v1/auth/challenges/{sent.get_json()['challenge_id']}/verify",
            json={"code": self.last_code(), "device_id": "phone-0001"},
        ).get_json()
        self.headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    def last_code(self) -> str:
        return re.findall(r"one-time code\] to .*: (\d{6})", self.capsys.readouterr().out)[-1]

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)


@pytest.fixture
def family_device(
    client: Any, demo_study: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """A 9-year-old's family: the assent open, the first parent signed in on their phone."""

    def build(birth_date: date = YOUNG, form_id: str = "assent-6-9") -> tuple[Any, Any, Device]:
        monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")
        family = make_family(
            birth_date=birth_date, child_name="Léa Martin", at=now_utc() - timedelta(days=1)
        )
        record = records.open_record(family.participant, form_id=form_id, actor=STAFF)
        guardian = family.guardians[0]
        code = access.create_invitation(family.participant, guardian, actor=STAFF)
        return family, record, Device(client, capsys, code)

    return build


def _child_signs(device: Device, record: Any, locale: str = "fr") -> Any:
    text = content(record, locale)
    base = f"/api/v1/me/records/{record.record_id}"
    views = device.post(
        f"{base}/views",
        json={
            "locale": locale,
            "sections": [{"id": s["id"], "seconds": 20} for s in text["sections"]],
        },
    )
    assert views.status_code == 200, views.get_json()
    if text["questions"]:
        answers = {q["id"]: q["correct"] for q in text["questions"]}
        answered = device.post(f"{base}/answers", json={"locale": locale, "answers": answers})
        assert answered.status_code == 200, answered.get_json()
    if text["items"]:
        chosen = device.post(
            f"{base}/choices", json={"choices": {i["id"]: True for i in text["items"]}}
        )
        assert chosen.status_code == 200, chosen.get_json()
    return device.post(
        f"{base}/signature",
        json={
            "locale": locale,
            "content_sha256": text["sha"],
            "printed_name": "Léa",
            "strokes": STROKES,
        },
        headers={"Idempotency-Key": "child-turn-1"},
    )


def test_child_turn_is_offered_to_the_parent_for_a_child_under_12(family_device: Any) -> None:
    _family, record, device = family_device()

    tasks = device.get("/api/v1/me/tasks").get_json()

    [turn] = [t for t in tasks if t["record_id"] == record.record_id]
    assert turn["child_turn"] is True
    assert turn["next_step"] == "read"


def test_child_under_12_signs_in_the_parents_session_with_the_parent_present(
    family_device: Any,
) -> None:
    family, record, device = family_device()

    signed = _child_signs(device, record)

    assert signed.status_code == 200, signed.get_json()  # no one-time code of the child's
    event = AuditEvent.objects(record_id=record.record_id, type="signature.added").get()
    assert event.payload["signer_id"] == str(family.child.id)
    assert event.payload["role"] == "participant"  # the child's signature, not the parent's
    assert event.payload["present"] == {
        "signer_id": str(family.guardians[0].id),
        "role": "guardian",
    }
    assert event.payload["auth"]["method"] == "in-presence"
    assert event.actor["id"] == str(family.guardians[0].id)
    assert event.actor["on_behalf_of"] == str(family.child.id)


def test_child_assent_asks_no_reason_to_sign_early(family_device: Any) -> None:
    # The 24 hours to think belong to the guardians; the child is not asked "why today".
    _family, record, device = family_device()

    assert _child_signs(device, record).status_code == 200


def test_parent_cannot_sign_their_own_consent_without_a_code(family_device: Any) -> None:
    # The child's turn waives the code for the child's signature only.
    family, _record, device = family_device()
    parental = records.open_record(family.participant, form_id="parental-consent", actor=STAFF)

    signed = _child_signs(device, parental)

    assert signed.get_json()["error"] == "fresh-code-required", signed.get_json()
    assert not AuditEvent.objects(record_id=parental.record_id, type="signature.added").count()


def test_child_of_12_or_more_is_not_signed_for_on_the_parents_device(family_device: Any) -> None:
    _family, record, device = family_device(birth_date=OLDER, form_id="assent-14-17")

    tasks = device.get("/api/v1/me/tasks").get_json()
    form = device.get(f"/api/v1/me/records/{record.record_id}/form")

    assert record.record_id not in {t["record_id"] for t in tasks}
    assert form.status_code == 404


def test_child_of_12_or_more_can_have_their_own_invitation(
    family_device: Any, client: Any, capsys: Any
) -> None:
    family, record, _device = family_device(birth_date=OLDER, form_id="assent-14-17")

    code = access.create_invitation(family.participant, family.child, actor=STAFF)
    teen = Device(client, capsys, code)

    [task] = [t for t in teen.get("/api/v1/me/tasks").get_json() if t["record_id"]]
    assert task["record_id"] == record.record_id
    assert task["child_turn"] is False


def test_child_dissent_on_the_parents_device_is_the_childs(family_device: Any) -> None:
    family, record, device = family_device()

    said_no = device.post("/api/v1/me/dissent", json={"record_id": record.record_id, "note": None})

    assert said_no.status_code == 200, said_no.get_json()
    event = AuditEvent.objects(type="assent.dissent").get()
    assert event.payload["expressed_by"] == str(family.child.id)
    assert event.actor["on_behalf_of"] == str(family.child.id)


def test_child_assent_pdf_says_assent_and_who_was_present(family_device: Any) -> None:
    family, record, device = family_device()
    assert _child_signs(device, record).status_code == 200
    sign(family, record, family.investigator, at=now_utc())

    pdf = documents.consent_document(family.participant, record.record_id, locale="en").content
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)

    assert "Assent of the child" in text
    assert "The child's assent" in text
    assert "Present when the child signed" in text
    assert "Signatures" not in text


def _figure_alts(pdf: bytes) -> list[str]:
    """Return the alt text of every tagged figure (the PDF's structure tree, for screen readers)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        node = node.get_object()
        if isinstance(node, list):
            for child in node:
                walk(child)
            return
        if not hasattr(node, "get"):
            return
        if node.get("/S") == "/Figure" and "/Alt" in node:
            found.append(str(node["/Alt"]))
        if "/K" in node:
            walk(node["/K"])

    walk(PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/StructTreeRoot"])
    return found


def test_child_assent_pdf_in_french_shows_the_pictures_and_a_readable_audit_page(
    family_device: Any,
) -> None:
    family, record, device = family_device()
    assert _child_signs(device, record).status_code == 200
    sign(family, record, family.investigator, at=now_utc())
    alts = [s["media"]["alt"] for s in content(record, "fr")["sections"]]

    got = device.get(f"/api/v1/me/records/{record.record_id}/document?lang=fr")
    pdf = got.data
    pages = PdfReader(io.BytesIO(pdf)).pages
    text = " ".join(" ".join(page.extract_text().split()) for page in pages)

    # Saved under the study, the form and the date it was completed (the site's day).
    today = local_date(now_utc(), family.participant.timezone).isoformat()
    assert got.headers["Content-Disposition"] == (
        f'attachment; filename="DEMO-NBL-1-assent-6-9-{today}.pdf"'
    )

    # Each picture is drawn and tagged with its French alt text, not printed as "[alt]".
    assert _figure_alts(pdf)[: len(alts)] == alts  # then the drawn signatures
    assert f"[{alts[0]}" not in text
    # The study as the French form names it; no internal ids.
    assert "étude de démonstration fictive" in text
    assert "assent-6-9 ·" not in text
    assert "· fr" not in text
    # The audit page says what happened in words, not event types or factor codes.
    assert label("event_type", "participant.enrolled", "fr") in text
    assert "participant.enrolled" not in text
    assert "signature.added" not in text
    assert "session, in-presence" not in text
    assert label("auth_method", "in-presence", "fr") in " ".join(text.split())


def _seven_years_old() -> str:
    today = now_utc().date()
    return today.replace(year=today.year - 7, day=1).isoformat()


def test_enrolment_of_a_7_year_old_needs_no_contact_for_the_child(
    client: Any, demo_study: Any
) -> None:
    doctor = make_member(client, "visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    child = {"role": "participant", "name": "Sem de Vries"}  # no e-mail, no phone

    made = client.post(
        f"{BASE}/participants",
        json={
            "code": "NL-0007",
            "site": "NL-01",
            "birth_date": _seven_years_old(),
            "signers": [*FAMILY[:2], child],
        },
        headers=auth(token_for(client.application, doctor)),
    )

    assert made.status_code == 201, made.get_json()
    assert "participant" in {s["role"] for s in made.get_json()["signers"]}


def test_enrolment_of_a_13_year_old_still_needs_the_childs_contact(
    client: Any, demo_study: Any
) -> None:
    # From the study's own-invitation age the child gets their own codes, so a contact.
    doctor = make_member(client, "visser@example.org", StaffRole.INVESTIGATOR, ("NL-01",))
    child = {"role": "participant", "name": "Sem de Vries"}

    refused = client.post(
        f"{BASE}/participants",
        json={
            "code": "NL-0013",
            "site": "NL-01",
            "birth_date": "2013-01-15",
            "signers": [*FAMILY[:2], child],
        },
        headers=auth(token_for(client.application, doctor)),
    )

    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["error"] == "signer-contact-required"


def test_staff_page_enrols_a_7_year_old_without_the_childs_contact(
    app: Any, client: Any, nl: Member
) -> None:
    signed_in(app, client, nl)
    page = client.get(f"{STUDY}/enrol")
    assert "A child under 12 needs no e-mail or phone" in page.get_data(as_text=True)
    data = {
        "csrf_token": csrf_of(page),
        "action": "enrol",
        "code": "NL-WEB-7",
        "site": "NL-01",
        "birth_date": _seven_years_old(),
        "preferred_language": "nl",
    }
    for i, (role, name, email) in enumerate(
        [
            ("guardian", "Anna", "anna@example.org"),
            ("guardian", "Piet", "piet@example.org"),
            ("participant", "Sem", ""),
        ]
    ):
        data |= {f"signers-{i}-role": role, f"signers-{i}-name": name, f"signers-{i}-email": email}

    enrolled = client.post(f"{STUDY}/enrol", data=data)

    assert enrolled.status_code == 302, enrolled.get_data(as_text=True)[:2000]
    assert "Sem" in client.get(enrolled.headers["Location"]).get_data(as_text=True)
