"""The signed-in signer's consent flow: tasks, form text, ceremony steps, withdrawal, documents.

Every POST accepts an ``Idempotency-Key`` header: a retry returns the original
response; the same key with another body is 422 ``idempotency-mismatch``; a retry
while the first request still runs is 409 ``request-in-progress`` with Retry-After,
and after a crash it is answered once the first request's lease has run out.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Page

from backend.auth import client_ip, current_session
from backend.downloads import pdf_attachment
from backend.errors import request_locale
from backend.extensions import Blueprint
from backend.jsonio import json_response
from backend.resources.me.schemas import (
    AnswerResultSchema,
    AnswersSchema,
    ChoiceChangedSchema,
    ChoiceChangeSchema,
    ChoicesSchema,
    ContactSettingsChangeSchema,
    ContactSettingsSchema,
    DeclineSchema,
    DissentSchema,
    DocumentQueryArgsSchema,
    DocumentSchema,
    EventResultSchema,
    FamilyWithdrawalSchema,
    FormQueryArgsSchema,
    QuestionSchema,
    QuestionThreadSchema,
    SignatureSchema,
    TaskSchema,
    ViewsSchema,
    WalletSchema,
    WithdrawalListedSchema,
    WithdrawalSummaryArgsSchema,
    WithdrawalSummarySchema,
)
from backend.resources.studies.schemas import FormContentSchema
from consentkit.policy import withdrawal as withdrawal_policy
from consentkit.services import idempotency, signer_flow
from consentkit.services.forms import FormView

blp = Blueprint("me", __name__, url_prefix="/me", description="The signer's consent flow")

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
IDEMPOTENCY_HEADER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 100},
    "description": "Retries with the same key return the first response",
}
#: JSON bodies of this API are small; a signature far over this is refused with 413.
MAX_JSON_BYTES = 1024 * 1024


def _once(
    action: Callable[[], Mapping[str, Any]],
    status: int = 200,
    already_done: Callable[[], Mapping[str, Any] | None] | None = None,
) -> Response:
    """Run a POST once per Idempotency-Key (per session), replaying its first response.

    ``already_done`` answers a retry whose first request died after its work was
    stored (from the events); without it, such a retry runs ``action`` again.
    """
    if (request.content_length or 0) > MAX_JSON_BYTES:
        from werkzeug.exceptions import RequestEntityTooLarge

        raise RequestEntityTooLarge()
    key = request.headers.get("Idempotency-Key")
    if not key:
        return json_response(action(), status)
    session = current_session()
    digest = hashlib.sha256(request.path.encode() + b"\n" + request.get_data()).hexdigest()

    def derived() -> tuple[int, dict[str, Any]] | None:
        body = already_done() if already_done is not None else None
        return None if body is None else (status, dict(body))

    code, body, replayed = idempotency.run_once(
        f"session:{session.session_id}",
        key[:100],
        digest,
        lambda: (status, dict(action())),
        already_done=derived,
    )
    response = json_response(body, code)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


#: The form text is published, non-personal content: reading it may rely on this
#: process's check of the session made up to this many seconds ago (no database
#: read on the app's hottest path). Every write and every personal read checks afresh.
READ_SESSION_CHECK_S = 5.0
#: ETag -> (the shared view dict it was made from, its JSON bytes).
_FORM_BODIES: dict[str, tuple[FormView, bytes]] = {}


def _form_body(content: FormView) -> tuple[str, bytes]:
    """Return the ETag and JSON body of a form view, serialising each view once.

    The ETag names the form, version, language and text hash: two versions with
    the same text still differ. ``forms.version_view`` shares one dict per
    version and language until its catalog refreshes, so identity tells whether
    the cached bytes are still those of this dict.
    """
    name = f"{content['form_id']}/{content['version']}/{content['locale']}/"
    etag = '"' + hashlib.sha256((name + content["content_sha256"]).encode()).hexdigest()[:32]
    etag += '"'
    cached = _FORM_BODIES.get(etag)
    if cached is not None and cached[0] is content:
        return etag, cached[1]
    body = current_app.json.dumps(content).encode("utf-8")
    if len(_FORM_BODIES) >= 1000:
        _FORM_BODIES.clear()
    _FORM_BODIES[etag] = (content, body)
    return etag, body


@blp.route("/tasks")
class TasksViews(MethodView):
    """What to read and sign."""

    @blp.response(200, TaskSchema(many=True))
    @blp.paginate(Page)
    @blp.doc(security=SECURITY)
    def get(self) -> list[signer_flow.Task]:
        """List the signer's records, tasks to open and updated information, with why."""
        return signer_flow.tasks(current_session(), locale=request_locale())


@blp.route("/tasks/<task_key>/open")
class TaskOpenViews(MethodView):
    """Open the form a consent task asks for (a new version, a new age)."""

    @blp.response(200, TaskSchema)
    @blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])
    def post(self, task_key: str) -> Response:
        """Open the task's record when this signer signs it; a second call returns the same."""
        session = current_session()
        return _once(lambda: signer_flow.open_task(session, task_key))


@blp.route("/records/<record_id>/form")
class RecordFormViews(MethodView):
    """The text to read for one record."""

    @blp.arguments(FormQueryArgsSchema, location="query")
    @blp.response(200, FormContentSchema)
    @blp.alt_response(304, description="Not modified (If-None-Match)")
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], record_id: str) -> Response:
        """Get the form text in the best language; ETag lets the app revalidate for free."""
        content = signer_flow.form_for_record(
            current_session(max_age_s=READ_SESSION_CHECK_S),
            record_id,
            requested=args.get("lang"),
            accept_language=request.headers.get("Accept-Language"),
        )
        etag, body = _form_body(content)
        if request.if_none_match.contains(etag.strip('"')):
            response = Response(status=304)
        else:
            response = current_app.response_class(body, mimetype="application/json")
        response.headers["ETag"] = etag
        # Published text never changes, but revalidate: a newer version may be in force.
        response.headers["Cache-Control"] = "private, no-cache"
        response.headers["Vary"] = "Accept-Language, Authorization"
        return response


@blp.route("/information/<form_id>/<int:version>")
class InformationViews(MethodView):
    """Updated information: the text of a minor version the family was informed of."""

    @blp.arguments(FormQueryArgsSchema, location="query")
    @blp.response(200, FormContentSchema)
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], form_id: str, version: int) -> FormView:
        """Read the new text of a version this signer was informed of (nothing to sign)."""
        return signer_flow.information(
            current_session(),
            form_id,
            version,
            requested=args.get("lang"),
            accept_language=request.headers.get("Accept-Language"),
        )


def _post(schema: Any, result: Any) -> Callable[[Any], Any]:
    """Document and wire a flow POST: body schema, result, bearer auth, Idempotency-Key."""

    def decorate(func: Any) -> Any:
        func = blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])(func)
        func = blp.response(200, result)(func)
        return blp.arguments(schema)(func)

    return decorate


@blp.route("/records/<record_id>/views")
class ViewsViews(MethodView):
    """Reading progress."""

    @_post(ViewsSchema, EventResultSchema)
    def post(self, args: dict[str, Any], record_id: str) -> Response:
        """Record viewed sections with seconds spent (batched; may arrive late from offline)."""
        return _once(lambda: signer_flow.view(current_session(), record_id, **args))


@blp.route("/records/<record_id>/answers")
class AnswersViews(MethodView):
    """Comprehension questions."""

    @_post(AnswersSchema, AnswerResultSchema)
    def post(self, args: dict[str, Any], record_id: str) -> Response:
        """Answer the questions; wrong answers come back with their explanation."""
        return _once(lambda: signer_flow.answer(current_session(), record_id, **args))


@blp.route("/records/<record_id>/choices")
class ChoicesViews(MethodView):
    """Consent items."""

    @_post(ChoicesSchema, EventResultSchema)
    def post(self, args: dict[str, Any], record_id: str) -> Response:
        """Choose yes or no for every consent item."""
        return _once(lambda: signer_flow.choose(current_session(), record_id, **args))


@blp.route("/records/<record_id>/signature")
class SignatureViews(MethodView):
    """Signing."""

    @_post(SignatureSchema, EventResultSchema)
    def post(self, args: dict[str, Any], record_id: str) -> Response:
        """Sign (after POST /auth/step-up and its verify): bound to the exact text shown."""
        key = request.headers.get("Idempotency-Key") or signer_flow.derived_signature_key(
            current_session(), record_id, request.get_data()
        )
        return _once(
            lambda: signer_flow.sign(
                current_session(),
                record_id,
                idempotency_key=key[:100],
                ip=client_ip(),
                user_agent=request.headers.get("User-Agent"),
                **args,
            ),
            already_done=lambda: signer_flow.signature_for_key(
                current_session(), record_id, key[:100]
            ),
        )


@blp.route("/records/<record_id>/decline")
class DeclineViews(MethodView):
    """Saying no."""

    @_post(DeclineSchema, EventResultSchema)
    def post(self, args: dict[str, Any], record_id: str) -> Response:
        """Decline this consent; a reason is optional."""
        return _once(lambda: signer_flow.decline(current_session(), record_id, **args))


@blp.route("/dissent")
class DissentViews(MethodView):
    """The child says no."""

    @_post(DissentSchema, EventResultSchema)
    def post(self, args: dict[str, Any]) -> Response:
        """Record the child's refusal (participant signers only): it stops participation."""
        return _once(lambda: signer_flow.dissent(current_session(), **args))


@blp.route("/withdrawals")
class WithdrawalsViews(MethodView):
    """Withdrawing."""

    @blp.response(200, WithdrawalListedSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self) -> list[signer_flow.WithdrawalEntry]:
        """List the participant's withdrawals with what they mean and their confirmation."""
        return signer_flow.withdrawals(current_session(), locale=request_locale())

    @_post(FamilyWithdrawalSchema, EventResultSchema)
    def post(self, args: dict[str, Any]) -> Response:
        """Withdraw as chosen (plain choices; after a step-up code); no reason needed."""
        key = (request.headers.get("Idempotency-Key") or "")[:100] or None
        return _once(
            lambda: signer_flow.withdraw(current_session(), idempotency_key=key, **args),
            201,
            already_done=lambda: signer_flow.withdrawal_for_key(
                current_session(),
                key or "",
                scopes=list(withdrawal_policy.scopes_for_choices(args["choices"])),
            ),
        )


@blp.route("/withdrawals/summary")
class WithdrawalSummaryViews(MethodView):
    """What a withdrawal will mean, before confirming it."""

    @blp.arguments(WithdrawalSummaryArgsSchema, location="query")
    @blp.response(200, WithdrawalSummarySchema)
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any]) -> signer_flow.WithdrawalSummary:
        """Say in plain words what the chosen options mean (nothing is recorded)."""
        current_session()
        return signer_flow.withdrawal_summary(args["choice"], locale=request_locale())


@blp.route("/questions")
class QuestionsViews(MethodView):
    """Questions for the study team."""

    @_post(QuestionSchema, EventResultSchema)
    def post(self, args: dict[str, Any]) -> Response:
        """Send a question to the study team."""
        return _once(lambda: signer_flow.ask_question(current_session(), **args), 201)

    @blp.response(200, QuestionThreadSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self) -> list[Any]:
        """The signer's questions with the study team's answers, oldest first."""
        return signer_flow.my_questions(current_session())


@blp.route("/wallet")
class WalletViews(MethodView):
    """The family's consent wallet."""

    @blp.response(200, WalletSchema)
    @blp.doc(security=SECURITY)
    def get(self) -> Any:
        """Everything this person signs for: every child, study, record, document and agreement."""
        return signer_flow.my_wallet(current_session(), locale=request_locale())


@blp.route("/wallet/documents/<document_id>")
class WalletDocumentViews(MethodView):
    """A sealed document of any child in the wallet."""

    @blp.response(200, description="application/pdf")
    @blp.doc(security=SECURITY)
    def get(self, document_id: str) -> Response:
        """Download a sealed document listed in the wallet (a sibling's too)."""
        pdf, filename = signer_flow.wallet_document(current_session(), document_id)
        return pdf_attachment(pdf, filename, cache_control="private, max-age=3600")


@blp.route("/wallet/choices")
class WalletChoicesViews(MethodView):
    """Changing an optional choice after signing."""

    @blp.arguments(ChoiceChangeSchema)
    @blp.response(201, ChoiceChangedSchema)
    @blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])
    def post(self, args: dict[str, Any]) -> Response:
        """Change one optional choice of a signed record (after a step-up code), as a new event."""
        key = (request.headers.get("Idempotency-Key") or "")[:100] or None
        session = current_session()
        return _once(
            lambda: dataclasses.asdict(
                signer_flow.change_choice(session, idempotency_key=key, **args)
            ),
            201,
        )


@blp.route("/contact-settings")
class ContactSettingsViews(MethodView):
    """How the signer is reached: channel, non-essential messages on or off, push devices."""

    @blp.response(200, ContactSettingsSchema)
    @blp.doc(security=SECURITY)
    def get(self) -> signer_flow.ContactSettings:
        """The signer's contact settings."""
        return signer_flow.contact_settings(current_session())

    @blp.arguments(ContactSettingsChangeSchema)
    @blp.response(200, ContactSettingsSchema)
    @blp.doc(security=SECURITY)
    def patch(self, args: dict[str, Any]) -> signer_flow.ContactSettings:
        """Change the channel, switch messages that are not required off or on, add a device."""
        return signer_flow.change_contact_settings(current_session(), **args)


@blp.route("/documents")
class DocumentsViews(MethodView):
    """Copies of what was signed."""

    @blp.response(200, DocumentSchema(many=True))
    @blp.paginate(Page)
    @blp.doc(security=SECURITY)
    def get(self) -> list[signer_flow.DocumentEntry]:
        """List the signer's sealed documents."""
        return signer_flow.my_documents(current_session())


@blp.route("/withdrawals/<int:seq>/document")
class WithdrawalDocumentViews(MethodView):
    """The sealed confirmation of a withdrawal."""

    @blp.response(200, description="application/pdf")
    @blp.doc(security=SECURITY)
    def get(self, seq: int) -> Response:
        """Download the withdrawal confirmation ({seq}: the withdrawal's event, as answered)."""
        pdf = signer_flow.withdrawal_document(current_session(), seq)
        return pdf_attachment(pdf, f"withdrawal-{seq}.pdf", cache_control="private, max-age=3600")


@blp.route("/records/<record_id>/document")
class RecordDocumentViews(MethodView):
    """The sealed PDF of a completed record."""

    @blp.arguments(DocumentQueryArgsSchema, location="query")
    @blp.response(200, description="application/pdf")
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], record_id: str) -> Response:
        """Download the sealed PDF (rendered once, on first request)."""
        found = signer_flow.record_document(current_session(), record_id, locale=args.get("lang"))
        return pdf_attachment(found.content, found.filename, cache_control="private, max-age=3600")
