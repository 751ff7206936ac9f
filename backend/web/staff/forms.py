"""The sponsor admin's form pages: import a study folder, preview, approve, publish; re-consent.

The same services as the JSON API (``backend/resources/forms_admin``): importing,
previewing, approving and publishing ask for ``Action.MANAGE_FORMS`` on the study
as a whole; the re-consent worklist is a read, limited to the member's sites.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, redirect, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from backend.web.staff import bp
from backend.web.staff.common import (
    _,
    _can,
    _check_csrf,
    _field,
    _language_name,
    _locale,
    _render,
    _require,
    _visible_sites,
)
from consentkit.clock import now_utc
from consentkit.errors import ConflictError, InvalidDataError
from consentkit.i18n import N_
from consentkit.policy.roles import Action
from consentkit.services import forms, publishing
from consentkit.services import staff as staff_service

#: Messages shown after a redirect (``?done=``): fixed keys, never text from the address.
DONE: dict[str, str] = {
    "approved": N_("The version is approved."),
}


def _forms_page(trial_id: str, status: int = 200, **extra: Any) -> tuple[str, int]:
    listed = forms.list_forms(
        trial_id, on=now_utc().date(), locale=_locale(), include_unpublished=True
    )
    return _render(
        "forms.html",
        status,
        trial_id=trial_id,
        title=forms.catalog(trial_id).study.title,
        forms=listed,
        max_upload_mb=publishing.MAX_UPLOAD_BYTES // (1024 * 1024),
        today=now_utc().date().isoformat(),
        **extra,
    )


@bp.get("/studies/<trial_id>/forms/")
def study_forms(trial_id: str) -> Any:
    """Every form with its versions and their status; import, approve and publish from here."""
    _require(Action.MANAGE_FORMS, trial_id)
    done = request.args.get("done", "")
    notice = _(DONE[done]) if done in DONE else None
    tasks = request.args.get("tasks", "")
    if done == "published" and tasks.isdigit():
        notice = _("The version is published. Re-consent tasks created: %(count)s", count=tasks)
    return _forms_page(trial_id, notice=notice)


@bp.post("/studies/<trial_id>/forms/import")
def import_forms(trial_id: str) -> Any:
    """Import a zip of the study folder (all of it checked before anything is written)."""
    signed = _require(Action.MANAGE_FORMS, trial_id)
    _check_csrf(signed)
    if (request.content_length or 0) > publishing.MAX_UPLOAD_BYTES + 64 * 1024:
        abort(413)
    upload = request.files.get("folder")
    data = b""
    if upload:
        # A large upload is spooled to a temporary file: close it now, on every answer.
        with upload.stream as stream:
            data = stream.read(publishing.MAX_UPLOAD_BYTES + 1)
    if not data:
        return _forms_page(trial_id, 422, error=_("Choose a zip file of the study folder."))
    if len(data) > publishing.MAX_UPLOAD_BYTES:
        abort(413)
    try:
        report = publishing.import_upload(data, trial_id=trial_id)
    except (InvalidDataError, ConflictError) as exc:
        problems = exc.details.get("errors") or []
        return _forms_page(
            trial_id,
            422 if isinstance(exc, InvalidDataError) else 409,
            error=exc.translated(_locale()),
            problems=[str(p) for p in problems] if isinstance(problems, list) else [],
        )
    notice = _(
        "Imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.",
        created=len(report.created),
        updated=len(report.updated),
        unchanged=len(report.unchanged),
    )
    return _forms_page(trial_id, notice=notice)


@bp.get("/studies/<trial_id>/forms/<form_id>/v<int:version>")
def preview_form(trial_id: str, form_id: str, version: int) -> Any:
    """A version as families will read it, in each of its languages (any status)."""
    _require(Action.MANAGE_FORMS, trial_id)
    # ``?text=``, not ``?lang=``: that one switches the language of the staff pages themselves.
    lang = (request.args.get("text") or "").strip()[:20] or None
    view = forms.version_view(trial_id, form_id, version, requested=lang, include_unpublished=True)
    stored = publishing.get_version(trial_id, form_id, version)
    return _render(
        "forms_preview.html",
        trial_id=trial_id,
        view=view,
        status=stored.status,
        languages=[(tag, _language_name(tag)) for tag in stored.locales],
    )


@bp.post("/studies/<trial_id>/forms/<form_id>/v<int:version>/approve")
def approve_form(trial_id: str, form_id: str, version: int) -> BaseResponse:
    """Approve a draft with the ethics committee's reference."""
    signed = _require(Action.MANAGE_FORMS, trial_id)
    _check_csrf(signed)
    publishing.approve_version(
        trial_id,
        form_id,
        version,
        ethics_reference=_field("ethics_reference", 200),
        by=str(signed.staff.id),
    )
    return redirect(url_for(".study_forms", trial_id=trial_id, done="approved"))


@bp.post("/studies/<trial_id>/forms/<form_id>/v<int:version>/publish")
def publish_form(trial_id: str, form_id: str, version: int) -> BaseResponse:
    """Publish an approved version as a major or minor change from a date."""
    signed = _require(Action.MANAGE_FORMS, trial_id)
    _check_csrf(signed)
    try:
        effective_from = date.fromisoformat(_field("effective_from", 10))
    except ValueError as exc:
        raise InvalidDataError("Give the date the version takes effect.") from exc
    result = publishing.publish_version(
        trial_id,
        form_id,
        version,
        change=_field("change", 10),
        effective_from=effective_from,
        by=str(signed.staff.id),
    )
    return redirect(
        url_for(".study_forms", trial_id=trial_id, done="published", tasks=result.reconsent_tasks)
    )


@bp.get("/studies/<trial_id>/reconsent")
def reconsent(trial_id: str) -> Any:
    """Who must consent again after a major version, at the member's sites."""
    signed = _require(Action.VIEW, trial_id)
    site = (request.args.get("site") or "").strip()[:40] or None
    sites = staff_service.site_filter(signed, Action.VIEW, trial_id, site)
    return _render(
        "forms_reconsent.html",
        trial_id=trial_id,
        site=site,
        site_options=_visible_sites(signed, Action.VIEW, trial_id),
        rows=publishing.reconsent_worklist(trial_id, site_codes=sites),
        can_manage_forms=_can(signed, Action.MANAGE_FORMS, trial_id, None),
    )
