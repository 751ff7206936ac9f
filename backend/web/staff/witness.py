"""The impartial witness on the staff device: register one, and let them sign (CTR Art 29(1)).

A parent (or participant) who cannot read has the information read out to them in
front of an impartial witness, who then signs on the staff device that it was.
Both pages call :mod:`consentkit.services.witness`, like the staff API
(``.../signers/<id>/witness`` and ``.../records/<id>/witness-signature``): the
service says which witness may sign which record now and in which language
(:func:`~consentkit.services.witness.witness_turn`), the page only shows it.
Signing asks for the member's password and code again, as countersigning does:
they vouch for the device the witness signs on.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from backend.auth import client_ip
from backend.web.staff import bp
from backend.web.staff.common import _, _check_csrf, _field, _language_name, _locale, _render
from backend.web.staff.participants import (
    _confirmed,
    _form_error,
    _participant,
    _participant_page,
    _strokes,
)
from consentkit.errors import ConflictError, ConsentKitError, InvalidDataError
from consentkit.labels import label
from consentkit.policy.roles import Action
from consentkit.services import staff as staff_service
from consentkit.services import witness


@bp.post("/studies/<trial_id>/participants/<path:code>/witnesses")
def register_witness(trial_id: str, code: str) -> Any:
    """Register the impartial witness of a family member who cannot read."""
    signed, found = _participant(trial_id, code, Action.ENROL)
    _check_csrf(signed)
    try:
        witness.register_witness(
            found,
            for_signer_id=_field("for_signer_id", 40),
            name=_field("witness_name", 200),
            actor=staff_service.acting_as(signed, trial_id, found.site_code),
        )
    except (InvalidDataError, ConflictError) as exc:
        status = 409 if isinstance(exc, ConflictError) else 422
        return _participant_page(
            trial_id, found, signed, error=exc.translated(_locale()), status=status
        )
    return redirect(
        url_for(".participant", trial_id=trial_id, code=found.code, notice="witness-registered")
    )


@bp.route(
    "/studies/<trial_id>/participants/<path:code>/records/<record_id>/witness",
    methods=["GET", "POST"],
)
def witness_sign(trial_id: str, code: str, record_id: str) -> Any:
    """The impartial witness signs in person on this device (password and code first)."""
    chosen = (request.values.get("witness") or "")[:40] or None
    signed, found = _confirmed(
        trial_id, code, Action.RECORD_PAPER, ".witness_sign", record_id=record_id, witness=chosen
    )
    # The service decides whose turn it is (404 no such record, 409 ``witness-not-due``).
    turn = witness.witness_turn(found, record_id, chosen)
    printed_name = turn.witness_name
    error = None
    if request.method == "POST":
        _check_csrf(signed)
        printed_name = _field("printed_name", 200)
        try:
            witness.sign_as_witness(
                found,
                record_id,
                witness_signer_id=turn.witness_signer_id,
                staff=signed.staff,
                locale=turn.locale,
                content_sha256=turn.content_sha256,
                printed_name=printed_name,
                strokes=_strokes(request.form.get("strokes", "")[:200_000]),
                verified_at=signed.session.reauth_at,
                ip=client_ip(),
                user_agent=request.headers.get("User-Agent", "")[:300],
            )
        except ConsentKitError as exc:
            error = _form_error(
                exc,
                ".witness_sign",
                trial_id=trial_id,
                code=found.code,
                record_id=record_id,
                witness=turn.witness_signer_id,
            )
        else:
            return redirect(
                url_for(".participant", trial_id=trial_id, code=found.code, notice="witness-signed")
            )
    return _render(
        "witness.html",
        422 if error else 200,
        trial_id=trial_id,
        participant=found,
        turn=turn,
        kind=label("form_kind", turn.form_kind, _locale()),
        text_language=_language_name(turn.locale),
        printed_name=printed_name,
        error=error,
        empty_message=_("Please ask the witness to draw their signature in the box."),
    )
