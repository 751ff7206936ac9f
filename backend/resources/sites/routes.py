"""Staff work on one study: every route names one action and checks role and site first.

The checks come from ``consentkit.policy.roles`` through ``backend.auth.staff.require``:
a monitor reads, site staff enrol and invite at their sites, the investigator
also countersigns, the sponsor admin sees every site. Another site's participant
answers 404 exactly like a code that does not exist; a participant the member sees
but may not act on answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from functools import wraps
from typing import Any

from flask import Response, request, url_for
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from backend.auth import client_ip
from backend.auth.staff import current_staff, require
from backend.config import paper_scan_limit
from backend.downloads import export_attachment, pdf_attachment
from backend.errors import request_locale
from backend.extensions import Blueprint
from backend.intake import MULTIPART_OVERHEAD
from backend.resources.sites.schemas import (
    AnswerQuestionSchema,
    AttestedSignatureSchema,
    ConsentTaskSchema,
    ContactCorrectedSchema,
    CountersignSchema,
    CountersignTextSchema,
    DashboardArgsSchema,
    DashboardSchema,
    EventSchema,
    ExportArgsSchema,
    InboxQuestionSchema,
    InvitationSchema,
    InvitationStatusSchema,
    InviteSchema,
    NameCorrectedSchema,
    NameCorrectionSchema,
    OpenedTaskSchema,
    OutboxMessageSchema,
    PaperConsentSchema,
    PaperSignersSchema,
    ParticipantSchema,
    ParticipationSchema,
    PreviewResultSchema,
    QuestionsArgsSchema,
    RecordPageSchema,
    RecordsArgsSchema,
    SessionsEndedSchema,
    SignerSchema,
    StaffDissentReviewSchema,
    StaffDissentSchema,
    TasksArgsSchema,
    TimelineEventSchema,
    WitnessSchema,
    WitnessSignatureSchema,
)
from backend.schemas import (
    ContactCorrectionSchema,
    EnrolSchema,
    PreviewSchema,
    StaffWithdrawalSchema,
)
from consentkit.errors import InvalidDataError
from consentkit.labels import label
from consentkit.models.participant import Participant
from consentkit.policy.roles import Action
from consentkit.services import (
    access,
    attested,
    dashboard,
    documents,
    enrolment,
    forms,
    outbox,
    paper,
    participation,
    questions,
    records,
    timeline,
    transitions,
    witness,
)
from consentkit.services import staff as staff_service
from consentkit.services.staff import Signed

blp = Blueprint(
    "sites",
    __name__,
    url_prefix="/staff/studies",
    description="Staff work: dashboard, worklists, enrolment, invitations, countersigning",
)

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _participant(trial_id: str, code: str, action: Action) -> tuple[Signed, Participant]:
    """Return the member (allowed ``action`` at the participant's site) and the participant."""
    signed = current_staff()  # 401 before 404: anonymous callers learn nothing about codes
    return signed, staff_service.participant_for(signed, trial_id, code, action)


def _confirmed(trial_id: str, code: str, action: Action) -> tuple[Signed, Participant]:
    """Return the member and participant of a sensitive action, after a recent password and code.

    Raises:
        AuthenticationError: ``reauthentication-required`` (401; re-authenticate, then retry).
    """
    signed, participant = _participant(trial_id, code, action)
    staff_service.require_recent_auth(signed)
    return signed, participant


def _event(event: Any) -> dict[str, Any]:
    return {"seq": event.seq, "type": event.type, "at": event.at, "state": event.state_after}


@blp.route("/<trial_id>/dashboard")
class DashboardViews(MethodView):
    """Counts by state, version, language, and what is due."""

    @blp.arguments(DashboardArgsSchema, location="query")
    @blp.response(200, DashboardSchema)
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], trial_id: str) -> dict[str, Any]:
        """Summarise the study (or one site) for the signed-in member's sites."""
        signed = require(Action.VIEW, trial_id)
        site = args.get("site")
        sites = staff_service.site_filter(signed, Action.VIEW, trial_id, site)
        summary = dashboard.summary(trial_id, site_codes=sites)
        due = [
            {
                **asdict(entry),
                "records_url": url_for(
                    "sites.RecordsViews",
                    trial_id=trial_id,
                    due=entry.due,
                    **({"site": site} if site else {}),
                ),
            }
            for entry in summary.due
        ]
        return {**asdict(summary), "due": due}


@blp.route("/<trial_id>/records")
class RecordsViews(MethodView):
    """The status table: one row per participant and form version."""

    @blp.arguments(RecordsArgsSchema, location="query")
    @blp.response(200, RecordPageSchema)
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], trial_id: str) -> dict[str, Any]:
        """Filter by site, state, form or what is due; search by code prefix; newest first."""
        signed = require(Action.VIEW, trial_id)
        sites = staff_service.site_filter(signed, Action.VIEW, trial_id, args.get("site"))
        found = dashboard.status_table(
            trial_id,
            site_codes=sites,
            state=args.get("state"),
            form_id=args.get("form_id"),
            search=args.get("q"),
            due=args.get("due"),
            cursor=args.get("cursor"),
            page_size=args["page_size"],
        )
        next_url = None
        if found.next_cursor is not None:
            kept = {k: v for k, v in args.items() if k != "cursor"}
            next_url = url_for(
                "sites.RecordsViews", trial_id=trial_id, **kept, cursor=found.next_cursor
            )
        return {**asdict(found), "next_url": next_url}


def _task_row(task: Any, locale: str | None) -> dict[str, Any]:
    """Return a consent task as the API shows it, its labels in ``locale``."""
    return {
        **{k: v for k, v in asdict(task).items() if k != "why"},
        "status_label": label("task_status", task.status, locale),
        "why": {
            **asdict(task.why),
            "label": task.why.label(locale),
            "purpose": task.why.purpose(locale),
        },
    }


@blp.route("/<trial_id>/tasks")
class TasksViews(MethodView):
    """Consent tasks of the member's sites: re-consent, new age band or role, competence."""

    @blp.arguments(TasksArgsSchema, location="query")
    @blp.response(200, ConsentTaskSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], trial_id: str) -> list[dict[str, Any]]:
        """List the tasks (open ones by default), soonest due first."""
        signed = require(Action.VIEW, trial_id)
        sites = staff_service.site_filter(signed, Action.VIEW, trial_id, args.get("site"))
        locale = request_locale()
        return [
            _task_row(view, locale)
            for view in transitions.site_task_views(
                trial_id, site_codes=sites, statuses=args["status"]
            )
        ]


@blp.route("/<trial_id>/participants/<code>/tasks")
class ParticipantTasksViews(MethodView):
    """One participant's consent tasks."""

    @blp.response(200, ConsentTaskSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, code: str) -> list[dict[str, Any]]:
        """List the participant's tasks with their status derived from the events."""
        _, participant = _participant(trial_id, code, Action.VIEW)
        locale = request_locale()
        return [_task_row(view, locale) for view in transitions.participant_tasks(participant)]


@blp.route("/<trial_id>/participants/<code>/tasks/<task_key>/open")
class TaskOpenViews(MethodView):
    """Open and invite: the record a task asks for, and invitations to its family signers."""

    @blp.response(201, OpenedTaskSchema)
    @blp.doc(security=SECURITY)
    def post(self, trial_id: str, code: str, task_key: str) -> dict[str, Any]:
        """Open the task's record with the rules' signers and invite them; codes shown once."""
        signed, participant = _participant(trial_id, code, Action.INVITE)
        done = transitions.open_and_invite(
            participant,
            task_key,
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
        )
        record = done.opened.record
        return {
            "task": _task_row(done.opened.task, request_locale()),
            "record_id": record.record_id,
            "form_id": record.form_id,
            "version": record.version,
            "opened": done.opened.opened,
            "invitations": [asdict(i) for i in done.invitations],
        }


@blp.route("/<trial_id>/records/export")
class ExportViews(MethodView):
    """The status table as a file."""

    @blp.arguments(ExportArgsSchema, location="query")
    @blp.response(200, description="CSV or XLSX file")
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], trial_id: str) -> Response:
        """Download the status table (CSV streams; XLSX is built in write-only mode)."""
        signed = require(Action.EXPORT, trial_id)
        sites = staff_service.site_filter(signed, Action.EXPORT, trial_id, args.get("site"))
        return export_attachment(
            dashboard.export(
                trial_id,
                args["format"],
                site_codes=sites,
                state=args.get("state"),
                due=args.get("due"),
            )
        )


@blp.route("/<trial_id>/participants/preview")
class PreviewViews(MethodView):
    """What enrolment would need, before saving."""

    @blp.arguments(PreviewSchema)
    @blp.response(200, PreviewResultSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str) -> enrolment.Preview:
        """Guardians needed, assent band, forms to open, next transition."""
        require(Action.ENROL, trial_id, args["site"])
        today = forms.site_today(trial_id, args["site"])
        return enrolment.preview(
            trial_id, site_code=args["site"], birth_date=args["birth_date"], on=today
        )


def _profile(participant: Participant) -> dict[str, Any]:
    profile = records.profile(participant)
    return {
        "trial_id": participant.trial_id,
        "code": participant.code,
        "site_code": participant.site_code,
        "country": participant.country,
        "birth_date": participant.birth_date,
        "preferred_language": participant.preferred_language,
        "signers": enrolment.signer_details(participant),
        "records": profile.get("records", []),
    }


@blp.route("/<trial_id>/participants")
class ParticipantsViews(MethodView):
    """Enrol."""

    @blp.arguments(EnrolSchema)
    @blp.response(201, ParticipantSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str) -> dict[str, Any]:
        """Enrol a participant with their family; opens the records the rules ask for.

        The investigator signer is ``investigator_id``, or the signed-in member
        when omitted; either way a member who may countersign at the site.
        """
        signed = require(Action.ENROL, trial_id, args["site"])
        if args.get("fewer_guardians_justification") is not None:
            enrolment.refuse_free_text_justification(
                trial_id,
                site_code=args["site"],
                birth_date=args["birth_date"],
                on=forms.site_today(trial_id, args["site"]),
            )
        result = enrolment.enrol_as(
            signed.staff,
            trial_id,
            code=args["code"],
            site_code=args["site"],
            birth_date=args["birth_date"],
            signers=enrolment.signer_entries(args["signers"]),
            actor=staff_service.acting_as(signed, trial_id, args["site"]),
            investigator_id=args.get("investigator_id"),
            preferred_language=args.get("preferred_language"),
            guardian_exception=enrolment.guardian_exception_from(
                args["guardian_exception"], recorded_by=signed.staff
            ),
        )
        return _profile(result.participant)


@blp.route("/<trial_id>/participants/<code>")
class ParticipantViews(MethodView):
    """One participant: family, records and states."""

    @blp.response(200, ParticipantSchema)
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, code: str) -> dict[str, Any]:
        """Show a participant with signers and the state of every record."""
        _, participant = _participant(trial_id, code, Action.VIEW)
        return _profile(participant)


@blp.route("/<trial_id>/participants/<code>/timeline")
class TimelineViews(MethodView):
    """Every event, who and when."""

    @blp.response(200, TimelineEventSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, code: str) -> list[timeline.TimelineEntry]:
        """The participant's audit trail, oldest first, each event labelled and summarised."""
        _, participant = _participant(trial_id, code, Action.VIEW)
        return timeline.participant_timeline(participant, locale=request_locale())


@blp.route("/<trial_id>/participants/<code>/messages")
class MessagesViews(MethodView):
    """Every message to the family: sent, skipped (and why), failed or still queued."""

    @blp.response(200, OutboxMessageSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, code: str) -> list[dict[str, Any]]:
        """The participant's messages, newest first, with where each went or why it did not."""
        _, participant = _participant(trial_id, code, Action.VIEW)
        return outbox.messages_of(participant)


@blp.route("/<trial_id>/participants/<code>/participation")
class ParticipationViews(MethodView):
    """What is permitted now, per activity, and why."""

    @blp.response(200, ParticipationSchema)
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, code: str) -> dict[str, Any]:
        """The participation profile: permissions, blocks, scopes and the events that decided it."""
        _, participant = _participant(trial_id, code, Action.VIEW)
        return records.profile(participant)


@blp.route("/<trial_id>/participants/<code>/invitations")
class InvitationsViews(MethodView):
    """Invite a family member to the app or the family web flow."""

    @blp.response(200, InvitationStatusSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, code: str) -> list[dict[str, Any]]:
        """List the participant's invitations and whether each code still works (never the code)."""
        _, participant = _participant(trial_id, code, Action.VIEW)
        locale = request_locale()
        return [
            {**asdict(i), "label": label("invitation_status", i.status, locale)}
            for i in access.invitations_of(participant)
        ]

    @blp.arguments(InviteSchema)
    @blp.response(201, InvitationSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, code: str) -> enrolment.Invitation:
        """Create an invitation; its code and link are shown once."""
        signed, participant = _participant(trial_id, code, Action.INVITE)
        return enrolment.invite(
            participant,
            args["signer_id"],
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
        )


@blp.route("/<trial_id>/participants/<code>/invitations/<invitation_id>")
class InvitationViews(MethodView):
    """One invitation."""

    @blp.response(204)
    @blp.doc(security=SECURITY)
    def delete(self, trial_id: str, code: str, invitation_id: str) -> Response:
        """Revoke it: the code stops working (a lost letter, the wrong person)."""
        signed, participant = _participant(trial_id, code, Action.INVITE)
        access.revoke_invitation(
            participant,
            invitation_id,
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
        )
        return Response(status=204)


@blp.route("/<trial_id>/participants/<code>/invitations/<invitation_id>/resend")
class InvitationResendViews(MethodView):
    """A new code for the same signer."""

    @blp.response(201, InvitationSchema)
    @blp.doc(security=SECURITY)
    def post(self, trial_id: str, code: str, invitation_id: str) -> enrolment.Invitation:
        """Replace the invitation with a new code, shown once; the old code stops working."""
        signed, participant = _participant(trial_id, code, Action.INVITE)
        return enrolment.reissue(
            participant,
            invitation_id,
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
        )


@blp.route("/<trial_id>/participants/<code>/signers/<signer_id>/sessions")
class SignerSessionsViews(MethodView):
    """A family member's signed-in devices."""

    @blp.response(200, SessionsEndedSchema)
    @blp.doc(security=SECURITY)
    def delete(self, trial_id: str, code: str, signer_id: str) -> dict[str, Any]:
        """Sign the family member out of every device at once (a lost phone, the wrong person)."""
        signed, participant = _participant(trial_id, code, Action.INVITE)
        ended = enrolment.end_sessions(
            participant,
            signer_id,
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
        )
        return {"signer_id": signer_id, "sessions_ended": ended}


@blp.route("/<trial_id>/participants/<code>/signers/<signer_id>/contact")
class SignerContactViews(MethodView):
    """Where a family member's one-time codes go."""

    @blp.arguments(ContactCorrectionSchema)
    @blp.response(200, ContactCorrectedSchema)
    @blp.doc(security=SECURITY)
    def put(self, args: dict[str, Any], trial_id: str, code: str, signer_id: str) -> Any:
        """Correct the e-mail address and phone number; the member's sessions end with it."""
        signed, participant = _participant(trial_id, code, Action.INVITE)
        return enrolment.correct_contact(
            participant,
            signer_id,
            email=args["email"],
            phone=args["phone"],
            reason=args["reason"],
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
        )


@blp.route("/<trial_id>/participants/<code>/records/<record_id>/countersign")
class CountersignViews(MethodView):
    """The interviewer's signature."""

    @blp.response(200, CountersignTextSchema)
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, code: str, record_id: str) -> dict[str, Any]:
        """The language and text hash to countersign, and whether this member may now."""
        signed, participant = _participant(trial_id, code, Action.COUNTERSIGN)
        text = enrolment.countersign_text(participant, record_id, staff_locale=signed.staff.locale)
        actions = enrolment.actions_on(participant, signed.staff, record_id)
        return {**asdict(text), "may_countersign": actions.countersign}

    @blp.arguments(CountersignSchema)
    @blp.response(200, EventSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, code: str, record_id: str) -> Any:
        """Countersign as the investigator who conducted the interview (re-authenticate first)."""
        signed, participant = _confirmed(trial_id, code, Action.COUNTERSIGN)
        event = enrolment.countersign(
            participant,
            record_id,
            staff=signed.staff,
            locale=args["locale"],
            content_sha256=args["content_sha256"],
            printed_name=args["printed_name"],
            strokes=args["strokes"],
            verified_at=signed.session.reauth_at,
            interview_mode=args["interview_mode"],
            timezone=args["timezone"],
            ip=client_ip(),
            user_agent=request.headers.get("User-Agent", "")[:300],
        )
        return _event(event)


@blp.route("/<trial_id>/participants/<code>/signers/<signer_id>/witness")
class SignerWitnessViews(MethodView):
    """The impartial witness of a family member who cannot read (CTR Art 29(1))."""

    @blp.arguments(WitnessSchema)
    @blp.response(201, SignerSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, code: str, signer_id: str) -> Any:
        """Register the witness; every record this person has still to sign needs them too."""
        signed, participant = _participant(trial_id, code, Action.ENROL)
        made = witness.register_witness(
            participant,
            for_signer_id=signer_id,
            name=args["name"],
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
        )
        return next(
            s for s in enrolment.signer_details(participant) if s["signer_id"] == str(made.id)
        )


@blp.route("/<trial_id>/participants/<code>/records/<record_id>/witness-signature")
class WitnessSignatureViews(MethodView):
    """The witness signs in person on the staff device."""

    @blp.arguments(WitnessSignatureSchema)
    @blp.response(200, EventSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, code: str, record_id: str) -> Any:
        """Record the witness's signature after the person witnessed signed (re-authenticate)."""
        signed, participant = _confirmed(trial_id, code, Action.RECORD_PAPER)
        event = witness.sign_as_witness(
            participant,
            record_id,
            witness_signer_id=args["witness_signer_id"],
            staff=signed.staff,
            locale=args["locale"],
            content_sha256=args["content_sha256"],
            printed_name=args["printed_name"],
            strokes=args["strokes"],
            verified_at=signed.session.reauth_at,
            ip=client_ip(),
            user_agent=request.headers.get("User-Agent", "")[:300],
        )
        return _event(event)


@blp.route("/<trial_id>/participants/<code>/records/<record_id>/attested-signature")
class AttestedSignatureViews(MethodView):
    """A family member signs in front of the member, who attests it on the staff device."""

    @blp.arguments(AttestedSignatureSchema)
    @blp.response(200, EventSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, code: str, record_id: str) -> Any:
        """Attest a family signature given in person, when the form allows it (re-authenticate)."""
        signed, participant = _confirmed(trial_id, code, Action.RECORD_PAPER)
        actor = staff_service.acting_as(signed, trial_id, participant.site_code)
        event = attested.sign_attested(
            participant,
            record_id,
            signer_id=args["signer_id"],
            staff=signed.staff,
            staff_role=actor.role,
            locale=args["locale"],
            content_sha256=args["content_sha256"],
            printed_name=args["printed_name"],
            witness_name=args["witness_name"],
            early_signing_justification=args["early_signing_justification"],
            verified_at=signed.session.reauth_at,
            ip=client_ip(),
            user_agent=request.headers.get("User-Agent", "")[:300],
        )
        return _event(event)


@blp.route("/<trial_id>/participants/<code>/signers/<signer_id>/name")
class SignerNameViews(MethodView):
    """A family member's registered name, which their signatures must carry."""

    @blp.arguments(NameCorrectionSchema)
    @blp.response(200, NameCorrectedSchema)
    @blp.doc(security=SECURITY)
    def put(self, args: dict[str, Any], trial_id: str, code: str, signer_id: str) -> Any:
        """Correct the registered name, with a reason; audited (re-authenticate first)."""
        signed, participant = _confirmed(trial_id, code, Action.ENROL)
        changed = attested.correct_name(
            participant,
            signer_id,
            name=args["name"],
            reason=args["reason"],
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
        )
        return {"signer_id": signer_id, "changed": changed}


@blp.route("/<trial_id>/participants/<code>/withdrawals")
class StaffWithdrawalViews(MethodView):
    """A withdrawal told to the team in person, by phone or by letter."""

    @blp.arguments(StaffWithdrawalSchema)
    @blp.response(201, EventSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, code: str) -> Any:
        """Record it with its channel, scopes and reason (re-authenticate first).

        Send ``reason``, or ``reason_declined: true`` when the family declined to
        give one: exactly one of the two (422 ``withdrawal-reason-required`` or
        ``withdrawal-reason-conflict``), as on the staff page.
        """
        signed, participant = _confirmed(trial_id, code, Action.RECORD_WITHDRAWAL)
        event = enrolment.record_withdrawal(
            participant,
            scopes=args["scopes"],
            expressed_by=args.get("expressed_by"),
            channel=args["channel"],
            actor=staff_service.acting_as(signed, trial_id, participant.site_code, args["channel"]),
            reason=args["reason"],
            reason_declined=args["reason_declined"],
        )
        return _event(event)


@blp.route("/<trial_id>/participants/<code>/dissent")
class StaffDissentViews(MethodView):
    """A child's "no", heard by the team."""

    @blp.arguments(StaffDissentSchema)
    @blp.response(201, EventSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, code: str) -> Any:
        """Record the child's dissent, respected at any age (re-authenticate first)."""
        signed, participant = _participant(trial_id, code, Action.RECORD_WITHDRAWAL)
        staff_service.require_recent_auth(signed)
        event = enrolment.record_dissent(
            participant,
            expressed_by=args.get("expressed_by"),
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
            note=args.get("note"),
        )
        return {"seq": event.seq, "type": event.type, "at": event.at, "state": event.state_after}


@blp.route("/<trial_id>/participants/<code>/dissent/review")
class StaffDissentReviewViews(MethodView):
    """An investigator's review of a child's refusal, where the rules say it is not binding."""

    @blp.arguments(StaffDissentReviewSchema)
    @blp.response(201, EventSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, code: str) -> Any:
        """Review the child's dissent: continue or uphold, with why (re-authenticate first)."""
        signed, participant = _confirmed(trial_id, code, Action.REVIEW_DISSENT)
        event = participation.review_dissent(
            participant,
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
            reason=args["reason"],
            decision=args["decision"],
        )
        return _event(event)


@blp.route("/<trial_id>/participants/<code>/records/<record_id>/document")
class StaffDocumentViews(MethodView):
    """The sealed PDF of a completed record."""

    @blp.response(200, description="application/pdf")
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, code: str, record_id: str) -> Response:
        """Download the signed PDF (rendered on first request, then stored)."""
        _, participant = _participant(trial_id, code, Action.VIEW)
        found = documents.consent_document(participant, record_id)
        return pdf_attachment(found.content, found.filename)


@blp.route("/<trial_id>/participants/<code>/withdrawals/<int:seq>/document")
class StaffWithdrawalDocumentViews(MethodView):
    """The sealed confirmation of a withdrawal."""

    @blp.response(200, description="application/pdf")
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, code: str, seq: int) -> Response:
        """Download a withdrawal confirmation ({seq}: the withdrawal's event in the timeline)."""
        _, participant = _participant(trial_id, code, Action.VIEW)
        pdf = documents.withdrawal_document(participant, seq).content
        return pdf_attachment(pdf, f"{code}-withdrawal-{seq}.pdf")


def _limit_upload(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer 413 before reading a body larger than a scan and its form fields."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if (request.content_length or 0) > paper_scan_limit() + MULTIPART_OVERHEAD:
            raise RequestEntityTooLarge()
        return view(*args, **kwargs)

    return wrapper


@blp.route("/<trial_id>/participants/<code>/records/<record_id>/paper")
class PaperConsentViews(MethodView):
    """The fallback path: a consent signed on paper, recorded with its scan."""

    decorators = [_limit_upload]

    @blp.response(200, PaperSignersSchema)
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, code: str, record_id: str) -> dict[str, Any]:
        """The missing signers whose paper signature this member may record now."""
        signed, participant = _participant(trial_id, code, Action.RECORD_PAPER)
        actions = enrolment.actions_on(participant, signed.staff, record_id)
        return {"record_id": record_id, "signers": list(actions.paper_signers)}

    @blp.arguments(PaperConsentSchema, location="form", content_type="multipart/form-data")
    @blp.response(201, EventSchema)
    @blp.alt_response(413, description="The scan is too large")
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, code: str, record_id: str) -> Any:
        """Record who signed the paper form, when and in which language (re-authenticate first).

        Send multipart/form-data: ``signer_ids`` (repeated), ``signed_on``,
        ``locale``, ``items_yes`` (repeated; every item not sent is a no, as on
        the staff page) and ``note``, and the file ``scan`` (a PDF). The signed-in
        member is the event's actor; only a member who may countersign at the site
        may record the investigator's paper signature.
        """
        signed, participant = _confirmed(trial_id, code, Action.RECORD_PAPER)
        upload = request.files.get("scan")
        if upload is None:
            raise InvalidDataError(
                "Attach the scan of the signed paper form.",
                code="scan-required",
                details={"errors": {"scan": ["Missing"]}},
            )
        content = upload.read(paper_scan_limit() + 1)
        if len(content) > paper_scan_limit():
            raise RequestEntityTooLarge()
        event = paper.record_paper_consent(
            participant,
            record_id,
            signer_ids=args["signer_ids"],
            signed_on=args["signed_on"],
            locale=args["locale"],
            scan_pdf=content,
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
            items_yes=args["items_yes"],
            note=args.get("note"),
            max_bytes=paper_scan_limit(),
        )
        return _event(event)


@blp.route("/<trial_id>/participants/<code>/documents/<document_id>")
class StaffScanViews(MethodView):
    """A stored paper scan."""

    @blp.response(200, description="application/pdf")
    @blp.doc(security=SECURITY)
    def get(self, trial_id: str, code: str, document_id: str) -> Response:
        """Download the scan of a paper consent, checked against its SHA-256."""
        _, participant = _participant(trial_id, code, Action.VIEW)
        pdf = paper.paper_scan(participant, document_id)
        return pdf_attachment(pdf, f"{code}-scan-{document_id[-8:]}.pdf")


@blp.route("/<trial_id>/questions")
class QuestionsViews(MethodView):
    """The families' questions: the inbox per study and site."""

    @blp.arguments(QuestionsArgsSchema, location="query")
    @blp.response(200, InboxQuestionSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], trial_id: str) -> list[questions.Question]:
        """The questions at the member's sites (or ``site``), open ones first, oldest first."""
        signed = require(Action.VIEW, trial_id)
        sites = staff_service.site_filter(signed, Action.VIEW, trial_id, args.get("site"))
        status = args.get("status")
        return questions.inbox(
            trial_id,
            site_codes=sites,
            status=questions.QuestionStatus(status) if status else None,
        )


@blp.route("/<trial_id>/participants/<code>/questions/<int:seq>/answer")
class QuestionAnswerViews(MethodView):
    """Answer a family's question; the family is told and reads it in the family pages."""

    @blp.arguments(AnswerQuestionSchema)
    @blp.response(201, EventSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, code: str, seq: int) -> Any:
        """Answer question ``seq`` (404 ``question-not-found``, 409 ``question-closed``)."""
        signed, participant = _participant(trial_id, code, Action.ANSWER_QUESTIONS)
        event = questions.answer_question(
            participant,
            seq,
            text=args["text"],
            locale=args["locale"],
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
        )
        return _event(event)


@blp.route("/<trial_id>/participants/<code>/questions/<int:seq>/close")
class QuestionCloseViews(MethodView):
    """Close a family's question."""

    @blp.response(201, EventSchema)
    @blp.doc(security=SECURITY)
    def post(self, trial_id: str, code: str, seq: int) -> Any:
        """Close question ``seq`` (404 ``question-not-found``, 409 ``question-closed``)."""
        signed, participant = _participant(trial_id, code, Action.ANSWER_QUESTIONS)
        event = questions.close_question(
            participant,
            seq,
            actor=staff_service.acting_as(signed, trial_id, participant.site_code),
        )
        return _event(event)
