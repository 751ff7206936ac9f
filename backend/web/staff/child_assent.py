"""A young child gives their assent in front of the member, on the staff device.

The page calls :mod:`consentkit.services.child_with_staff`: the child's text (their
language, pictures included), yes or no to each point, then their drawing or their
first name; the member, who re-authenticated, confirms it happened in front of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import redirect, request, url_for

from backend.auth import client_ip
from backend.web.staff import bp
from backend.web.staff.common import _, _check_csrf, _field, _language_name, _render
from backend.web.staff.participants import _confirmed, _form_error, _strokes
from consentkit.clock import now_utc
from consentkit.enums import SignatureMethod
from consentkit.errors import ConsentKitError
from consentkit.policy.roles import Action
from consentkit.services import child_with_staff
from consentkit.services import staff as staff_service


def _shown_at(raw: str) -> datetime | None:
    try:
        return datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@bp.route(
    "/studies/<trial_id>/participants/<path:code>/records/<record_id>/child",
    methods=["GET", "POST"],
)
def child_assent(trial_id: str, code: str, record_id: str) -> Any:
    """A young child's assent in front of the member (password and code first)."""
    signed, found = _confirmed(
        trial_id, code, Action.RECORD_PAPER, ".child_assent", record_id=record_id
    )
    turn = child_with_staff.child_turn(found, record_id)
    values: dict[str, Any] = {"printed_name": "", "method": turn.methods[0], "choices": {}}
    error = None
    shown_at = now_utc().isoformat()
    if request.method == "POST":
        _check_csrf(signed)
        choices = {}
        for item in turn.items:
            answer = request.form.get(f"item-{item['id']}")
            if answer in ("yes", "no"):
                choices[item["id"]] = answer == "yes"
        method = _field("method", 20) or SignatureMethod.DRAWN
        values = {"printed_name": _field("printed_name", 200), "method": method, "choices": choices}
        shown_at = request.form.get("shown_at", "")[:40] or shown_at
        if not request.form.get("attest"):
            error = _("Please confirm that the child gave their assent in front of you.")
        else:
            try:
                child_with_staff.sign_with_staff(
                    found,
                    record_id,
                    staff=signed.staff,
                    staff_role=staff_service.acting_as(signed, trial_id, found.site_code).role,
                    choices=choices,
                    printed_name=values["printed_name"],
                    method=method,
                    strokes=_strokes(request.form.get("strokes", "")) or [],
                    i_sign=method == SignatureMethod.TYPED,
                    verified_at=signed.session.reauth_at,
                    shown_at=_shown_at(shown_at),
                    ip=client_ip(),
                    user_agent=request.headers.get("User-Agent", "")[:300],
                )
            except ConsentKitError as exc:
                error = _form_error(
                    exc, ".child_assent", trial_id=trial_id, code=found.code, record_id=record_id
                )
            else:
                return redirect(
                    url_for(
                        ".participant", trial_id=trial_id, code=found.code, notice="child-signed"
                    )
                )
    return _render(
        "child_assent.html",
        422 if error else 200,
        trial_id=trial_id,
        participant=found,
        turn=turn,
        text_language=_language_name(turn.locale),
        values=values,
        shown_at=shown_at,
        error=error,
    )
