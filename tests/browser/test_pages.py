"""The web pages' guarantees: security headers, no inline code, escaping, and their language."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from backend.web import CONTENT_SECURITY_POLICY
from consentkit.i18n import gettext
from consentkit.services import access, records
from tests.browser.conftest import Outbox
from tests.browser.family_steps import sign_in
from tests.consentkit.records_helpers import STAFF, make_family

PAGES = [
    "/family/",
    "/family/i/K7Q2M9XDAB",
    "/family/invite/K7Q2M9XDAB",
    "/family/code",
    "/family/tasks",
    "/family/records/0123456789abcdef0123456789abcdef/read",
    "/family/records/0123456789abcdef0123456789abcdef/quiz",
    "/family/records/0123456789abcdef0123456789abcdef/choices",
    "/family/records/0123456789abcdef0123456789abcdef/sign",
    "/family/records/0123456789abcdef0123456789abcdef/done",
    "/family/withdraw",
    "/family/wallet",
    "/family/news",
    "/family/sign-out",
]
MARKUP = '"><img src=x onerror="window.ckInjected=1">'


@pytest.mark.parametrize("url", PAGES)
def test_web_page_carries_the_security_headers(client: Any, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", PAGES)
def test_web_page_has_no_inline_script_or_style(client: Any, url: str) -> None:
    html = client.get(url).get_data(as_text=True)

    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts)
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_web_static_files_are_served_with_nosniff(client: Any) -> None:
    served = {}
    for name in ("js/family.js", "vendor/signature_pad.umd.min.js", "css/app.css"):
        with client.get(f"/static/{name}") as response:  # closes the file it streams
            served[name] = (response.status_code, response.mimetype, response.headers)

    assert {status for status, _, _ in served.values()} == {200}
    assert served["js/family.js"][1] == "text/javascript"
    assert served["css/app.css"][1] == "text/css"
    assert served["js/family.js"][2]["X-Content-Type-Options"] == "nosniff"


def test_web_policy_is_not_added_to_the_json_api(client: Any) -> None:
    response = client.get("/api/v1/health")

    assert "Content-Security-Policy" not in response.headers


def test_web_deep_link_code_is_escaped(client: Any) -> None:
    html = client.get("/family/i/" + quote(MARKUP, safe="")).get_data(as_text=True)

    assert "<img" not in html
    assert "&lt;img src=x onerror=&#34;window.ckInjected=1&#34;&gt;" in html


def test_web_page_follows_an_explicit_language_and_remembers_it(client: Any) -> None:
    chosen = client.get("/family/?lang=fr")
    later = client.get("/family/tasks", headers={"Accept-Language": "de"})

    html = chosen.get_data(as_text=True)
    assert '<html lang="fr" dir="ltr">' in html
    assert gettext("fr", "Welcome") in html
    assert gettext("fr", "Invitation code") in html
    assert gettext("fr", "Welcome") != "Welcome"
    assert "consentkit_lang=fr" in chosen.headers["Set-Cookie"]
    assert '<html lang="fr"' in later.get_data(as_text=True)


def test_web_page_follows_accept_language_without_a_choice(client: Any) -> None:
    html = client.get("/family/", headers={"Accept-Language": "de-AT, en;q=0.5"}).get_data(
        as_text=True
    )

    assert '<html lang="de"' in html
    assert gettext("de", "Welcome") in html


def test_web_page_language_switcher_names_languages_in_their_own_language(client: Any) -> None:
    html = client.get("/family/withdraw?lang=pl").get_data(as_text=True)

    assert 'hreflang="fr" lang="fr">Français</a>' in html
    assert 'hreflang="lt" lang="lt">Lietuvių</a>' in html
    assert 'href="/family/withdraw?lang=de"' in html
    assert 'lang="pl" aria-current="true">Polski</a>' in html


@pytest.mark.browser
def test_web_participant_code_with_markup_is_shown_as_text_in_french(
    phones: Any, outbox: Outbox, demo_study: Any
) -> None:
    family = make_family(MARKUP)
    records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    code = access.create_invitation(family.participant, family.guardians[0], actor=STAFF)
    phone = phones()
    page = phone.page

    page.goto(f"/family/i/{code}?lang=fr")
    page.click("#redeem-form button[type=submit]")
    page.wait_for_url("**/family/code")
    page.fill("#one-time-code", outbox.next_code())
    page.click("#verify-form button[type=submit]")
    page.wait_for_url("**/family/tasks")
    page.wait_for_selector("#task-list[aria-busy=false]")

    assert MARKUP in page.inner_text("#signed-in-as")
    assert page.evaluate("window.ckInjected") is None
    assert page.locator("main img").count() == 0
    assert page.inner_text("h1") == gettext("fr", "What to read and sign")
    assert page.get_attribute("html", "lang") == "fr"
    phone.screenshot("tasks-fr-markup-in-code")


@pytest.mark.browser
def test_web_expired_access_token_is_refreshed_once_then_sign_in_is_asked(
    phones: Any, outbox: Outbox, demo_study: Any
) -> None:
    family = make_family()
    records.open_record(family.participant, form_id="parental-consent", actor=STAFF)
    phone = phones()
    page = phone.page
    sign_in(
        phone,
        access.create_invitation(family.participant, family.guardians[0], actor=STAFF),
        outbox,
    )
    refresh_before = page.evaluate("sessionStorage.getItem('ck.refresh')")

    page.evaluate("sessionStorage.setItem('ck.access', 'expired')")
    page.reload()
    page.wait_for_selector("#task-list[aria-busy=false]")
    assert page.evaluate("sessionStorage.getItem('ck.access')") != "expired"
    assert page.evaluate("sessionStorage.getItem('ck.refresh')") != refresh_before

    page.evaluate("sessionStorage.setItem('ck.access', 'expired')")
    page.evaluate("sessionStorage.setItem('ck.refresh', 'revoked-refresh-token-0000')")
    page.reload()
    page.wait_for_url("**/family/")  # the language chosen at sign-in (nl) is remembered
    assert page.inner_text("#status") == gettext(
        "nl", "You are signed out. Please sign in again with your invitation code."
    )
