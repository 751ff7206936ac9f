"""Consent tasks on the staff pages: the study's task list and "open and invite".

Re-consent after a major version, a new age band or role (NL turning 12, PL 13) and
own consent at competence (CTR Art 32(3)) are tasks that
:mod:`consentkit.services.transitions` lists and acts on. These pages only show
what that service returns (why, status, due date) and call the same
:func:`~consentkit.services.transitions.open_and_invite` as the staff API, so the
form opened and who is invited are decided once, in consentkit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import abort, request, url_for

from backend.qr import qr_svg
from backend.web.staff import bp
from backend.web.staff.common import (
    _check_csrf,
    _locale,
    _render,
    _require,
    _signed,
    _visible_sites,
    _when,
)
from consentkit import settings
from consentkit.labels import label
from consentkit.policy.roles import Action
from consentkit.services import enrolment, transitions
from consentkit.services import staff as staff_service
from consentkit.services.transitions import DONE, IN_PROGRESS, OPEN, TaskView

#: The task statuses a list may show, in the order of the filter.
STATUSES = (OPEN, IN_PROGRESS, DONE)


def _row(task: TaskView, trial_id: str) -> dict[str, Any]:
    """Return a task as the pages show it: labels in the page's language, plain values."""
    locale = _locale()
    return {
        "key": task.key,
        "participant_code": task.participant_code,
        "site_code": task.site_code,
        "purpose": task.why.purpose(locale),
        "kind_label": label("form_kind", task.form_kind, locale),
        "due": _when(task.due_date),
        "status": task.status,
        "status_label": label("task_status", task.status, locale),
        "record_id": task.record_id,
        "participant_url": url_for(".participant", trial_id=trial_id, code=task.participant_code),
    }


def task_rows(trial_id: str, found: Iterable[TaskView]) -> list[dict[str, Any]]:
    """Return tasks as the pages show them (a participant's page, the study's list)."""
    return [_row(task, trial_id) for task in found]


@bp.get("/studies/<trial_id>/tasks")
def tasks(trial_id: str) -> Any:
    """The study's consent tasks at the member's sites: filter by site and status."""
    signed = _require(Action.VIEW, trial_id)
    site = (request.args.get("site") or "").strip()[:40] or None
    # No status asked: the tasks to open; "All statuses" (an empty value): every status.
    asked = request.args.get("status")
    if asked not in (None, "", *STATUSES):
        abort(400)
    statuses = (OPEN,) if asked is None else ((asked,) if asked else STATUSES)
    sites = staff_service.site_filter(signed, Action.VIEW, trial_id, site)
    found = transitions.site_task_views(trial_id, site_codes=sites, statuses=statuses)
    locale = _locale()
    return _render(
        "tasks.html",
        trial_id=trial_id,
        rows=task_rows(trial_id, found),
        site=site,
        selected_status=OPEN if asked is None else asked,
        site_options=_visible_sites(signed, Action.VIEW, trial_id),
        status_options=[(s, label("task_status", s, locale)) for s in STATUSES],
    )


@bp.post("/studies/<trial_id>/participants/<path:code>/tasks/<task_key>/open")
def open_task(trial_id: str, code: str, task_key: str) -> Any:
    """Open the record a task asks for and invite its family signers; codes shown once."""
    signed = _signed()  # sign-in before "not found": nothing is learnt about codes without it
    found = staff_service.participant_for(signed, trial_id, code, Action.INVITE)
    _check_csrf(signed)
    done = transitions.open_and_invite(
        found,
        task_key[:200],
        actor=staff_service.acting_as(signed, trial_id, found.site_code),
    )
    names = {s["signer_id"]: s["name"] for s in enrolment.signer_details(found)}
    locale = _locale()
    invitations = []
    for sent in done.invitations:
        # CONSENTKIT_PUBLIC_URL, never the request's Host header (as for one invitation).
        web_link = settings.public_url() + url_for("family.invitation", code=sent.code)
        invitations.append(
            {
                "signer_id": sent.signer_id,
                "name": names.get(sent.signer_id, ""),
                "role_label": label("signer_role", sent.role, locale),
                "code": sent.code,
                "app_link": sent.link,
                "web_link": web_link,
                "qr": qr_svg(web_link),
                "expires_at": _when(sent.expires_at),
            }
        )
    record = done.opened.record
    return _render(
        "task_opened.html",
        trial_id=trial_id,
        participant=found,
        task=_row(done.opened.task, trial_id),
        form=f"{record.form_id} v{record.version}",
        opened=done.opened.opened,
        invitations=invitations,
    )
