"""The families' questions on the staff pages: the study's inbox, answering and closing.

The pages show what :mod:`consentkit.services.questions` returns and call the
same ``answer_question`` and ``close_question`` as the staff API, so who may
answer, the language of the answer and the message to the family are decided once.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for

from backend.web.staff import bp
from backend.web.staff.common import (
    _can,
    _check_csrf,
    _locale,
    _notice,
    _render,
    _require,
    _signed,
    _visible_sites,
    _when,
)
from consentkit.labels import label
from consentkit.policy.roles import Action
from consentkit.services import questions as questions_service
from consentkit.services import staff as staff_service
from consentkit.services.questions import Question, QuestionStatus

#: Answers longer than this are refused by the API too (AnswerQuestionSchema).
MAX_ANSWER = 4000


def question_row(question: Question, trial_id: str, *, can_answer: bool) -> dict[str, Any]:
    """Return a question as the pages show it: labels in the page's language, plain values."""
    locale = _locale()
    return {
        "seq": question.seq,
        "participant_code": question.participant_code,
        "site_code": question.site_code,
        "asked_at": _when(question.asked_at),
        "text": question.text,
        "locale": question.locale,
        "status": question.status.value,
        "status_label": label("question_status", question.status.value, locale),
        "answers": [
            {"at": _when(a.at), "text": a.text, "locale": a.locale} for a in question.answers
        ],
        "can_answer": can_answer and question.status is not QuestionStatus.CLOSED,
        "participant_url": url_for(
            ".participant", trial_id=trial_id, code=question.participant_code
        ),
        "answer_url": url_for(
            ".answer_question", trial_id=trial_id, code=question.participant_code, seq=question.seq
        ),
        "close_url": url_for(
            ".close_question", trial_id=trial_id, code=question.participant_code, seq=question.seq
        ),
    }


@bp.get("/studies/<trial_id>/questions")
def questions(trial_id: str) -> Any:
    """The families' questions at the member's sites: open ones first; filter by site, status."""
    signed = _require(Action.VIEW, trial_id)
    site = (request.args.get("site") or "").strip()[:40] or None
    asked = request.args.get("status")
    statuses = [s.value for s in QuestionStatus]
    if asked not in (None, "", *statuses):
        abort(400)
    sites = staff_service.site_filter(signed, Action.VIEW, trial_id, site)
    found = questions_service.inbox(
        trial_id,
        site_codes=sites,
        status=QuestionStatus(asked) if asked else None,
    )
    locale = _locale()
    return _render(
        "questions.html",
        trial_id=trial_id,
        rows=[
            question_row(
                q,
                trial_id,
                can_answer=_can(signed, Action.ANSWER_QUESTIONS, trial_id, q.site_code),
            )
            for q in found
        ],
        site=site,
        selected_status=asked or "",
        site_options=_visible_sites(signed, Action.VIEW, trial_id),
        status_options=[(s, label("question_status", s, locale)) for s in statuses],
        notice=_notice(),
    )


@bp.post("/studies/<trial_id>/participants/<path:code>/questions/<int:seq>/answer")
def answer_question(trial_id: str, code: str, seq: int) -> Any:
    """Answer a family's question (in their language by default); the family is told."""
    signed = _signed()  # sign-in before "not found": nothing is learnt about codes without it
    found = staff_service.participant_for(signed, trial_id, code, Action.ANSWER_QUESTIONS)
    _check_csrf(signed)
    text = (request.form.get("text") or "").strip()
    if not text or len(text) > MAX_ANSWER:
        abort(422)
    questions_service.answer_question(
        found,
        seq,
        text=text,
        locale=(request.form.get("locale") or "").strip()[:10] or None,
        actor=staff_service.acting_as(signed, trial_id, found.site_code),
    )
    return redirect(url_for(".questions", trial_id=trial_id, notice="question-answered"))


@bp.post("/studies/<trial_id>/participants/<path:code>/questions/<int:seq>/close")
def close_question(trial_id: str, code: str, seq: int) -> Any:
    """Close a family's question."""
    signed = _signed()
    found = staff_service.participant_for(signed, trial_id, code, Action.ANSWER_QUESTIONS)
    _check_csrf(signed)
    questions_service.close_question(
        found, seq, actor=staff_service.acting_as(signed, trial_id, found.site_code)
    )
    return redirect(url_for(".questions", trial_id=trial_id, notice="question-closed"))
