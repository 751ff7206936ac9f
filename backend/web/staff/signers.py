"""A family member's access, from their participant's page: end their sessions, correct a contact.

Both need the right to invite at the participant's site (``Action.INVITE``), like
replacing or revoking an invitation, and a CSRF token; the contact form validates
with the JSON API's ``ContactCorrectionSchema``, so the page and the API agree.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import redirect, request, url_for

from backend.schemas import ContactCorrectionSchema
from backend.web.staff import bp
from backend.web.staff.common import _, _check_csrf, _field, _render
from backend.web.staff.enrolment import FIELD_ERRORS
from backend.web.staff.participants import _participant, _signer_rows
from consentkit.errors import NotFoundError
from consentkit.i18n import N_
from consentkit.policy.roles import Action
from consentkit.services import enrolment
from consentkit.services import staff as staff_service

CONTACT_ERRORS: dict[str, str] = {
    "email": FIELD_ERRORS["email"],
    "phone": FIELD_ERRORS["phone"],
    "reason": N_("Say why the contact is corrected."),
    "contact": N_("Give an e-mail address or a phone number for each signer."),
}


@bp.post("/studies/<trial_id>/participants/<path:code>/signers/<signer_id>/end-sessions")
def end_sessions(trial_id: str, code: str, signer_id: str) -> Any:
    """Sign a family member out of every device at once (a lost phone, the wrong person)."""
    signed, found = _participant(trial_id, code, Action.INVITE)
    _check_csrf(signed)
    enrolment.end_sessions(
        found, signer_id, actor=staff_service.acting_as(signed, trial_id, found.site_code)
    )
    return redirect(
        url_for(".participant", trial_id=trial_id, code=found.code, notice="sessions-ended")
    )


@bp.route(
    "/studies/<trial_id>/participants/<path:code>/signers/<signer_id>/contact",
    methods=["GET", "POST"],
)
def correct_contact(trial_id: str, code: str, signer_id: str) -> Any:
    """Correct where a family member's codes go; their sessions end with the correction."""
    signed, found = _participant(trial_id, code, Action.INVITE)
    signer = next(
        (s for s in _signer_rows(found) if s["signer_id"] == signer_id and s["is_family"]), None
    )
    if signer is None:
        raise NotFoundError("This signer was not found.")
    values = {"email": signer["email"] or "", "phone": signer["phone"] or "", "reason": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        _check_csrf(signed)
        values = {
            "email": _field("email", 254),
            "phone": _field("phone", 40),
            "reason": _field("reason", 500),
        }
        try:
            args = ContactCorrectionSchema().load({k: v or None for k, v in values.items()})
        except ma.ValidationError as exc:
            errors = {k: _(CONTACT_ERRORS[k]) for k in exc.messages_dict if k in CONTACT_ERRORS}
        else:
            if not (args["email"] or args["phone"]):
                errors["contact"] = _(CONTACT_ERRORS["contact"])
        if not errors:
            enrolment.correct_contact(
                found,
                signer_id,
                email=args["email"],
                phone=args["phone"],
                reason=args["reason"],
                actor=staff_service.acting_as(signed, trial_id, found.site_code),
            )
            return redirect(
                url_for(
                    ".participant", trial_id=trial_id, code=found.code, notice="contact-corrected"
                )
            )
    return _render(
        "contact.html",
        422 if errors else 200,
        trial_id=trial_id,
        participant=found,
        signer=signer,
        values=values,
        errors=errors,
        error=" ".join(errors.values()) or None,
    )
