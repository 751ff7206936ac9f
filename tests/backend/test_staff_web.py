"""Staff web pages: cookie sign-in, CSRF, role and site checks, escaping, languages, redirects."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from backend.auth.staff import COOKIE
from backend.web.staff.participants import HANDOUT
from consentkit import i18n, settings
from consentkit.clock import now_utc
from consentkit.labels import label
from consentkit.models.participant import Participant
from consentkit.models.staff import StaffSession
from consentkit.policy.roles import Grant, StaffRole
from consentkit.services import audit, enrolment, participants, records
from consentkit.services import staff as staff_service
from tests.backend.staff_helpers import (
    PASSWORD,
    STUDY,
    TRIAL,
    Member,
    colleague,
    csrf_of,
    events_of,
    family,
    participant_url,
    signed_in,
    staff_doc,
)

XSS = "<script>alert(1)</script>"
ESCAPED = html.escape(XSS, quote=False)


def login(client: Any, member: Member, code: str, **extra: str) -> Any:
    form_page = client.get("/staff/login")
    data = {
        "email": member.email,
        "password": PASSWORD,
        "code": code,
        "csrf_token": csrf_of(form_page),
        **extra,
    }
    return client.post("/staff/login", data=data)


# ---------------------------------------------------------------- sign-in and cookie


def test_login_with_password_and_totp_sets_an_httponly_lax_cookie(client: Any, nl: Member) -> None:
    response = login(client, nl, nl.code(1))

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/staff/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE + "="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/staff" in cookie
    assert "Secure" not in cookie  # testing, over http
    home = client.get("/staff/")
    assert home.status_code == 200
    assert TRIAL in home.get_data(as_text=True)


@pytest.mark.parametrize("how", ["configured", "production-default"])
def test_login_cookie_is_secure_for_production(app: Any, client: Any, nl: Member, how: str) -> None:
    if how == "configured":
        app.config["STAFF_COOKIE_SECURE"] = True
    else:
        app.config["ENV"] = "production"
        app.config["STAFF_COOKIE_SECURE"] = None

    response = login(client, nl, nl.code(1))

    assert response.status_code == 302
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE + "="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_failure_is_generic_and_too_many_tries_say_try_later(client: Any, nl: Member) -> None:
    wrong = login(client, nl, nl.code(1), password="not the password at all")
    unknown = client.post(
        "/staff/login",
        data={
            "email": "nobody@example.org",
            "password": PASSWORD,
            "code": "123456",
            "csrf_token": csrf_of(client.get("/staff/login")),
        },
    )
    generic = "The e-mail address, password or code is not valid."
    assert wrong.status_code == unknown.status_code == 401
    assert generic in wrong.get_data(as_text=True)
    assert generic in unknown.get_data(as_text=True)
    assert COOKIE + "=" not in "".join(wrong.headers.getlist("Set-Cookie"))
    for _attempt in range(9):  # the per-address limit: 10 tries in 15 minutes
        login(client, nl, "000000", password="still not the password")
    limited = login(client, nl, nl.recovery[0])
    assert limited.status_code == 429
    assert "try again later" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) > 0


def test_login_page_answers_a_locked_account_like_an_unknown_address(
    client: Any, nl: Member
) -> None:
    def attempt(email: str, password: str, code: str) -> tuple[int, str]:
        page = client.get("/staff/login")
        answer = client.post(
            "/staff/login",
            data={"email": email, "password": password, "code": code, "csrf_token": csrf_of(page)},
        )
        return answer.status_code, answer.get_data(as_text=True).replace(html.escape(email), "@")

    for _attempt in range(staff_service.LOCKOUT_AFTER):
        attempt(nl.email, "not the password at all", "000000")
    assert staff_doc(nl).locked_until is not None
    locked = attempt(nl.email, PASSWORD, nl.recovery[0])  # right password, locked account
    unknown = attempt("nobody@example.org", PASSWORD, nl.recovery[0])
    assert locked[0] == 401
    assert locked == unknown


def test_unauthenticated_pages_redirect_to_login_with_next(client: Any, demo_study: Any) -> None:
    response = client.get(f"{STUDY}/records?state=consented")

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/staff/login"
    assert parse_qs(location.query)["next"] == [f"{STUDY}/records?state=consented"]


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example/staff/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/family/",
        "https:/staff/",
    ],
)
def test_next_to_another_site_is_not_followed(client: Any, nl: Member, target: str) -> None:
    response = login(client, nl, nl.code(1), next=target)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert not location.netloc or location.netloc == "localhost"
    assert location.path == "/staff/"
    page = client.get(f"/staff/reauth?next={quote(target, safe='')}")
    assert 'name="next" value="/staff/"' in page.get_data(as_text=True)


def test_next_within_the_staff_pages_is_followed(client: Any, nl: Member) -> None:
    response = login(client, nl, nl.code(1), next=f"{STUDY}/records")

    assert urlsplit(response.headers["Location"]).path == f"{STUDY}/records"


def test_setup_page_shows_a_qr_code_then_ten_recovery_codes(client: Any, demo_study: Any) -> None:
    import pyotp

    _member, token = staff_service.create_staff(
        email="new.nurse@example.org",
        name="New Nurse",
        grants=[Grant(TRIAL, StaffRole.SITE_STAFF, ("NL-01",))],
    )
    page = client.get(f"/staff/setup/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in text
    secret = re.search(r'data-secret="([A-Z2-7]+)"', text).group(1)
    mismatch = client.post(
        f"/staff/setup/{token}",
        data={
            "password": PASSWORD,
            "password_repeat": PASSWORD + "x",
            "code": pyotp.TOTP(secret).now(),
            "csrf_token": csrf_of(page),
        },
    )
    assert mismatch.status_code == 422
    done = client.post(
        f"/staff/setup/{token}",
        data={
            "password": PASSWORD,
            "password_repeat": PASSWORD,
            "code": pyotp.TOTP(secret).now(),
            "csrf_token": csrf_of(page),
        },
    )
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10
    assert "data-print" in done.get_data(as_text=True)
    assert client.get(f"/staff/setup/{token}").status_code == 404  # the link worked once


def test_setup_page_shows_the_same_secret_after_a_refused_post_only_to_its_holder(
    client: Any, demo_study: Any
) -> None:
    import pyotp

    _member, token = staff_service.create_staff(
        email="holder@example.org", name="Holder", grants=[Grant(TRIAL, StaffRole.MONITOR, ())]
    )
    page = client.get(f"/staff/setup/{token}")
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page.get_data(as_text=True)).group(1)

    def post(code: str) -> str:
        refused = client.post(  # the passwords differ: refused, the page is shown again
            f"/staff/setup/{token}",
            data={
                "password": PASSWORD,
                "password_repeat": PASSWORD + "x",
                "code": code,
                "csrf_token": csrf_of(page),
            },
        )
        assert refused.status_code == 422
        return re.search(r'data-secret="([A-Z2-7]+)"', refused.get_data(as_text=True)).group(1)

    assert post(pyotp.TOTP(secret).now()) == secret  # the member who scanned it keeps it
    stranger = post("000000")
    assert stranger != secret  # anyone else gets a new one, never the member's
    assert client.get(f"/staff/setup/{token}").get_data(as_text=True).count(stranger) == 0


# ---------------------------------------------------------------- CSRF


def test_login_post_without_its_form_token_is_refused(client: Any, nl: Member) -> None:
    response = client.post(
        "/staff/login", data={"email": nl.email, "password": PASSWORD, "code": nl.code(1)}
    )

    assert response.status_code == 400
    assert COOKIE + "=" not in "".join(response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("token", [None, "0" * 64])
def test_a_post_without_the_right_csrf_token_changes_nothing(
    app: Any, client: Any, nl: Member, token: str | None
) -> None:
    signed_in(app, client, nl)
    child = family(nl, "NL-CSRF-1", "NL-01")
    before = events_of(child)
    guardian = participants.signers_of(child)[0]
    extra = {} if token is None else {"csrf_token": token}

    enrol = client.post(
        f"{STUDY}/enrol",
        data={"action": "enrol", "code": "NL-CSRF-2", "site": "NL-01", **extra},
    )
    invite = client.post(
        participant_url(child.code, "/invite"), data={"signer_id": str(guardian.id), **extra}
    )
    dissent = client.post(participant_url(child.code, "/dissent"), data={"confirm": "yes", **extra})
    withdraw = client.post(
        participant_url(child.code, "/withdraw"),
        data={"scopes": "no-new-data", "channel": "phone", "reason_declined": "yes", **extra},
    )
    logout = client.post("/staff/logout", data=extra)

    assert {r.status_code for r in (enrol, invite, dissent, withdraw, logout)} == {400}
    assert Participant.objects(code="NL-CSRF-2").count() == 0
    assert events_of(child) == before
    assert client.get("/staff/").status_code == 200  # still signed in


# ---------------------------------------------------------------- roles and sites


def test_a_member_of_nl_01_gets_the_unknown_code_page_for_a_participant_of_fr_01(
    app: Any, client: Any, nl: Member, fr: Member
) -> None:
    french = family(fr, "FR-0001", "FR-01")
    family(nl, "NL-0001", "NL-01")
    before = events_of(french)
    signed_in(app, client, nl)
    csrf = csrf_of(client.get("/staff/"))
    guardian = participants.signers_of(french)[0]

    page = client.get(participant_url("FR-0001"))
    invite = client.post(
        participant_url("FR-0001", "/invite"),
        data={"signer_id": str(guardian.id), "csrf_token": csrf},
    )
    pdf = client.get(participant_url("FR-0001", "/records/x/document.pdf"))
    filtered = client.get(f"{STUDY}/?site=FR-01")
    unknown = client.get(participant_url("FR-0404"))
    unknown_invite = client.post(
        participant_url("FR-0404", "/invite"),
        data={"signer_id": str(guardian.id), "csrf_token": csrf},
    )

    assert page.status_code == invite.status_code == pdf.status_code == 404

    def same(one: Any, other: Any) -> bool:  # the code asked for is in the page's own links
        text = one.get_data(as_text=True).replace("FR-0001", "FR-0404")
        return bool(text == other.get_data(as_text=True))

    assert same(page, unknown)  # the same page as a code that does not exist
    assert same(invite, unknown_invite)
    assert filtered.status_code == 403  # the site list of a study is no secret
    assert "Jansen" not in page.get_data(as_text=True)
    assert events_of(french) == before
    dashboard = client.get(f"{STUDY}/").get_data(as_text=True)
    assert "FR-01" not in dashboard
    assert "NL-01" in dashboard
    worklist = client.get(f"{STUDY}/records").get_data(as_text=True)
    assert "NL-0001" in worklist and "FR-0001" not in worklist
    export = client.get(f"{STUDY}/records/export.csv").get_data(as_text=True)
    assert "NL-0001" in export and "FR-0001" not in export


def test_the_dashboard_counts_only_the_members_sites(
    app: Any, client: Any, nl: Member, fr: Member
) -> None:
    family(fr, "FR-0002", "FR-01")
    family(fr, "FR-0003", "FR-01")
    family(nl, "NL-0002", "NL-01")
    signed_in(app, client, nl)

    page = client.get(f"{STUDY}/").get_data(as_text=True)

    awaiting = re.search(
        r'data-count="state-awaiting-information">\s*<span class="count">(\d+)</span>', page
    )
    assert awaiting is not None
    assert int(awaiting.group(1)) == len(records.profile(_participant("NL-0002"))["records"])


def _participant(code: str) -> Participant:
    return Participant.objects.get(code=code)


@pytest.mark.parametrize("role", [StaffRole.MONITOR])
def test_a_monitor_cannot_enrol_or_withdraw(
    app: Any, client: Any, nl: Member, role: StaffRole
) -> None:
    child = family(nl, "NL-MON-1", "NL-01")
    before = events_of(child)
    monitor = colleague("monitor@example.org", role, ("NL-01",))
    signed_in(app, client, monitor)
    csrf = csrf_of(client.get("/staff/"))

    assert client.get(participant_url(child.code)).status_code == 200  # a monitor reads
    enrol_page = client.get(f"{STUDY}/enrol")
    enrol = client.post(
        f"{STUDY}/enrol",
        data={
            "csrf_token": csrf,
            "action": "enrol",
            "code": "NL-MON-2",
            "site": "NL-01",
            "birth_date": "2015-01-01",
            "signers-0-role": "guardian",
            "signers-0-name": "A",
            "signers-0-email": "a@example.org",
        },
    )
    withdraw_page = client.get(participant_url(child.code, "/withdraw"))
    withdraw = client.post(
        participant_url(child.code, "/withdraw"),
        data={
            "csrf_token": csrf,
            "scopes": "full",
            "channel": "phone",
            "reason_declined": "yes",
        },
    )
    dissent = client.post(
        participant_url(child.code, "/dissent"), data={"csrf_token": csrf, "confirm": "yes"}
    )
    page = client.get(participant_url(child.code)).get_data(as_text=True)

    statuses = {r.status_code for r in (enrol_page, enrol, withdraw_page, withdraw, dissent)}
    assert statuses == {403}
    assert Participant.objects(code="NL-MON-2").count() == 0
    assert events_of(child) == before
    assert "Record a withdrawal" not in page and "Invite" not in page


# ---------------------------------------------------------------- escaping


def test_script_in_a_code_or_a_name_is_shown_escaped_everywhere(
    app: Any, client: Any, nl: Member
) -> None:
    child = family(nl, XSS, "NL-01", names=(XSS, "Piet", "Sem"))
    staff = staff_doc(nl)
    enrolment.record_withdrawal(
        child,
        scopes=["no-new-data"],
        expressed_by=None,
        channel="phone",
        actor=enrolment.staff_actor(staff, "investigator", "phone"),
        reason=XSS,
        reason_declined=False,
    )
    signed_in(app, client, nl)

    pages = {
        "participant": client.get(participant_url(XSS)),
        "worklist": client.get(f"{STUDY}/records"),
        "search": client.get(f"{STUDY}/records?q={quote('<script>', safe='')}"),
        "dashboard": client.get(f"{STUDY}/"),
        "withdraw": client.get(participant_url(XSS, "/withdraw")),
    }

    for name, response in pages.items():
        text = response.get_data(as_text=True)
        assert response.status_code == 200, name
        assert XSS not in text, name
    participant_page = pages["participant"].get_data(as_text=True)
    assert participant_page.count(ESCAPED) >= 3  # heading, family table, timeline
    assert ESCAPED in pages["worklist"].get_data(as_text=True)
    assert "Content-Security-Policy" in pages["participant"].headers


def test_the_enrol_form_keeps_and_escapes_what_was_typed(app: Any, client: Any, nl: Member) -> None:
    signed_in(app, client, nl)
    csrf = csrf_of(client.get(f"{STUDY}/enrol"))

    response = client.post(
        f"{STUDY}/enrol",
        data={
            "csrf_token": csrf,
            "action": "enrol",
            "code": "NL-ONE-PARENT",
            "site": "NL-01",
            "birth_date": (now_utc().date() - timedelta(days=13 * 365 + 40)).isoformat(),
            "signers-0-role": "guardian",
            "signers-0-name": XSS,
            "signers-0-email": "a@example.org",
        },
    )

    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert XSS not in text
    assert f'value="{html.escape(XSS)}"' in text
    assert 'value="NL-ONE-PARENT"' in text
    assert 'data-error="guardian-exception-required"' in text  # NL, 13: both parents and the child
    assert "data-preview=" in text  # the requirements are shown with the error
    assert Participant.objects(code="NL-ONE-PARENT").count() == 0


# ---------------------------------------------------------------- enrolment, invitation, actions


def test_check_requirements_shows_what_the_rules_need_before_saving(
    app: Any, client: Any, nl: Member
) -> None:
    signed_in(app, client, nl)
    csrf = csrf_of(client.get(f"{STUDY}/enrol"))
    birth = (now_utc().date() - timedelta(days=13 * 365 + 40)).isoformat()

    response = client.post(
        f"{STUDY}/enrol",
        data={
            "csrf_token": csrf,
            "action": "preview",
            "code": "NL-PREVIEW",
            "site": "NL-01",
            "birth_date": birth,
        },
    )

    text = response.get_data(as_text=True)
    assert response.status_code == 200
    guardians = re.search(r'data-preview="guardians">(\d+)', text)
    assert guardians is not None and guardians.group(1) == "2"
    assert "the participant signs too" in text
    assert Participant.objects(code="NL-PREVIEW").count() == 0


def test_enrol_then_invite_shows_the_code_link_and_qr_once(
    app: Any, client: Any, nl: Member
) -> None:
    signed_in(app, client, nl)
    csrf = csrf_of(client.get(f"{STUDY}/enrol"))
    birth = (now_utc().date() - timedelta(days=13 * 365 + 40)).isoformat()
    data = {
        "csrf_token": csrf,
        "action": "enrol",
        "code": "NL-WEB-1",
        "site": "NL-01",
        "birth_date": birth,
        "preferred_language": "nl",
    }
    for i, (role, name, email) in enumerate(
        [
            ("guardian", "Anna", "anna@example.org"),
            ("guardian", "Piet", "piet@example.org"),
            ("participant", "Sem", "sem@example.org"),
        ]
    ):
        data |= {
            f"signers-{i}-role": role,
            f"signers-{i}-name": name,
            f"signers-{i}-email": email,
        }

    enrolled = client.post(f"{STUDY}/enrol", data=data)

    assert enrolled.status_code == 302
    page = client.get(enrolled.headers["Location"])
    text = page.get_data(as_text=True)
    assert "Anna" in text and "Sem" in text
    signer_id = re.search(r'name="signer_id" value="([^"]+)"', text).group(1)
    invitation = client.post(
        participant_url("NL-WEB-1", "/invite"),
        data={"csrf_token": csrf_of(page), "signer_id": signer_id},
    )
    shown = invitation.get_data(as_text=True)
    assert invitation.status_code == 200
    printed = re.search(r'id="invitation-code">([^<]+)<', shown).group(1)
    # Printed in groups of four, as the family page's hint shows it; the link has it plain.
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{1,4})+", printed)
    code = printed.replace("-", "")
    assert re.search(rf'href="{settings.public_url()}/family/(i|invite)/{code}"', shown)
    assert "<svg" in shown
    # The handout speaks the family's language (Dutch here), not the staff member's.
    handout = re.search(
        r'<section class="handout" id="handout" lang="([^"]+)"(.*?)</section>', shown, re.S
    )
    assert handout.group(1) == "nl"
    assert html.escape(i18n.gettext("nl", HANDOUT["step_time"])) in handout.group(2)
    assert i18n.gettext("nl", HANDOUT["step_time"]) != HANDOUT["step_time"]
    assert "Hospital" not in handout.group(2)
    assert invitation.headers["Cache-Control"] == "no-store"


def test_site_staff_enrol_on_the_page_with_the_sites_investigator_as_signer(
    app: Any, client: Any, nl: Member
) -> None:
    nurse = colleague("nurse.nl@example.org", StaffRole.SITE_STAFF, ("NL-01",))
    signed_in(app, client, nurse)
    csrf = csrf_of(client.get(f"{STUDY}/enrol"))
    data = {
        "csrf_token": csrf,
        "action": "enrol",
        "code": "NL-WEB-2",
        "site": "NL-01",
        "birth_date": (now_utc().date() - timedelta(days=13 * 365 + 40)).isoformat(),
    }
    for i, (role, name) in enumerate(
        [("guardian", "Anna"), ("guardian", "Piet"), ("participant", "Sem")]
    ):
        data |= {
            f"signers-{i}-role": role,
            f"signers-{i}-name": name,
            f"signers-{i}-email": "a@example.org",
        }

    without = client.post(f"{STUDY}/enrol", data=data)
    saved_without = Participant.objects(code="NL-WEB-2").count()
    chosen = client.post(f"{STUDY}/enrol", data={**data, "investigator_id": nl.staff_id})

    assert (without.status_code, saved_without) == (422, 0)
    assert f'<option value="{nl.staff_id}">' in without.get_data(as_text=True)
    assert chosen.status_code == 302
    signer = enrolment.staff_signer(_participant("NL-WEB-2"), staff_doc(nl))
    assert signer is not None


def test_the_enrolment_form_shows_phone_numbers_of_the_sites_country(
    app: Any, client: Any, nl: Member
) -> None:
    nurse = colleague("nurse.lt@example.org", StaffRole.SITE_STAFF, ("LT-01",))
    signed_in(app, client, nurse)
    page = client.get(f"{STUDY}/enrol")
    text = page.get_data(as_text=True)
    data = {
        "csrf_token": csrf_of(page),
        "action": "enrol",
        "code": "LT-PHONE-1",
        "site": "LT-01",
        "birth_date": (now_utc().date() - timedelta(days=13 * 365 + 40)).isoformat(),
        "signers-0-role": "guardian",
        "signers-0-name": "Ona",
        "signers-0-phone": "0612 not a number",
    }

    refused = client.post(f"{STUDY}/enrol", data=data).get_data(as_text=True)

    # A Lithuanian site's nurse sees a Lithuanian mobile number (+370), not a Dutch one.
    placeholders = re.findall(r'type="tel"[^>]*placeholder="([^"]+)"', text)
    assert placeholders and all(p.startswith("+370 6") for p in placeholders)
    error = re.search(r'id="signers-0-phone-error"[^>]*>([^<]+)<', refused)
    assert error is not None and "+370 6" in error.group(1)
    assert Participant.objects(code="LT-PHONE-1").count() == 0


def test_an_invitation_can_be_replaced_and_revoked_from_the_participant_page(
    app: Any, client: Any, nl: Member
) -> None:
    signed_in(app, client, nl)
    participant = family(nl, "NL-INV-1", "NL-01")
    guardian = next(s for s in participants.signers_of(participant) if s.role == "guardian")
    page = client.get(participant_url("NL-INV-1"))
    first = client.post(
        participant_url("NL-INV-1", "/invite"),
        data={"csrf_token": csrf_of(page), "signer_id": str(guardian.id)},
    )
    old_code = re.search(r'id="invitation-code">([^<]+)<', first.get_data(as_text=True)).group(1)

    page = client.get(participant_url("NL-INV-1"))
    text = page.get_data(as_text=True)
    invitation_id = re.search(r'data-invitation-id="([^"]+)"', text).group(1)
    replaced = client.post(
        participant_url("NL-INV-1", f"/invitations/{invitation_id}/resend"),
        data={"csrf_token": csrf_of(page)},
    )
    shown = replaced.get_data(as_text=True)
    new_code = re.search(r'id="invitation-code">([^<]+)<', shown).group(1)
    assert new_code != old_code

    def redeem(code: str) -> int:
        return client.post("/api/v1/auth/invitations/redeem", json={"code": code}).status_code

    assert redeem(old_code) == 401

    page = client.get(participant_url("NL-INV-1"))
    active = re.findall(
        r'data-invitation-id="([^"]+)">(?:(?!</tr>).)*?/revoke', page.get_data(as_text=True), re.S
    )
    assert len(active) == 1  # only the new invitation can still be revoked
    revoked = client.post(
        participant_url("NL-INV-1", f"/invitations/{active[0]}/revoke"),
        data={"csrf_token": csrf_of(page)},
    )
    assert revoked.status_code == 302
    after = client.get(revoked.headers["Location"]).get_data(as_text=True)
    assert "no longer works" in after
    assert redeem(new_code) == 401


def test_countersigning_asks_for_password_and_code_again_after_five_minutes(
    app: Any, client: Any, nl: Member
) -> None:
    child = family(nl, "NL-CS-1", "NL-01")
    signed_in(app, client, nl)
    StaffSession.objects(staff_id=nl.staff_id).update(
        set__reauth_at=now_utc() - timedelta(minutes=10)
    )
    record_id = records.profile(child)["records"][0]["record_id"]
    url = participant_url(child.code, f"/records/{record_id}/countersign")

    stale = client.get(url)

    assert stale.status_code == 302
    location = urlsplit(stale.headers["Location"])
    assert location.path == "/staff/reauth"
    reauth_page = client.get(stale.headers["Location"])
    confirmed = client.post(
        "/staff/reauth",
        data={
            "csrf_token": csrf_of(reauth_page),
            "password": PASSWORD,
            "code": nl.recovery[0],
            "next": re.search(r'name="next" value="([^"]+)"', reauth_page.get_data(as_text=True))
            .group(1)
            .replace("&amp;", "&"),
        },
    )
    assert confirmed.status_code == 302
    assert urlsplit(confirmed.headers["Location"]).path == urlsplit(url).path
    page = client.get(url)
    assert page.status_code == 200
    assert 'id="signature-canvas"' in page.get_data(as_text=True)
    too_early = client.post(
        url,
        data={
            "csrf_token": csrf_of(page),
            "printed_name": "Dr Inv",
            "strokes": "[[[1, 2], [30, 40]]]",
        },
    )
    assert too_early.status_code == 422  # the family signs first
    assert "countersigns after the family" in too_early.get_data(as_text=True)


def test_dissent_on_the_page_asks_for_password_and_code_again_after_five_minutes(
    app: Any, client: Any, nl: Member
) -> None:
    child = family(nl, "NL-DIS-1", "NL-01")
    signed_in(app, client, nl)
    csrf = csrf_of(client.get(participant_url(child.code)))
    StaffSession.objects(staff_id=nl.staff_id).update(
        set__reauth_at=now_utc() - timedelta(minutes=10)
    )
    before = events_of(child)

    stale = client.post(
        participant_url(child.code, "/dissent"), data={"csrf_token": csrf, "confirm": "yes"}
    )

    assert stale.status_code == 302
    assert urlsplit(stale.headers["Location"]).path == "/staff/reauth"
    assert events_of(child) == before


def test_dissent_on_the_page_records_who_told_the_team(app: Any, client: Any, nl: Member) -> None:
    child = family(nl, "NL-DIS-2", "NL-01")
    guardian = participants.signers_of(child)[0]
    signed_in(app, client, nl)
    page = client.get(participant_url(child.code))
    csrf = csrf_of(page)
    assert f'<option value="{guardian.id}">' in page.get_data(as_text=True)

    forged = client.post(
        participant_url(child.code, "/dissent"),
        data={"csrf_token": csrf, "confirm": "yes", "expressed_by": "someone else entirely"},
    )
    done = client.post(
        participant_url(child.code, "/dissent"),
        data={"csrf_token": csrf, "confirm": "yes", "expressed_by": str(guardian.id)},
    )

    assert forged.status_code == 422
    assert "among the participant" in forged.get_data(as_text=True)
    assert done.status_code == 302
    [dissent] = [e for e in records.history(child) if e["type"] == "assent.dissent"]
    assert dissent["payload"]["expressed_by"] == str(guardian.id)


def test_a_withdrawal_is_recorded_with_its_scopes_and_channel(
    app: Any, client: Any, nl: Member
) -> None:
    child = family(nl, "NL-WD-1", "NL-01")
    signed_in(app, client, nl)
    page = client.get(participant_url(child.code, "/withdraw"))
    csrf = csrf_of(page)

    missing = client.post(
        participant_url(child.code, "/withdraw"),
        data={"csrf_token": csrf, "scopes": "no-new-data", "channel": "phone"},
    )
    done = client.post(
        participant_url(child.code, "/withdraw"),
        data={
            "csrf_token": csrf,
            "scopes": ["no-new-data", "samples-destroy"],
            "channel": "letter",
            "reason_declined": "yes",
        },
    )

    assert missing.status_code == 422
    assert done.status_code == 302
    last = audit.chain_dicts(str(child.id))[-1]
    assert last["type"] == "withdrawal.recorded"
    assert last["payload"]["scopes"] == ["no-new-data", "samples-destroy"]
    assert last["payload"]["channel"] == "letter" and last["payload"]["reason_declined"]
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert label("withdrawal_scope", "no-new-data", "en") in shown


def test_the_worklist_exports_csv_and_xlsx_with_the_cookie(
    app: Any, client: Any, nl: Member
) -> None:
    family(nl, "NL-EXP-1", "NL-01")
    signed_in(app, client, nl)

    # Both stream inside their request's context: read each before asking for the next, as a
    # server does (the test client runs both requests on one thread).
    csv = client.get(f"{STUDY}/records/export.csv?state=awaiting-information")
    csv_text = csv.get_data(as_text=True)
    xlsx = client.get(f"{STUDY}/records/export.xlsx")
    xlsx.get_data()

    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "NL-EXP-1" in csv_text
    assert xlsx.status_code == 200
    assert xlsx.data[:2] == b"PK"
    assert "attachment" in xlsx.headers["Content-Disposition"]


# ---------------------------------------------------------------- languages


@pytest.mark.parametrize("locale", ["fr", "de"])
def test_pages_render_in_french_and_german(app: Any, client: Any, nl: Member, locale: str) -> None:
    family(nl, "NL-LANG-1", "NL-01")
    login_page = client.get(f"/staff/login?lang={locale}").get_data(as_text=True)
    expected = i18n.gettext(locale, "Sign in for study staff")
    assert expected != "Sign in for study staff"
    assert expected in login_page
    assert f'lang="{locale}"' in login_page

    signed_in(app, client, nl)
    dashboard = client.get(f"{STUDY}/?lang={locale}").get_data(as_text=True)
    state = label("record_state", "awaiting-information", locale)
    assert state != label("record_state", "awaiting-information", "en")
    assert html.escape(state) in dashboard
    assert i18n.gettext(locale, "Records by state") in dashboard
    worklist = client.get(f"{STUDY}/records").get_data(as_text=True)  # the choice is remembered
    assert html.escape(i18n.gettext(locale, "Worklist")) in worklist


def test_worklist_page_links_to_older_records_by_cursor(
    app: Any, client: Any, nl: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("backend.web.staff.dashboard.PAGE_SIZE", 1)
    family(nl, "NL-0002", "NL-01")
    family(nl, "NL-0003", "NL-01")
    signed_in(app, client, nl)
    shown: list[str] = []
    url: str | None = f"{STUDY}/records"
    while url:
        page = client.get(url).get_data(as_text=True)
        shown += re.findall(r'<th scope="row"><a href="[^"]*">([^<]+)</a>', page)
        if url != f"{STUDY}/records":
            assert "Back to the newest" in page
        found = re.search(r'<a class="button secondary" href="([^"]+)" rel="next">', page)
        url = html.unescape(found.group(1)) if found else None

    expected = sum(len(records.profile(_participant(c))["records"]) for c in ("NL-0002", "NL-0003"))
    assert len(shown) == expected
    assert shown[0] == "NL-0003"  # newest first
    refused = client.get(f"{STUDY}/records?cursor=forged")
    assert refused.status_code == 422
