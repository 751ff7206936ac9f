"""What the staff page modules share: page language and times, access checks, CSRF and forms.

Every page module asks for access, checks CSRF and reads form fields through these
helpers, so there is one sign-in check, one site check and one CSRF rule for all the
staff pages. Nothing here registers on the blueprint (see ``handlers``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_datetime
from flask import abort, current_app, g, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from backend.auth.staff import csrf_ok, current_staff, require
from backend.web import i18n as web_i18n
from consentkit import i18n
from consentkit.enums import SCOPES_LEAST_FIRST
from consentkit.errors import AuthenticationError
from consentkit.i18n import N_
from consentkit.labels import label
from consentkit.policy.locales import language_option
from consentkit.policy.roles import Action, StaffRole, allowed
from consentkit.services import forms
from consentkit.services import staff as staff_service
from consentkit.services.staff import Signed


def _(message: str, /, **params: Any) -> str:
    """Translate ``message`` into the page's language and fill its ``%(name)s`` placeholders."""
    text = web_i18n.gettext(message)
    return text % params if params else text


#: Before sign-in there is no session to bind a CSRF token to: a random value in this
#: cookie (SameSite=Strict) and its HMAC in the form (double submit).
FORM_COOKIE = "ck_staff_form"
COOKIE_PATH = "/staff"
#: The longest text kept from a form field that names no limit of its own.
MAX_FIELD = 320

STAFF_ROLES: dict[str, str] = {
    StaffRole.SPONSOR_ADMIN: N_("Sponsor administrator"),
    StaffRole.INVESTIGATOR: N_("Investigator"),
    StaffRole.SITE_STAFF: N_("Site staff"),
    StaffRole.MONITOR: N_("Monitor"),
}

#: Messages shown after a redirect (``?notice=``): fixed keys, never text from the address.
NOTICES: dict[str, str] = {
    "enrolled": N_("The participant is enrolled. Invite each family member to read and sign."),
    "countersigned": N_("Your countersignature is saved."),
    "paper-recorded": N_("The paper consent and its scan are recorded."),
    "withdrawal-recorded": N_("The withdrawal is recorded."),
    "dissent-recorded": N_("The child's dissent is recorded."),
    "dissent-reviewed": N_("Your review of the child's dissent is recorded."),
    "invitation-revoked": N_("The invitation is revoked; its code no longer works."),
    "sessions-ended": N_("The family member is signed out of every device."),
    "contact-corrected": N_(
        "The contact is corrected. The family member is signed out of every device."
    ),
    "password-changed": N_("Your password is changed. Your other sessions have ended."),
    "witness-registered": N_(
        "The witness is registered. They sign on this device after the person they witness."
    ),
    "witness-signed": N_("The witness's signature is saved."),
    "question-answered": N_("Your answer is saved. The family is told to read it."),
    "question-closed": N_("The question is closed."),
    "attested-signed": N_("The signature given in front of you is saved."),
    "child-signed": N_("The child's assent, given in front of you, is saved."),
    "name-corrected": N_("The registered name is corrected."),
    "digest-on": N_("Your daily summary e-mail is on."),
    "digest-off": N_("Your daily summary e-mail is off."),
}

#: Withdrawal options, the least first, all last.
WITHDRAWAL_SCOPES = SCOPES_LEAST_FIRST


def _locale() -> str:
    return web_i18n.page_locale()


def _babel_locale() -> Locale:
    try:
        return Locale.parse(_locale().replace("-", "_"))
    except (ValueError, TypeError):
        return Locale("en")


def _prefer_member_language(signed: Signed) -> None:
    """Show pages in the member's language unless they chose one on the page."""
    if "page_locale" in g or web_i18n.requested_locale():
        return
    if request.cookies.get(web_i18n.COOKIE_NAME):
        return
    available = i18n.available_locales()
    wanted = (signed.staff.locale or "").replace("_", "-")
    for candidate in (wanted, wanted.split("-")[0]):
        if candidate in available:
            g.page_locale = candidate
            return


def _signed() -> Signed:
    """Return the signed-in member (cookie), or raise AuthenticationError (-> login)."""
    signed = current_staff(cookie=True)
    _prefer_member_language(signed)
    return signed


def _require(action: Action, trial_id: str, site_code: str | None = None) -> Signed:
    """Return the member if allowed ``action`` at ``site_code`` (403 page otherwise)."""
    signed = require(action, trial_id, site_code, cookie=True)
    _prefer_member_language(signed)
    return signed


def _zone(signed: Signed | None) -> ZoneInfo:
    """The site's time zone on a participant's pages, else the member's own."""
    try:
        return ZoneInfo(g.get("site_time_zone") or (signed.staff.time_zone if signed else "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _when(value: datetime | date | str | None) -> str:
    """Format a time (in the site's or the member's time zone) or a date in the page's language.

    A birth date is a date and never gains a time of day.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        signed: Signed | None = g.get("staff_signed")
        return format_datetime(aware, "medium", tzinfo=_zone(signed), locale=_babel_locale())
    return format_date(value, "medium", locale=_babel_locale())


def safe_next(target: str | None) -> str | None:
    """Return ``target`` if it is a path of these pages, else None (no open redirect)."""
    if not target or len(target) > 2000:
        return None
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(COOKIE_PATH + "/"):
        return None
    if target.startswith("//"):
        return None
    return target


def _here() -> str | None:
    """Return this page's path (and query) for ``next``, for a GET; posts go home."""
    if request.method != "GET":
        return None
    return request.full_path.rstrip("?")


def _cookie_secure() -> bool:
    configured = current_app.config.get("STAFF_COOKIE_SECURE")
    if configured is not None:
        return bool(configured)
    return current_app.config.get("ENV") == "production" or request.is_secure


def _hmac(text: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _anonymous_csrf() -> str:
    nonce = request.cookies.get(FORM_COOKIE) or g.get("new_form_nonce")
    if not nonce:
        nonce = g.new_form_nonce = secrets.token_urlsafe(24)
    return _hmac(f"staff-form:{nonce}")


def _check_anonymous_csrf() -> None:
    nonce = request.cookies.get(FORM_COOKIE, "")
    presented = request.form.get("csrf_token", "")
    if not nonce or not hmac.compare_digest(_hmac(f"staff-form:{nonce}"), presented):
        abort(400)


def _check_csrf(signed: Signed) -> None:
    """Refuse a form post without this session's CSRF token (400 page, nothing changed)."""
    if not csrf_ok(signed, request.form.get("csrf_token")):
        abort(400)


def _needs_reauth(signed: Signed) -> bool:
    try:
        staff_service.require_recent_auth(signed)
    except AuthenticationError:
        return True
    return False


def _reauth_redirect(target: str) -> BaseResponse:
    return redirect(url_for(".reauth", next=target))


def _field(name: str, limit: int = MAX_FIELD) -> str:
    return (request.form.get(name) or "").strip()[:limit]


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(f"web/staff/{template}", **context), status


def _notice() -> str | None:
    key = request.args.get("notice", "")
    return _(NOTICES[key]) if key in NOTICES else None


def _can(signed: Signed, action: Action, trial_id: str, site: str | None) -> bool:
    return allowed(signed.grants, action, trial_id, site)


def _study_sites(trial_id: str) -> list[Any]:
    return list(forms.catalog(trial_id).study.sites)


def _visible_sites(signed: Signed, action: Action, trial_id: str) -> list[str]:
    """Return the codes of the sites where the member may do ``action``, sorted."""
    allowed_sites = staff_service.sites_for(signed, action, trial_id)
    codes = [s.code for s in _study_sites(trial_id)]
    if allowed_sites is None:
        return codes
    return [c for c in codes if c in allowed_sites] + sorted(set(allowed_sites) - set(codes))


def _state_label(state: str | None) -> str:
    return label("record_state", state, _locale()) if state else ""


def _language_name(tag: str | None) -> str:
    return language_option(tag).name if tag else ""
