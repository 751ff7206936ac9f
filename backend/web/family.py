"""The reference family web flow: mobile-first pages on the signer API (``/api/v1/auth``, ``/me``).

Pages are shells: ``static/js/family.js`` signs in, reads, answers, chooses,
signs, downloads and withdraws through the same JSON API a native app uses,
with the tokens in ``sessionStorage``. So a site can run e-consent without an
app, and the whole path is tested in a real browser. The server renders only
the page's words (in the page language) and the strings the script shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import NotFound

from backend.errors import handle_http_exception
from backend.web.i18n import chosen_locale, page_locale
from consentkit import settings
from consentkit.enums import RecordState, SignerRole
from consentkit.i18n import N_, gettext
from consentkit.labels import LABELS, label
from consentkit.policy.withdrawal import CHOICES
from consentkit.services import outbox

bp = Blueprint("family", __name__, url_prefix="/family")

#: Longest invitation code a deep link may prefill (the API accepts up to 40 characters).
MAX_CODE = 40

#: Words family.js shows; translated per page into the page's language.
SCRIPT_STRINGS: dict[str, str] = {
    "network": N_("We could not reach the server. Check your connection and try again."),
    "signed_out": N_("You are signed out. Please sign in again with your invitation code."),
    "code_sent": N_("We sent a code to %(destination)s. It is valid for a few minutes."),
    "part_of": N_("Part %(number)s of %(total)s"),
    "read_every_part": N_("Please read every part before you go on."),
    "correct": N_("Correct"),
    "not_quite": N_("Not quite"),
    "score": N_("%(score)s of %(total)s answers are right."),
    "quiz_passed": N_("Well done. You can go on."),
    "quiz_passed_with_mistakes": N_(
        "You can go on. Please read the explanation of each answer that was not right."
    ),
    "quiz_failed": N_("Please read the explanations, change your answers and check again."),
    "answer_every_question": N_("Please answer every question."),
    "answer_every_item": N_("Please choose yes or no for every point."),
    "required_item": N_("Needed to take part"),
    "optional_item": N_("Your choice"),
    "yes": N_("Yes"),
    "no": N_("No"),
    "required_refused": N_(
        "You said no to a point that is needed to take part. You can change your answer, "
        "or tell the study team that you do not want to take part."
    ),
    "declined": N_("Your answer is saved: you do not want to take part. Thank you for telling us."),
    "type_name": N_("Please type your name."),
    "draw_signature": N_("Please draw your signature in the box."),
    "enter_code": N_("Please type the 6-digit code."),
    "ask_code_first": N_("Please ask for a code first."),
    "give_reason": N_("Please tell us why you want to sign now."),
    "confirm_i_sign": N_('Please tick "I sign this form with my typed name".'),
    "reflection_until": N_("You can sign from %(date)s, or tell us why you want to sign now."),
    "too_many_codes": N_("Too many wrong codes. Please ask for a new code."),
    "send_new_code": N_("Send me a new code"),
    "new_code_needed": N_("For your safety, please ask for a new code and try again."),
    "complete": N_("Everyone has signed. You can download your copy."),
    "no_tasks": N_("There is nothing to read or sign right now."),
    "due": N_("Please finish by %(date)s."),
    "step_read": N_("Read the information"),
    "step_questions": N_("Answer the questions"),
    "step_choices": N_("Make your choices"),
    "step_sign": N_("Sign"),
    "step_done": N_("See what you signed"),
    "step_open": N_("Start"),
    "step_of": N_("Step %(number)s of %(total)s"),
    "step_completed": N_("done"),
    "step_read-update": N_("Read what changed"),
    "choose_scope": N_("Please choose at least one option."),
    "downloaded": N_("Your copy is downloaded."),
    "preparing_copy": N_("Preparing your copy…"),
    "push_on": N_("Notifications are on for this phone."),
    "push_failed": N_(
        "Notifications could not be turned on. We will reach you by e-mail or text message."
    ),
    "push_blocked": N_(
        "Notifications are blocked for this site in your browser settings. We will reach you "
        "by e-mail or text message."
    ),
    "signed_in_as": N_("Participant %(code)s"),
    "write_question": N_("Please write your question."),
    "question_sent": N_("Your question is sent. The study team will answer you."),
    "your_questions": N_("Your questions"),
    "team_answer": N_("The study team answered:"),
    "question_open": N_("Waiting for an answer"),
    "question_closed": N_("Closed"),
    "enter_invitation": N_("Please type the invitation code from your study team."),
    "child_turn": N_("Your child's turn"),
    "child_choose_every": N_("Please choose yes or no."),
    "child_write_name": N_("Please write your first name."),
    "child_draw": N_("Please draw in the box."),
    "child_thanks_yes": N_("You said yes. Thank you for helping us."),
    "child_thanks_no": N_("You said no. Thank you for telling us."),
    "news_results": N_("Summary of the results"),
    "wallet_child": N_("Participant %(code)s"),
    "wallet_signed_in_for": N_("You are signed in for this participant."),
    "wallet_you_sign_as": N_("You sign as: %(role)s"),
    "wallet_agreed_now": N_("What you have agreed to now"),
    "wallet_agreed": N_("Yes"),
    "wallet_not_agreed": N_("No"),
    "wallet_records": N_("Consent forms"),
    "wallet_documents": N_("Documents"),
    "wallet_no_documents": N_("No sealed documents yet."),
    "wallet_download": N_("Download (PDF)"),
    "wallet_document": N_("Sealed document of %(date)s (check code %(code)s)"),
    "wallet_your_answer": N_("Your answer: %(answer)s"),
    "wallet_signed_answer": N_("When you signed: %(answer)s"),
    "wallet_change": N_("Change"),
    "wallet_change_label": N_("Change your answer to: %(item)s"),
    "wallet_choose_new": N_("Please choose your new answer."),
    "wallet_changed": N_("Your new answer is recorded."),
    "wallet_nothing": N_("There is nothing in your wallet yet."),
}


def script_strings(locale: str) -> dict[str, Any]:
    """Return the script's words and the vocabularies' labels in ``locale``."""
    return {
        "text": {key: gettext(locale, message) for key, message in SCRIPT_STRINGS.items()},
        "form_kind": {key: label("form_kind", key, locale) for key in LABELS["form_kind"]},
        "signer_role": {key: label("signer_role", key, locale) for key in SignerRole},
        "record_state": {key: label("record_state", key, locale) for key in RecordState},
        "withdrawal_scope": {
            key: label("withdrawal_scope", key, locale) for key in LABELS["withdrawal_scope"]
        },
    }


def _page(
    template: str,
    page: str,
    *,
    record_id: str | None = None,
    information: dict[str, Any] | None = None,
    **context: Any,
) -> str:
    locale = page_locale()
    return render_template(
        f"web/family/{template}",
        page=page,
        record_id=record_id,
        script_data={
            "page": page,
            "lang": locale,
            # Null until a language is picked here: then the signer's recorded one applies.
            "lang_chosen": chosen_locale(),
            "api": "/api/v1",
            "base": url_for("family.start"),
            "record_id": record_id,
            "information": information,
            # The VAPID public key a browser subscribes to Web Push with (none: not offered).
            "push_key": settings.vapid_public_key(),
        },
        strings=script_strings(locale),
        **context,
    )


@bp.get("/")
def start() -> str:
    """Enter an invitation code."""
    return _page("start.html", "start", code="")


@bp.get("/i/<code>")
@bp.get("/invite/<code>")
def invitation(code: str) -> str:
    """Open the start page with the invitation code of a link or QR code filled in."""
    return _page("start.html", "start", code=code[:MAX_CODE])


@bp.get("/code")
def one_time_code() -> str:
    """Enter the one-time code sent to the signer."""
    return _page("code.html", "code")


@bp.get("/tasks")
def tasks() -> str:
    """List what to read and sign."""
    return _page("tasks.html", "tasks")


@bp.get("/records/<record_id>/read")
def read(record_id: str) -> str:
    """Read the information, one part at a time."""
    return _page("read.html", "read", record_id=record_id)


@bp.get("/records/<record_id>/quiz")
def quiz(record_id: str) -> str:
    """Answer the questions about the study."""
    return _page("quiz.html", "quiz", record_id=record_id)


@bp.get("/records/<record_id>/choices")
def choices(record_id: str) -> str:
    """Say yes or no to each point of the consent."""
    return _page("choices.html", "choices", record_id=record_id)


@bp.get("/records/<record_id>/sign")
def sign(record_id: str) -> str:
    """Type a name, draw a signature, confirm with a fresh code."""
    return _page("sign.html", "sign", record_id=record_id)


@bp.get("/records/<record_id>/child")
def child(record_id: str) -> str:
    """A young child's turn on a parent's device: read, say yes or no, sign (no code)."""
    return _page("child.html", "child", record_id=record_id)


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker that shows Web Push messages (scope /family/, nothing cached)."""
    script = (Path(current_app.root_path) / "static" / "js" / "family-sw.js").read_text("utf-8")
    response = Response(script, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = url_for("family.start")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/records/<record_id>/done")
def done(record_id: str) -> str:
    """Signed: see who else must sign, and download the sealed copy when complete."""
    return _page("done.html", "done", record_id=record_id)


@bp.get("/information/<form_id>/<int:version>")
def information(form_id: str, version: int) -> str:
    """Read a new version of the information told to the family (nothing to sign)."""
    return _page(
        "information.html",
        "information",
        information={"form_id": form_id[:80], "version": version},
    )


@bp.get("/news")
def news() -> str:
    """The study's news and the summary of its results; opening one counts it as read."""
    return _page("news.html", "news")


@bp.get("/wallet")
def wallet() -> str:
    """The family's wallet: every child, study, record, document and agreement; change a choice."""
    return _page("wallet.html", "wallet")


@bp.get("/withdraw")
def withdraw() -> str:
    """Withdraw from all or part of the study: plain choices, their meaning, then confirm."""
    locale = page_locale()
    choices = [
        {"value": spec.choice.value, "label": gettext(locale, spec.label)} for spec in CHOICES
    ]
    return _page("withdraw.html", "withdraw", choices=choices)


@bp.get("/sign-out")
def sign_out() -> str:
    """End the session on this device."""
    return _page("signed_out.html", "sign-out")


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> str:
    """Stop messages that are not required: one tap on the page, or the mail client's one-click.

    GET only shows the button (link scanners and previews open links; they must not
    unsubscribe anyone). POST, from the button or a mail client's RFC 8058 one-click,
    switches them off. The signed token is the authority; messages required by law
    (a withdrawal confirmation) still reach the family.
    """
    if request.method == "POST":
        outbox.unsubscribe(token)
        return _page("unsubscribe.html", "unsubscribe", token=token, done=True)
    return _page("unsubscribe.html", "unsubscribe", token=token, done=False)


@bp.app_errorhandler(NotFound)
def not_found(exc: NotFound) -> Response:
    """A mistyped ``/family/...`` address: a kind page with a way back (elsewhere problem+json)."""
    if not request.path.startswith(f"{bp.url_prefix}/"):
        return handle_http_exception(exc)
    return Response(_page("not_found.html", "not-found"), status=404, mimetype="text/html")
