"""A family member's sessions end when staff revoke or replace their invitation, or say so.

Issue 11, item 10: whoever redeemed a wrong or lost invitation kept a 30-day session and
could still decline. Revoking or reissuing an invitation ends every session of that signer
(access and refresh tokens, codes sent but not yet used); staff can end a signer's sessions
and correct where their codes go, both audited, through the API and the participant page.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from consentkit.models.participant import Participant, Signer
from consentkit.policy.roles import StaffRole
from consentkit.services import access, audit, enrolment, evidence, participants, records
from tests.backend.staff_helpers import (
    Member,
    auth,
    colleague,
    csrf_of,
    events_of,
    family,
    make_member,
    participant_url,
    signed_in,
    staff_doc,
    token_for,
)

API = "/api/v1"
STAFF_API = f"{API}/staff/studies/DEMO-NBL-1/participants"
CODE_SENT = re.compile(r"one-time code\] to .*: (\d{6})")


@pytest.fixture
def nl(client: Any, demo_study: Any, monkeypatch: pytest.MonkeyPatch) -> Member:
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")
    return make_member(client, "inv.nl@example.org", StaffRole.INVESTIGATOR, ("NL-01",))


class Phone:
    """A guardian's device signed in through the API with an invitation code."""

    def __init__(self, client: Any, capsys: pytest.CaptureFixture[str], code: str, n: int) -> None:
        self.client = client
        self.device_id = f"phone-{n:04d}"
        capsys.readouterr()
        sent = client.post(f"{API}/auth/invitations/redeem", json={"code": code})
        assert sent.status_code == 202, sent.get_json()
        self.challenge_id = sent.get_json()["challenge_id"]
        self.code = CODE_SENT.findall(capsys.readouterr().out)[-1]

    def verify(self) -> Any:
        return self.client.post(
            f"{API}/auth/challenges/{self.challenge_id}/verify",
            json={"code": self.code, "device_id": self.device_id},
        )

    def sign_in(self) -> Phone:
        tokens = self.verify()
        assert tokens.status_code == 200, tokens.get_json()
        self.headers = {"Authorization": f"Bearer {tokens.get_json()['access_token']}"}
        self.refresh_token = tokens.get_json()["refresh_token"]
        return self

    def tasks(self) -> int:
        status: int = self.client.get(f"{API}/me/tasks", headers=self.headers).status_code
        return status

    def decline(self, record_id: str) -> int:
        status: int = self.client.post(
            f"{API}/me/records/{record_id}/decline", json={"reason": "no"}, headers=self.headers
        ).status_code
        return status

    def refresh(self) -> int:
        status: int = self.client.post(
            f"{API}/auth/tokens/refresh",
            json={"refresh_token": self.refresh_token, "device_id": self.device_id},
        ).status_code
        return status


def _guardian(participant: Participant) -> Signer:
    return next(s for s in participants.signers_of(participant) if s.role == "guardian")


def _invited(member: Member, code: str) -> tuple[Participant, Signer, str, str]:
    """A family at NL-01, its first guardian invited: (family, guardian, code, invitation id)."""
    participant = family(member, code, "NL-01")
    guardian = _guardian(participant)
    shown = enrolment.invite(
        participant,
        str(guardian.id),
        actor=enrolment.staff_actor(staff_doc(member), "investigator"),
    )
    invitation_id = access.invitations_of(participant)[-1].invitation_id
    return participant, guardian, shown["code"], invitation_id


def _record_id(participant: Participant) -> str:
    record_id: str = records.profile(participant)["records"][0]["record_id"]
    return record_id


def _last(participant: Participant, kind: str) -> dict[str, Any]:
    return [e for e in audit.chain_dicts(str(participant.id)) if e["type"] == kind][-1]


# ---------------------------------------------------------------- revoke and reissue


def test_revoking_an_invitation_ends_the_signers_sessions(
    app: Any, client: Any, nl: Member, capsys: pytest.CaptureFixture[str]
) -> None:
    participant, _, code, invitation_id = _invited(nl, "NL-SES-1")
    phones = [Phone(client, capsys, code, n).sign_in() for n in range(2)]
    assert [p.tasks() for p in phones] == [200, 200]

    revoked = client.delete(
        f"{STAFF_API}/NL-SES-1/invitations/{invitation_id}", headers=auth(token_for(app, nl))
    )

    assert revoked.status_code == 204
    for phone in phones:
        assert phone.tasks() == 401
        assert phone.decline(_record_id(participant)) == 401
        assert phone.refresh() == 401
    assert records.profile(participant)["records"][0]["state"] != "declined"
    assert _last(participant, "invitation.revoked")["payload"]["sessions_ended"] == 2


def test_reissuing_an_invitation_ends_the_signers_sessions(
    app: Any, client: Any, nl: Member, capsys: pytest.CaptureFixture[str]
) -> None:
    participant, _, code, invitation_id = _invited(nl, "NL-SES-2")
    phone = Phone(client, capsys, code, 0).sign_in()

    reissued = client.post(
        f"{STAFF_API}/NL-SES-2/invitations/{invitation_id}/resend",
        headers=auth(token_for(app, nl)),
    )

    assert reissued.status_code == 201
    assert phone.tasks() == 401
    assert phone.decline(_record_id(participant)) == 401
    # The new code works: the right person signs in again.
    assert Phone(client, capsys, reissued.get_json()["code"], 1).sign_in().tasks() == 200


def test_revoking_voids_a_code_sent_before_it(
    app: Any, client: Any, nl: Member, capsys: pytest.CaptureFixture[str]
) -> None:
    """A code sent for the old invitation cannot open a session after the revocation."""
    _, _, code, invitation_id = _invited(nl, "NL-SES-3")
    pending = Phone(client, capsys, code, 0)

    client.delete(
        f"{STAFF_API}/NL-SES-3/invitations/{invitation_id}", headers=auth(token_for(app, nl))
    )

    assert pending.verify().status_code == 401


def test_revoking_leaves_the_other_signers_signed_in(
    app: Any, client: Any, nl: Member, capsys: pytest.CaptureFixture[str]
) -> None:
    participant, _, _, invitation_id = _invited(nl, "NL-SES-4")
    second = [s for s in participants.signers_of(participant) if s.role == "guardian"][1]
    shown = enrolment.invite(participant, str(second.id), actor=evidence.SYSTEM)
    theirs = Phone(client, capsys, shown["code"], 1).sign_in()

    client.delete(
        f"{STAFF_API}/NL-SES-4/invitations/{invitation_id}", headers=auth(token_for(app, nl))
    )

    assert theirs.tasks() == 200


# ---------------------------------------------------------------- staff end sessions, API


def test_staff_end_a_signers_sessions_through_the_api(
    app: Any, client: Any, nl: Member, capsys: pytest.CaptureFixture[str]
) -> None:
    participant, guardian, code, _ = _invited(nl, "NL-SES-5")
    phones = [Phone(client, capsys, code, n).sign_in() for n in range(2)]

    ended = client.delete(
        f"{STAFF_API}/NL-SES-5/signers/{guardian.id}/sessions", headers=auth(token_for(app, nl))
    )

    assert ended.status_code == 200, ended.get_json()
    assert ended.get_json() == {"signer_id": str(guardian.id), "sessions_ended": 2}
    assert [p.tasks() for p in phones] == [401, 401]
    event = _last(participant, "access.sessions-ended")
    assert event["payload"] == {"signer_id": str(guardian.id), "sessions_ended": 2}
    assert event["actor"]["id"] == nl.staff_id
    # The invitation still works: the family signs in again.
    assert Phone(client, capsys, code, 3).sign_in().tasks() == 200


@pytest.mark.parametrize("signer_id", ["xyz", "0" * 24])
def test_ending_sessions_of_an_unknown_signer_is_404(
    app: Any, client: Any, nl: Member, signer_id: str
) -> None:
    family(nl, "NL-SES-6", "NL-01")

    response = client.delete(
        f"{STAFF_API}/NL-SES-6/signers/{signer_id}/sessions", headers=auth(token_for(app, nl))
    )

    assert response.status_code == 404
    assert response.get_json()["error"] == "not-found"


# ---------------------------------------------------------------- contact correction, API


def test_staff_correct_a_contact_and_the_signer_is_signed_out(
    app: Any, client: Any, nl: Member, capsys: pytest.CaptureFixture[str]
) -> None:
    participant, guardian, code, _ = _invited(nl, "NL-SES-7")
    phone = Phone(client, capsys, code, 0).sign_in()
    url = f"{STAFF_API}/NL-SES-7/signers/{guardian.id}/contact"
    headers = auth(token_for(app, nl))

    corrected = client.put(
        url,
        json={"email": "anna.jansen@example.org", "phone": None, "reason": "Typo at enrolment"},
        headers=headers,
    )

    assert corrected.status_code == 200, corrected.get_json()
    assert corrected.get_json() == {
        "signer_id": str(guardian.id),
        "changed": ["email"],
        "sessions_ended": 1,
    }
    identity = participants.signer_identity(Signer.objects.get(id=guardian.id))
    assert identity["email"] == "anna.jansen@example.org"
    assert identity["name"] == "Anna Jansen"
    assert phone.tasks() == 401
    event = _last(participant, "signer.contact-corrected")
    assert event["payload"]["changed"] == ["email"]
    assert event["payload"]["reason"] == "Typo at enrolment"
    assert "anna.jansen@example.org" not in str(event)  # the trail never holds the address
    # The next code goes to the corrected address.
    capsys.readouterr()
    client.post(f"{API}/auth/invitations/redeem", json={"code": code})
    assert "to anna.jansen@example.org:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"email": None, "phone": None, "reason": "x"}, "signer-contact-required"),
        ({"email": "not-an-address", "reason": "x"}, "invalid-data"),
        ({"email": "a@example.org"}, "invalid-data"),
    ],
)
def test_a_contact_correction_is_checked_before_anything_changes(
    app: Any, client: Any, nl: Member, body: dict[str, Any], error: str
) -> None:
    participant, guardian, _, _ = _invited(nl, "NL-SES-8")
    before = events_of(participant), Signer.objects.get(id=guardian.id).identity

    response = client.put(
        f"{STAFF_API}/NL-SES-8/signers/{guardian.id}/contact",
        json=body,
        headers=auth(token_for(app, nl)),
    )

    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"] == error
    assert (events_of(participant), Signer.objects.get(id=guardian.id).identity) == before


def test_the_investigators_contact_is_not_corrected_here(app: Any, client: Any, nl: Member) -> None:
    participant = family(nl, "NL-SES-9", "NL-01")
    investigator = next(s for s in participants.signers_of(participant) if s.role == "investigator")

    response = client.put(
        f"{STAFF_API}/NL-SES-9/signers/{investigator.id}/contact",
        json={"email": "x@example.org", "reason": "x"},
        headers=auth(token_for(app, nl)),
    )

    assert response.status_code == 422
    assert response.get_json()["error"] == "signer-role-invalid"


# ---------------------------------------------------------------- the participant page


def test_the_participant_page_signs_a_family_member_out_everywhere(
    app: Any, client: Any, nl: Member, capsys: pytest.CaptureFixture[str]
) -> None:
    participant, guardian, code, _ = _invited(nl, "NL-SES-10")
    phone = Phone(client, capsys, code, 0).sign_in()
    signed_in(app, client, nl)
    page = client.get(participant_url("NL-SES-10"))
    action = participant_url("NL-SES-10", f"/signers/{guardian.id}/end-sessions")
    assert f'action="{action}"' in page.get_data(as_text=True)

    without_csrf = client.post(action, data={})
    assert without_csrf.status_code == 400
    assert phone.tasks() == 200
    done = client.post(action, data={"csrf_token": csrf_of(page)})

    assert done.status_code == 302
    assert "signed out of every device" in client.get(done.headers["Location"]).get_data(
        as_text=True
    )
    assert phone.tasks() == 401
    assert _last(participant, "access.sessions-ended")["payload"]["sessions_ended"] == 1


def test_the_participant_page_corrects_a_contact(
    app: Any, client: Any, nl: Member, capsys: pytest.CaptureFixture[str]
) -> None:
    participant, guardian, code, _ = _invited(nl, "NL-SES-11")
    phone = Phone(client, capsys, code, 0).sign_in()
    signed_in(app, client, nl)
    url = participant_url("NL-SES-11", f"/signers/{guardian.id}/contact")
    form = client.get(url)
    assert form.status_code == 200
    assert 'value="a@example.org"' in form.get_data(as_text=True)

    missing = client.post(
        url, data={"csrf_token": csrf_of(form), "email": "", "phone": "", "reason": "x"}
    )
    assert missing.status_code == 422
    assert phone.tasks() == 200
    saved = client.post(
        url,
        data={
            "csrf_token": csrf_of(form),
            "email": "",
            "phone": "+31 6 9876 5432",
            "reason": "The family asked for SMS",
        },
    )

    assert saved.status_code == 302
    assert "contact is corrected" in client.get(saved.headers["Location"]).get_data(as_text=True)
    identity = participants.signer_identity(Signer.objects.get(id=guardian.id))
    assert (identity["email"], identity["phone"]) == (None, "+31 6 9876 5432")
    assert phone.tasks() == 401
    assert _last(participant, "signer.contact-corrected")["payload"]["changed"] == [
        "email",
        "phone",
    ]


@pytest.mark.parametrize(
    ("role", "sites", "refused"),
    [(StaffRole.MONITOR, ("NL-01",), 403), (StaffRole.INVESTIGATOR, ("FR-01",), 404)],
    ids=["monitor", "other-site"],
)
def test_only_staff_who_may_invite_at_the_site_end_sessions_or_correct_contacts(
    app: Any,
    client: Any,
    nl: Member,
    capsys: pytest.CaptureFixture[str],
    role: StaffRole,
    sites: tuple[str, ...],
    refused: int,
) -> None:
    # Another site's participant is answered like a code that does not exist (404).
    participant, guardian, code, _ = _invited(nl, "NL-SES-12")
    phone = Phone(client, capsys, code, 0).sign_in()
    member = colleague("other@example.org", role, sites)
    signed_in(app, client, member)
    home = client.get("/staff/")
    csrf = csrf_of(home) if home.status_code == 200 else ""
    before = events_of(participant)

    page = client.get(participant_url("NL-SES-12"))
    end = client.post(
        participant_url("NL-SES-12", f"/signers/{guardian.id}/end-sessions"),
        data={"csrf_token": csrf},
    )
    contact_page = client.get(participant_url("NL-SES-12", f"/signers/{guardian.id}/contact"))
    contact = client.post(
        participant_url("NL-SES-12", f"/signers/{guardian.id}/contact"),
        data={"csrf_token": csrf, "email": "x@example.org", "reason": "x"},
    )
    api = [
        client.delete(
            f"{STAFF_API}/NL-SES-12/signers/{guardian.id}/sessions",
            headers=auth(token_for(app, member)),
        ),
        client.put(
            f"{STAFF_API}/NL-SES-12/signers/{guardian.id}/contact",
            json={"email": "x@example.org", "reason": "x"},
            headers=auth(token_for(app, member)),
        ),
    ]

    assert end.status_code == contact_page.status_code == contact.status_code == refused
    assert [r.status_code for r in api] == [refused, refused]
    if page.status_code == 200:  # a monitor reads the page, without the buttons
        assert "/end-sessions" not in page.get_data(as_text=True)
    assert phone.tasks() == 200
    assert events_of(participant) == before
