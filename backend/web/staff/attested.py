"""A family member signs in front of the member, and a registered name is put right.

Both pages call :mod:`consentkit.services.attested`, like the staff API
(``.../records/<id>/attested-signature`` and ``.../signers/<id>/name``), and ask
for the member's password and code again first: the member vouches for the
person in front of them, and a name correction changes what signatures must carry.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from backend.auth import client_ip
from backend.web.staff import bp
from backend.web.staff.common import _, _check_csrf, _field, _language_name, _locale, _render
from backend.web.staff.participants import _confirmed, _form_error, _signer_rows
from consentkit.errors import ConsentKitError, NotFoundError
from consentkit.labels import label
from consentkit.policy.roles import Action
from consentkit.services import attested
from consentkit.services import staff as staff_service


@bp.route(
    "/studies/<trial_id>/participants/<path:code>/records/<record_id>/attest",
    methods=["GET", "POST"],
)
def attest_signature(trial_id: str, code: str, record_id: str) -> Any:
    """A family member signs in front of the member, who attests it (password and code first)."""
    signer_id = (request.values.get("signer") or "")[:40]
    signed, found = _confirmed(
        trial_id,
        code,
        Action.RECORD_PAPER,
        ".attest_signature",
        record_id=record_id,
        signer=signer_id,
    )
    text = attested.attested_text(found, record_id, signer_id)
    values = {"printed_name": "", "witness_name": "", "justification": ""}
    error = None
    if request.method == "POST":
        _check_csrf(signed)
        values = {
            "printed_name": _field("printed_name", 200),
            "witness_name": _field("witness_name", 200),
            "justification": _field("justification", 2000),
        }
        if not request.form.get("attest"):
            error = _("Please confirm that the signature was given in front of you.")
        else:
            try:
                attested.sign_attested(
                    found,
                    record_id,
                    signer_id=text.signer_id,
                    staff=signed.staff,
                    staff_role=staff_service.acting_as(signed, trial_id, found.site_code).role,
                    locale=text.locale,
                    content_sha256=text.content_sha256,
                    printed_name=values["printed_name"],
                    witness_name=values["witness_name"] or None,
                    early_signing_justification=values["justification"] or None,
                    verified_at=signed.session.reauth_at,
                    ip=client_ip(),
                    user_agent=request.headers.get("User-Agent", "")[:300],
                )
            except ConsentKitError as exc:
                error = _form_error(
                    exc,
                    ".attest_signature",
                    trial_id=trial_id,
                    code=found.code,
                    record_id=record_id,
                    signer=signer_id,
                )
            else:
                return redirect(
                    url_for(
                        ".participant", trial_id=trial_id, code=found.code, notice="attested-signed"
                    )
                )
    return _render(
        "attest.html",
        422 if error else 200,
        trial_id=trial_id,
        participant=found,
        text=text,
        kind=label("form_kind", text.form_kind, _locale()),
        text_language=_language_name(text.locale),
        values=values,
        error=error,
    )


@bp.route(
    "/studies/<trial_id>/participants/<path:code>/signers/<signer_id>/name",
    methods=["GET", "POST"],
)
def correct_name(trial_id: str, code: str, signer_id: str) -> Any:
    """Correct a family member's registered name, with a reason (password and code first)."""
    signed, found = _confirmed(trial_id, code, Action.ENROL, ".correct_name", signer_id=signer_id)
    signer = next(
        (s for s in _signer_rows(found) if s["signer_id"] == signer_id and s["is_family"]), None
    )
    if signer is None:
        raise NotFoundError("This signer was not found.")
    values = {"name": signer["name"], "reason": ""}
    error = None
    if request.method == "POST":
        _check_csrf(signed)
        values = {"name": _field("name", 200), "reason": _field("reason", 500)}
        try:
            attested.correct_name(
                found,
                signer_id,
                name=values["name"],
                reason=values["reason"],
                actor=staff_service.acting_as(signed, trial_id, found.site_code),
            )
        except ConsentKitError as exc:
            error = _form_error(
                exc, ".correct_name", trial_id=trial_id, code=found.code, signer_id=signer_id
            )
        else:
            return redirect(
                url_for(".participant", trial_id=trial_id, code=found.code, notice="name-corrected")
            )
    return _render(
        "name.html",
        422 if error else 200,
        trial_id=trial_id,
        participant=found,
        signer=signer,
        values=values,
        error=error,
    )
