"""A participant's file and what staff do on it: invite, dissent, withdrawal, countersignature.

Every route finds the participant through ``staff.participant_for``, so another
site's participant answers the same 404 page as a code that does not exist (and
a participant the member sees but may not act on, 403); the timeline helpers
word the audit trail without showing raw payloads.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from flask import Response, g, redirect, request, url_for

from backend.auth import client_ip
from backend.config import paper_scan_limit
from backend.qr import qr_svg
from backend.schemas import StaffWithdrawalSchema
from backend.web.staff import bp
from backend.web.staff.common import (
    STAFF_ROLES,
    WITHDRAWAL_SCOPES,
    _,
    _can,
    _check_csrf,
    _field,
    _language_name,
    _locale,
    _needs_reauth,
    _notice,
    _reauth_redirect,
    _render,
    _signed,
    _state_label,
    _when,
)
from backend.web.staff.tasks import task_rows
from consentkit import settings
from consentkit.clock import aware_utc
from consentkit.enums import Channel, InterviewMode, SignerRole, WithdrawalScope
from consentkit.errors import (
    AuthenticationError,
    ConflictError,
    ConsentKitError,
    InvalidDataError,
    PermissionDeniedError,
    RateLimitedError,
)
from consentkit.i18n import N_, gettext
from consentkit.labels import blocked_label, event_label, label
from consentkit.models.participant import Participant
from consentkit.models.staff import StaffMember
from consentkit.models.study import FormVersion
from consentkit.policy.records import opened_event, standing
from consentkit.policy.roles import Action
from consentkit.services import (
    access,
    attested,
    child_with_staff,
    documents,
    enrolment,
    forms,
    outbox,
    participants,
    participation,
    records,
    timeline,
    transitions,
    witness,
)
from consentkit.services import paper as paper_service
from consentkit.services import staff as staff_service
from consentkit.services.staff import Signed

#: How a withdrawal recorded here reached the site (the family's app records its own).
STAFF_CHANNELS = (Channel.IN_PERSON, Channel.PHONE, Channel.LETTER)


def _participant(trial_id: str, code: str, action: Action) -> tuple[Signed, Participant]:
    """Return the member (allowed ``action`` at the participant's site) and the participant."""
    signed = _signed()  # sign-in before "not found": nothing is learnt about codes without it
    found = staff_service.participant_for(signed, trial_id, code, action)
    # A participant's times read in their site's time zone (when() on these pages).
    g.site_time_zone = found.timezone
    return signed, found


def _signer_rows(participant: Participant) -> list[dict[str, Any]]:
    found = enrolment.signer_details(participant)
    names = {signer["signer_id"]: signer["name"] for signer in found}
    rows = []
    for signer in found:
        role = label("signer_role", signer["role"], _locale())
        # The witness row names whom they witness: the reader sees who cannot read.
        witnessed = signer["witness_for"]
        if witnessed:
            role = f"{role} · {names.get(witnessed, '')}"
        rows.append(
            {
                **signer,
                "role_label": role,
                # A witness is not invited and expresses nothing for the family.
                "is_family": signer["role"] in (SignerRole.GUARDIAN, SignerRole.PARTICIPANT),
            }
        )
    return rows


# ---------------------------------------------------------------- timeline


def _staff_names(events: list[dict[str, Any]]) -> dict[str, str]:
    ids = {
        str(e.get("actor", {}).get("id"))
        for e in events
        if e.get("actor", {}).get("kind") == "staff"
    }
    found = StaffMember.objects(id__in=[i for i in ids if re.fullmatch(r"[0-9a-f]{24}", i)])
    return {str(m.id): m.name for m in found.only("name")}


def _who(actor: dict[str, Any], signers: dict[str, dict[str, Any]], staff: dict[str, str]) -> str:
    locale = _locale()
    kind, role = actor.get("kind"), str(actor.get("role", ""))
    if kind == "signer" and str(actor.get("id")) in signers:
        signer = signers[str(actor.get("id"))]
        who = f"{signer['name']} ({signer['role_label']})"
    elif kind == "staff":
        role_text = _(STAFF_ROLES[role]) if role in STAFF_ROLES else role
        name = staff.get(str(actor.get("id")))
        who = f"{name} ({role_text})" if name else role_text
    elif kind == "system":
        who = _("consentkit (automatic)")
    else:
        who = label("signer_role", role, locale)
    channel = actor.get("channel")
    if channel and channel != Channel.APP:
        who = f"{who}, {label('channel', channel, locale)}"
    return who


def _details(event: dict[str, Any], signers: dict[str, dict[str, Any]]) -> str:
    """Say what an event did; events without a one-line summary never show raw payloads."""
    data = event.get("payload") or {}
    kind = event["type"]
    signer = signers.get(str(data.get("signer_id", "")), {})
    name = signer.get("name", "")
    if kind == "participant.enrolled":
        return _(
            "Site %(site)s, date of birth %(date)s",
            site=data.get("site", ""),
            date=_when(str(data.get("birth_date", ""))[:10] or None),
        )
    if kind == "signer.added":
        return f"{name} ({label('signer_role', data.get('role', ''), _locale())})"
    if kind == "invitation.created":
        return _(
            "For %(name)s, valid until %(time)s", name=name, time=_when(data.get("expires_at"))
        )
    if kind == "paper.recorded":
        return _(
            "Signed on paper on %(date)s by %(names)s; scan %(sha)s",
            date=_when(data.get("signed_on")),
            names=", ".join(signers.get(s, {}).get("name", "") for s in data.get("signer_ids", [])),
            sha=str(data.get("scan_sha256", ""))[:16],
        )
    if kind in (
        "access.signed-in",
        "access.locked-out",
        "access.sessions-ended",
        "invitation.revoked",
        "signer.authenticator-enrolled",
        "signer.authenticator-replaced",
        "question.asked",
        "task.created",
    ):
        return str(name)
    try:
        return timeline.summary(event, _locale())
    except (KeyError, TypeError, ValueError):
        return ""


def _timeline(
    events: list[dict[str, Any]], signers: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    staff = _staff_names(events)
    shown = []
    for event in events:
        kind = event["type"]
        said = _details(event, signers)
        shown.append(
            {
                "seq": event["seq"],
                "at": _when(event["at"]),
                "type": event_label(kind, _locale()),
                "who": _who(event.get("actor") or {}, signers, staff),
                "summary": said,
                "state_before": _state_label(event.get("state_before")),
                "state_after": _state_label(event.get("state_after")),
            }
        )
    return shown


# ---------------------------------------------------------------- pages and actions


def _record_rows(
    trial_id: str,
    participant: Participant,
    signed: Signed,
    signers: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    locale = _locale()
    profile = records.profile(participant)
    actions = enrolment.record_actions(participant, signed.staff)
    attestable = attested.attestable_records(participant)
    # A young child's assent that can be given in front of the member, on this device.
    with_child = child_with_staff.child_records(participant)
    rows = []
    for record in profile.get("records", []):
        missing = record.get("missing_signers") or []
        can = actions.get(record["record_id"])
        # A family member may sign in front of the member when the form allows it.
        attest = [
            {
                "name": signers.get(m["signer_id"], {}).get("name", ""),
                "url": url_for(
                    ".attest_signature",
                    trial_id=trial_id,
                    code=participant.code,
                    record_id=record["record_id"],
                    signer=m["signer_id"],
                ),
            }
            for m in missing
            if can is not None
            and can.paper
            and record["record_id"] in attestable
            and m["role"] in participants.FAMILY_ROLES
        ]
        rows.append(
            {
                **record,
                "child_url": url_for(
                    ".child_assent",
                    trial_id=trial_id,
                    code=participant.code,
                    record_id=record["record_id"],
                )
                if can is not None and can.paper and record["record_id"] in with_child
                else None,
                "kind_label": label("form_kind", record["form_kind"], locale),
                "state_label": _state_label(record["state"]),
                "missing": [
                    {
                        "name": signers.get(m["signer_id"], {}).get("name", ""),
                        "role": label("signer_role", m["role"], locale),
                    }
                    for m in missing
                ],
                "complete": not missing,
                "pdf_url": url_for(
                    ".document",
                    trial_id=trial_id,
                    code=participant.code,
                    record_id=record["record_id"],
                )
                if not missing
                else None,
                "countersign_url": url_for(
                    ".countersign",
                    trial_id=trial_id,
                    code=participant.code,
                    record_id=record["record_id"],
                )
                if can is not None and can.countersign
                else None,
                "paper_url": url_for(
                    ".paper",
                    trial_id=trial_id,
                    code=participant.code,
                    record_id=record["record_id"],
                )
                if can is not None and can.paper
                else None,
                "attest": attest,
            }
        )
    return rows


def _participant_page(
    trial_id: str,
    participant: Participant,
    signed: Signed,
    *,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    locale = _locale()
    signer_rows = _signer_rows(participant)
    by_id = {s["signer_id"]: s for s in signer_rows}
    site = participant.site_code
    profile = records.profile(participant)
    # The family asked for no further contact: the page says so instead of offering to
    # invite (consentkit refuses it too, ``contact-withdrawn``).
    no_contact = access.contact_withdrawal(participant)
    where = standing(bool(profile.get("participating")), profile.get("blocked_by", []))
    return _render(
        "participant.html",
        status,
        trial_id=trial_id,
        participant=participant,
        language=_language_name(participant.preferred_language),
        signers=signer_rows,
        records=_record_rows(trial_id, participant, signed, by_id),
        tasks=task_rows(trial_id, transitions.participant_tasks(participant)),
        events=_timeline(records.history(participant), by_id),
        messages=[
            {
                **m,
                "to": by_id.get(m["signer_id"] or "", {}).get("name", "-"),
                "status_label": label("message_status", m["status"], locale),
                "reason_label": label("contact_reason", m["reason"], locale) if m["reason"] else "",
            }
            for m in outbox.messages_of(participant)
        ],
        participating=profile.get("participating"),
        standing=where,
        standing_label=label("standing", where, locale),
        blocked_by=[blocked_label(b, locale) for b in profile.get("blocked_by", [])],
        can_review_dissent="dissent" in profile.get("blocked_by", [])
        and _can(signed, Action.REVIEW_DISSENT, trial_id, site),
        withdrawn_scopes=[
            label("withdrawal_scope", s, locale) for s in profile.get("withdrawn_scopes", [])
        ],
        can_invite=_can(signed, Action.INVITE, trial_id, site),
        contact_withdrawn_on=no_contact.at if no_contact is not None else None,
        invitations=_invitation_rows(participant, {s["signer_id"]: s["name"] for s in signer_rows}),
        can_withdraw=_can(signed, Action.RECORD_WITHDRAWAL, trial_id, site),
        # The impartial witness block (_witness_panel.html, backend/web/staff/witness.py).
        witness_turns=witness.witness_turns(participant),
        can_sign_witness=_can(signed, Action.RECORD_PAPER, trial_id, site),
        can_register_witness=_can(signed, Action.ENROL, trial_id, site),
        notice=_notice(),
        error=error,
    )


@bp.get("/studies/<trial_id>/participants/<path:code>")
def participant(trial_id: str, code: str) -> Any:
    """A participant: family, records and their states, invitations, timeline, documents."""
    signed, found = _participant(trial_id, code, Action.VIEW)
    return _participant_page(trial_id, found, signed)


@bp.post("/studies/<trial_id>/participants/<path:code>/invite")
def invite(trial_id: str, code: str) -> Any:
    """Invite one family member: show the code, the link and a QR code, once."""
    signed, found = _participant(trial_id, code, Action.INVITE)
    _check_csrf(signed)
    signer_id = _field("signer_id", 40)
    result = enrolment.invite(
        found, signer_id, actor=staff_service.acting_as(signed, trial_id, found.site_code)
    )
    return _show_invitation(trial_id, found, result)


@bp.post("/studies/<trial_id>/participants/<path:code>/invitations/<invitation_id>/revoke")
def revoke_invitation(trial_id: str, code: str, invitation_id: str) -> Any:
    """Stop an invitation from working (a lost letter, the wrong person)."""
    signed, found = _participant(trial_id, code, Action.INVITE)
    _check_csrf(signed)
    access.revoke_invitation(
        found, invitation_id, actor=staff_service.acting_as(signed, trial_id, found.site_code)
    )
    return redirect(
        url_for(".participant", trial_id=trial_id, code=found.code, notice="invitation-revoked")
    )


@bp.post("/studies/<trial_id>/participants/<path:code>/invitations/<invitation_id>/resend")
def resend_invitation(trial_id: str, code: str, invitation_id: str) -> Any:
    """Replace an invitation with a new code, shown once (the old code stops working)."""
    signed, found = _participant(trial_id, code, Action.INVITE)
    _check_csrf(signed)
    result = enrolment.reissue(
        found, invitation_id, actor=staff_service.acting_as(signed, trial_id, found.site_code)
    )
    return _show_invitation(trial_id, found, result)


def _invitation_rows(participant: Participant, names: dict[str, str]) -> list[dict[str, Any]]:
    locale = _locale()
    return [
        {
            "invitation_id": invitation.invitation_id,
            "name": names.get(invitation.signer_id, ""),
            "status": label("invitation_status", invitation.status, locale),
            "active": invitation.is_active,
            "created": _when(invitation.created_at),
            "expires": _when(invitation.expires_at),
        }
        for invitation in access.invitations_of(participant)
    ]


#: The printed handout, in the family member's language: what to do with the code.
HANDOUT = {
    "title": N_("Your invitation to the study %(study)s"),
    "hospital": N_("Hospital: %(site)s"),
    "step_open": N_("Open %(address)s on your phone, or scan the QR code with its camera."),
    "step_code": N_("Type this invitation code:"),
    "step_otp": N_(
        "We then send a one-time code to your phone or e-mail address. Type it, and you can "
        "begin reading."
    ),
    "step_time": N_(
        "Take your time. You can ask the study team questions at any moment, and decide later."
    ),
    "valid": N_("This code works until %(time)s."),
}


def _handout(
    trial_id: str,
    participant: Participant,
    signer: dict[str, Any] | None,
    result: enrolment.Invitation,
    web_link: str,
) -> dict[str, str]:
    """Return the handout's texts in the family member's language (else the site's first).

    Staff read the page in their own language; the part given to the family speaks theirs.
    """
    study = forms.catalog(trial_id).study
    site = forms.site_of(study, participant.site_code)
    lang = (
        (signer or {}).get("preferred_language")
        or participant.preferred_language
        or (site.languages[0] if site.languages else "en")
    )
    expires = aware_utc(result["expires_at"])
    try:
        zone = ZoneInfo(participant.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    try:
        until = format_datetime(expires, "medium", tzinfo=zone, locale=lang.replace("-", "_"))
    except (ValueError, LookupError):
        until = format_datetime(expires, "medium", tzinfo=zone, locale="en")
    params = {"study": study.title, "site": site.name, "address": web_link, "time": until}
    texts = {
        key: gettext(lang, text, **{k: v for k, v in params.items() if f"%({k})s" in text})
        for key, text in HANDOUT.items()
    }
    return {"lang": lang, **texts}


def _show_invitation(trial_id: str, found: Participant, result: enrolment.Invitation) -> Any:
    signer_id = result["signer_id"]
    signer = next((s for s in _signer_rows(found) if s["signer_id"] == signer_id), None)
    # CONSENTKIT_PUBLIC_URL, never the request's Host header: a link handed to a family
    # must not point wherever a forged header says.
    web_link = settings.public_url() + url_for("family.invitation", code=result["code"])
    return _render(
        "invitation.html",
        trial_id=trial_id,
        participant=found,
        signer=signer,
        code=access.grouped_code(result["code"]),
        handout=_handout(trial_id, found, signer, result, web_link),
        app_link=result["link"],
        web_link=web_link,
        qr=qr_svg(web_link),
        expires_at=_when(result["expires_at"]),
    )


@bp.post("/studies/<trial_id>/participants/<path:code>/dissent")
def dissent(trial_id: str, code: str) -> Any:
    """Record that the child said no, respected at any age (password and code first)."""
    signed, found = _participant(trial_id, code, Action.RECORD_WITHDRAWAL)
    _check_csrf(signed)
    if _needs_reauth(signed):
        # Like a withdrawal: it stops participation. The form is on the participant page.
        return _reauth_redirect(url_for(".participant", trial_id=trial_id, code=found.code))
    if request.form.get("confirm") != "yes":
        return _participant_page(
            trial_id,
            found,
            signed,
            error=_("Tick the box to confirm that the child said no."),
            status=422,
        )
    try:
        enrolment.record_dissent(
            found,
            expressed_by=_field("expressed_by", 40) or None,
            actor=staff_service.acting_as(signed, trial_id, found.site_code),
            note=_field("note", 2000) or None,
        )
    except InvalidDataError as exc:
        return _participant_page(
            trial_id, found, signed, error=exc.translated(_locale()), status=422
        )
    return redirect(
        url_for(".participant", trial_id=trial_id, code=found.code, notice="dissent-recorded")
    )


@bp.post("/studies/<trial_id>/participants/<path:code>/dissent/review")
def review_dissent(trial_id: str, code: str) -> Any:
    """Review the child's non-binding refusal: continue or uphold, and why (password and code)."""
    signed, found = _participant(trial_id, code, Action.REVIEW_DISSENT)
    _check_csrf(signed)
    if _needs_reauth(signed):
        return _reauth_redirect(url_for(".participant", trial_id=trial_id, code=found.code))
    try:
        participation.review_dissent(
            found,
            actor=staff_service.acting_as(signed, trial_id, found.site_code),
            reason=_field("reason", 2000),
            decision=_field("decision", 20),
        )
    except (InvalidDataError, ConflictError) as exc:
        status = 409 if isinstance(exc, ConflictError) else 422
        return _participant_page(
            trial_id, found, signed, error=exc.translated(_locale()), status=status
        )
    return redirect(
        url_for(".participant", trial_id=trial_id, code=found.code, notice="dissent-reviewed")
    )


@bp.route("/studies/<trial_id>/participants/<path:code>/withdraw", methods=["GET", "POST"])
def withdraw(trial_id: str, code: str) -> Any:
    """Record a withdrawal told in person, by phone or by letter (password and code first)."""
    signed, found = _confirmed(trial_id, code, Action.RECORD_WITHDRAWAL, ".withdraw")
    locale = _locale()
    values: dict[str, Any] = {
        "scopes": [],
        "channel": "",
        "expressed_by": "",
        "reason": "",
        "reason_declined": False,
    }
    error = None
    if request.method == "POST":
        _check_csrf(signed)
        values = {
            "scopes": [s[:40] for s in request.form.getlist("scopes")][:20],
            "channel": _field("channel", 20),
            "expressed_by": _field("expressed_by", 40),
            "reason": _field("reason", 2000),
            "reason_declined": request.form.get("reason_declined") == "yes",
        }
        error = _withdrawal_error(values)
        if error is None:
            args = StaffWithdrawalSchema().load(
                {
                    "scopes": values["scopes"],
                    "channel": values["channel"],
                    "expressed_by": values["expressed_by"] or None,
                    "reason": values["reason"] or None,
                    "reason_declined": values["reason_declined"],
                }
            )
            try:
                enrolment.record_withdrawal(
                    found,
                    scopes=args["scopes"],
                    expressed_by=args.get("expressed_by"),
                    channel=args["channel"],
                    actor=staff_service.acting_as(
                        signed, trial_id, found.site_code, args["channel"]
                    ),
                    reason=args["reason"],
                    reason_declined=args["reason_declined"],
                )
            except InvalidDataError as exc:
                error = exc.translated(_locale())
            else:
                return redirect(
                    url_for(
                        ".participant",
                        trial_id=trial_id,
                        code=found.code,
                        notice="withdrawal-recorded",
                    )
                )
    family = [s for s in _signer_rows(found) if s["is_family"]]
    return _render(
        "withdraw.html",
        422 if error else 200,
        trial_id=trial_id,
        participant=found,
        family=family,
        scopes=[
            {"value": s.value, "label": label("withdrawal_scope", s, locale)}
            for s in WITHDRAWAL_SCOPES
        ],
        channels=[{"value": c.value, "label": label("channel", c, locale)} for c in STAFF_CHANNELS],
        values=values,
        error=error,
    )


def _withdrawal_error(values: dict[str, Any]) -> str | None:
    if not values["scopes"] or any(
        s not in {w.value for w in WithdrawalScope} for s in values["scopes"]
    ):
        return _("Choose at least one part of the study the family stops.")
    if values["channel"] not in {c.value for c in STAFF_CHANNELS}:
        return _("Choose how the withdrawal reached you.")
    return None


class _ConfirmFirst(Exception):
    """The member confirms password and code, then comes back to ``target``."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


@bp.errorhandler(_ConfirmFirst)
def _confirm_first(exc: _ConfirmFirst) -> Any:
    return _reauth_redirect(exc.target)


def _confirmed(
    trial_id: str, code: str, action: Action, endpoint: str, **values: Any
) -> tuple[Signed, Participant]:
    """Return the member and participant of a sensitive form, after a recent password and code.

    Otherwise the member is sent to re-authenticate and back to this form
    (``endpoint`` with ``values``), as the API answers 401 ``reauthentication-required``.
    """
    signed, found = _participant(trial_id, code, action)
    if _needs_reauth(signed):
        raise _ConfirmFirst(url_for(endpoint, trial_id=trial_id, code=found.code, **values))
    return signed, found


def _form_error(exc: ConsentKitError, endpoint: str, **values: Any) -> str:
    """Return the message a sensitive form shows again with the member's input.

    A refusal of the member (403) and too many attempts (429) answer their own
    page; a confirmation that lapsed meanwhile sends the member to re-authenticate
    and back to the form.
    """
    if isinstance(exc, PermissionDeniedError | RateLimitedError):
        raise exc
    if isinstance(exc, AuthenticationError):
        raise _ConfirmFirst(url_for(endpoint, **values)) from exc
    return exc.translated(_locale())


def _strokes(raw: str) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError):  # deeply nested junk is no drawing either
        return None


@bp.route(
    "/studies/<trial_id>/participants/<path:code>/records/<record_id>/countersign",
    methods=["GET", "POST"],
)
def countersign(trial_id: str, code: str, record_id: str) -> Any:
    """Countersign as the investigator who conducted the interview (password and code first)."""
    signed, found = _confirmed(
        trial_id, code, Action.COUNTERSIGN, ".countersign", record_id=record_id
    )
    text = enrolment.countersign_text(found, record_id, staff_locale=signed.staff.locale)
    printed_name = signed.staff.name
    interview_mode = InterviewMode.IN_PERSON.value
    timezone = found.timezone
    error = None
    if request.method == "POST":
        _check_csrf(signed)
        # The name is the member's own, from their staff account: the page does not edit it.
        # The form preselects in-person; a post without the field means the same (as the API).
        interview_mode = _field("interview_mode", 20) or InterviewMode.IN_PERSON.value
        timezone = _field("timezone", 60) or found.timezone
        strokes = _strokes(request.form.get("strokes", "")[:200_000])
        try:
            enrolment.countersign(
                found,
                record_id,
                staff=signed.staff,
                locale=text.locale,
                content_sha256=text.content_sha256,
                printed_name=printed_name,
                strokes=strokes,
                verified_at=signed.session.reauth_at,
                interview_mode=interview_mode,
                timezone=timezone,
                ip=client_ip(),
                user_agent=request.headers.get("User-Agent", "")[:300],
            )
        except ConsentKitError as exc:
            error = _form_error(
                exc, ".countersign", trial_id=trial_id, code=found.code, record_id=record_id
            )
        else:
            return redirect(
                url_for(".participant", trial_id=trial_id, code=found.code, notice="countersigned")
            )
    return _render(
        "countersign.html",
        422 if error else 200,
        trial_id=trial_id,
        participant=found,
        record_id=record_id,
        form_id=text.form_id,
        version=text.version,
        kind=label("form_kind", text.form_kind, _locale()),
        text_language=_language_name(text.locale),
        sha=text.content_sha256,
        printed_name=printed_name,
        interview_mode=interview_mode,
        interview_modes=[(m.value, label("interview_mode", m, _locale())) for m in InterviewMode],
        timezone=timezone,
        questions=[
            {
                "asked_at": _when(q.asked_at),
                "text": q.text,
                "locale": q.locale,
                "status_label": label("question_status", q.status.value, _locale()),
                "answers": [{"at": _when(a.at), "text": a.text} for a in q.answers],
            }
            for q in text.questions
        ],
        error=error,
    )


@bp.get("/studies/<trial_id>/participants/<path:code>/records/<record_id>/document.pdf")
def document(trial_id: str, code: str, record_id: str) -> Response:
    """Download the sealed PDF of a completed record."""
    _member, found = _participant(trial_id, code, Action.VIEW)
    result = documents.consent_document(found, record_id)
    return Response(
        result.content,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{result.filename}"'},
    )


def _paper_values() -> dict[str, Any]:
    return {
        "signer_ids": request.form.getlist("signer_ids"),
        "signed_on": _field("signed_on", 10),
        "locale": _field("locale", 10),
        "items_yes": request.form.getlist("items_yes"),
        "note": _field("note", 2000),
    }


@bp.route(
    "/studies/<trial_id>/participants/<path:code>/records/<record_id>/paper",
    methods=["GET", "POST"],
)
def paper(trial_id: str, code: str, record_id: str) -> Any:
    """Record a consent signed on paper, with the scan (password and code first)."""
    signed, found = _confirmed(trial_id, code, Action.RECORD_PAPER, ".paper", record_id=record_id)
    events = records.history(found)
    payload = opened_event(events, record_id)["payload"]
    names = {s["signer_id"]: s for s in _signer_rows(found)}
    missing = [
        {
            "signer_id": m["signer_id"],
            "name": names.get(m["signer_id"], {}).get("name", ""),
            "role": label("signer_role", m["role"], _locale()),
        }
        for m in enrolment.actions_on(found, signed.staff, record_id).paper_signers
    ]
    version = FormVersion.objects(
        trial_id=trial_id, form_id=payload["form_id"], version=payload["version"]
    ).first()
    locales = sorted(payload["content_sha256"])
    texts = version.content.get(payload.get("locale") or locales[0], {}) if version else {}
    items = [
        {"id": i["id"], "text": i.get("text", i["id"]), "required": i.get("required", False)}
        for i in texts.get("items", [])
    ]
    values: dict[str, Any] = {
        "signer_ids": [],
        "signed_on": "",
        "locale": payload.get("locale") or locales[0],
        "items_yes": [],
        "note": "",
    }
    error = None
    if request.method == "POST":
        _check_csrf(signed)
        values = _paper_values()
        upload = request.files.get("scan")
        try:
            signed_on = date.fromisoformat(values["signed_on"])
        except ValueError:
            error = _("Type the date written on the paper form.")
        if error is None and (upload is None or not upload.filename):
            error = _("Attach the scan of the signed paper form.")
        if error is None and upload is not None:
            limit = paper_scan_limit()
            try:
                paper_service.record_paper_consent(
                    found,
                    record_id,
                    signer_ids=values["signer_ids"],
                    signed_on=signed_on,
                    locale=values["locale"],
                    scan_pdf=upload.read(limit + 1),
                    actor=staff_service.acting_as(signed, trial_id, found.site_code),
                    items_yes=values["items_yes"],
                    note=values["note"] or None,
                    max_bytes=limit,
                )
            except ConsentKitError as exc:
                error = _form_error(
                    exc, ".paper", trial_id=trial_id, code=found.code, record_id=record_id
                )
            else:
                return redirect(
                    url_for(
                        ".participant", trial_id=trial_id, code=found.code, notice="paper-recorded"
                    )
                )
    return _render(
        "paper.html",
        422 if error else 200,
        trial_id=trial_id,
        participant=found,
        record_id=record_id,
        form_id=payload["form_id"],
        version=payload["version"],
        kind=label("form_kind", payload.get("form_kind", ""), _locale()),
        missing=missing,
        languages=[{"code": c, "name": _language_name(c)} for c in locales],
        items=items,
        values=values,
        error=error,
    )
