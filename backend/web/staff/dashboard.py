"""The pages that read a study: the member's studies, the dashboard, the worklist, the export.

They only read (``consentkit.services.dashboard``), each count and row limited to the
sites where the member may view or export, and link to one another through the
worklist's filters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import marshmallow as ma
from flask import Response, abort, request, url_for

from backend.downloads import export_attachment
from backend.web.staff import bp
from backend.web.staff.common import (
    STAFF_ROLES,
    WITHDRAWAL_SCOPES,
    _,
    _can,
    _language_name,
    _locale,
    _notice,
    _render,
    _require,
    _signed,
    _state_label,
    _visible_sites,
)
from consentkit.enums import OPEN_STATES, RecordState
from consentkit.errors import PermissionDeniedError
from consentkit.i18n import N_
from consentkit.labels import label
from consentkit.policy.roles import Action, roles_in
from consentkit.services import dashboard, digest, forms, news
from consentkit.services import staff as staff_service
from consentkit.services.staff import Signed

#: Worklist rows per page.
PAGE_SIZE = 50
#: What each "needs attention" count counted, as the dashboard and the worklist's filter say it.
DUE_LABELS: dict[str, str] = {
    dashboard.DueFilter.RECONSENT: N_("Re-consent due after a new major version"),
    dashboard.DueFilter.COMPETENCE: N_("Reach the age to consent alone within 90 days"),
    dashboard.DueFilter.BAND_CHANGE: N_(
        "Move to a new age group within 90 days (a new assent or co-consent)"
    ),
    dashboard.DueFilter.SUSPENDED: N_("Suspended until the young person consents themselves"),
    dashboard.DueFilter.DISSENT: N_("The child said no (dissent)"),
}


# ---------------------------------------------------------------- studies and dashboard


@bp.get("/")
def home() -> Any:
    """The member's studies, with their roles and sites."""
    signed = _signed()
    titles = {s.trial_id: s.title for s in forms.list_studies()}
    studies: dict[str, dict[str, Any]] = {}
    for grant in signed.grants:
        entry = studies.setdefault(
            grant.trial_id,
            {"trial_id": grant.trial_id, "title": titles.get(grant.trial_id), "sites": set()},
        )
        entry["sites"].update(grant.sites)
    shown = []
    for trial_id, entry in sorted(studies.items()):
        sites = entry["sites"]
        shown.append(
            {
                **entry,
                "roles": _roles_text(roles_in(signed.grants, trial_id)),
                "sites": _("All sites") if "*" in sites else ", ".join(sorted(sites)),
            }
        )
    return _render(
        "home.html",
        studies=shown,
        notice=_notice(),
        recovery_left=staff_service.recovery_codes_left(signed.staff),
        digest_shown=digest.receives_digest(signed.staff),
        digest_enabled=bool(signed.staff.digest_enabled),
    )


def _roles_text(roles: Iterable[str]) -> str:
    return ", ".join(_(STAFF_ROLES[r]) if r in STAFF_ROLES else str(r) for r in roles)


def _records_url(trial_id: str, **filters: Any) -> str:
    return url_for(".worklist", trial_id=trial_id, **{k: v for k, v in filters.items() if v})


@bp.get("/studies/<trial_id>/")
def study(trial_id: str) -> Any:
    """The study dashboard: counts by state, site, form version and language, and what is due."""
    signed = _require(Action.VIEW, trial_id)
    site = (request.args.get("site") or "").strip()[:40] or None
    sites = staff_service.site_filter(signed, Action.VIEW, trial_id, site)
    summary = dashboard.summary(trial_id, site_codes=sites)
    locale = _locale()
    by_state = [
        {
            "state": state,
            "label": label("record_state", state, locale),
            "count": summary.by_state[state],
            "url": _records_url(trial_id, site=site, state=state),
        }
        for state in RecordState
    ]
    columns = _state_columns(summary.by_state)
    by_site = [
        _breakdown_row(trial_id, code, states, columns, site=code)
        for code, states in sorted(summary.by_site.items())
    ]
    by_form = [
        _breakdown_row(
            trial_id,
            f"{row.form_id} v{row.version}",
            row.by_state,
            columns,
            site=site,
            form_id=row.form_id,
        )
        for row in summary.by_form_version
    ]
    by_language = [
        {"tag": tag, "name": _language_name(tag), "count": count}
        for tag, count in sorted(summary.by_language.items())
    ]
    withdrawn = [
        {
            "scope": scope,
            "label": label("withdrawal_scope", scope, locale),
            "count": summary.withdrawn_by_scope.get(scope, 0),
        }
        for scope in WITHDRAWAL_SCOPES
    ]
    due = [
        {
            "key": "partially_consented",
            "label": _("Partially consented: some have signed, others not yet"),
            "count": summary.partially_consented,
            "url": _records_url(trial_id, site=site, state=RecordState.AWAITING_SIGNATURES),
        },
        *(
            {
                "key": entry.due,
                "label": _(DUE_LABELS[entry.due]),
                "count": entry.count,
                "url": _records_url(trial_id, site=site, due=entry.due),
            }
            for entry in summary.due
        ),
        {
            "key": "expired",
            "label": _("Expired before they were completed"),
            "count": summary.expired,
            "url": _records_url(trial_id, site=site, state=RecordState.EXPIRED),
        },
    ]
    latest_news = news.latest(trial_id)
    return _render(
        "dashboard.html",
        trial_id=trial_id,
        title=forms.catalog(trial_id).study.title,
        site=site,
        site_options=_visible_sites(signed, Action.VIEW, trial_id),
        summary=summary,
        by_state=by_state,
        columns=[{"state": c, "label": _state_label(c)} for c in columns],
        by_site=by_site,
        by_form=by_form,
        by_language=by_language,
        withdrawn=withdrawn,
        withdrawn_url=_records_url(trial_id, site=site),
        due=due,
        can_enrol=_can_enrol_somewhere(signed, trial_id),
        can_export=_can(signed, Action.EXPORT, trial_id, None),
        can_manage_forms=_can(signed, Action.MANAGE_FORMS, trial_id, None),
        latest_news=latest_news,
        latest_news_title=news.title_in(latest_news, locale) if latest_news else None,
    )


def _state_columns(by_state: Mapping[str, int]) -> list[str]:
    """Return the states worth a column: the open and consented ones, and any with records."""
    always = OPEN_STATES | {RecordState.CONSENTED}
    return [s.value for s in RecordState if s in always or by_state.get(s, 0)]


def _breakdown_row(
    trial_id: str,
    title: str,
    states: Mapping[str, int],
    columns: list[str],
    *,
    site: str | None,
    form_id: str | None = None,
) -> dict[str, Any]:
    """Return one row of a by-site or by-form table: total and per-state counts with links."""
    return {
        "title": title,
        "total": sum(states.values()),
        "url": _records_url(trial_id, site=site, form_id=form_id),
        "cells": [
            {
                "count": states.get(state, 0),
                "url": _records_url(trial_id, site=site, form_id=form_id, state=state),
            }
            for state in columns
        ],
    }


def _can_enrol_somewhere(signed: Signed, trial_id: str) -> bool:
    try:
        staff_service.sites_for(signed, Action.ENROL, trial_id)
    except PermissionDeniedError:
        return False
    return True


# ---------------------------------------------------------------- worklist and exports


class _WorklistArgs(ma.Schema):
    site = ma.fields.String(load_default=None, validate=ma.validate.Length(max=40))
    state = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf([s.value for s in RecordState])
    )
    form_id = ma.fields.String(load_default=None, validate=ma.validate.Length(max=80))
    due = ma.fields.String(load_default=None, validate=ma.validate.OneOf(dashboard.DUE_FILTERS))
    q = ma.fields.String(load_default=None, validate=ma.validate.Length(max=80))
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


def _query_args() -> dict[str, Any]:
    raw = {k: v for k, v in request.args.items() if v != "" and k in _WorklistArgs().fields}
    try:
        loaded: dict[str, Any] = _WorklistArgs().load(raw)
    except ma.ValidationError:
        abort(400)
    return loaded


@bp.get("/studies/<trial_id>/records")
def worklist(trial_id: str) -> Any:
    """One row per participant and form version, newest first: filter, search, download."""
    signed = _require(Action.VIEW, trial_id)
    args = _query_args()
    sites = staff_service.site_filter(signed, Action.VIEW, trial_id, args["site"])
    found = dashboard.status_table(
        trial_id,
        site_codes=sites,
        state=args["state"],
        form_id=args["form_id"],
        search=args["q"],
        due=args["due"],
        cursor=args["cursor"],
        page_size=PAGE_SIZE,
    )
    filters = {k: args[k] for k in ("site", "state", "form_id", "due", "q") if args[k]}
    locale = _locale()
    shown = [
        {
            **row.as_dict(),
            "url": url_for(".participant", trial_id=trial_id, code=row.participant_code),
            "state_label": _state_label(row.state),
            "missing": ", ".join(label("signer_role", r, locale) for r in row.missing_signers),
        }
        for row in found.items
    ]
    export = {k: v for k, v in filters.items() if k in ("site", "state", "due")}
    return _render(
        "worklist.html",
        trial_id=trial_id,
        rows=shown,
        total=found.total,
        filters=filters,
        first_url=_records_url(trial_id, **filters) if args["cursor"] else None,
        next_url=_records_url(trial_id, **filters, cursor=found.next_cursor)
        if found.next_cursor
        else None,
        site_options=_visible_sites(signed, Action.VIEW, trial_id),
        state_options=[(s.value, label("record_state", s, locale)) for s in RecordState],
        form_options=sorted(forms.catalog(trial_id).forms),
        due_options=[(due, _(DUE_LABELS[due])) for due in dashboard.DUE_FILTERS],
        due_label=_(DUE_LABELS[args["due"]]) if args["due"] else None,
        can_export=_can(signed, Action.EXPORT, trial_id, None),
        csv_url=url_for(".export", trial_id=trial_id, fmt="csv", **export),
        xlsx_url=url_for(".export", trial_id=trial_id, fmt="xlsx", **export),
    )


@bp.get("/studies/<trial_id>/records/export.<fmt>")
def export(trial_id: str, fmt: str) -> Response:
    """Download the status table as CSV (streamed) or XLSX."""
    if fmt not in dashboard.EXPORT_FORMATS:
        abort(404)
    signed = _require(Action.EXPORT, trial_id)
    site = (request.args.get("site") or "").strip()[:40] or None
    state = request.args.get("state") or None
    if state is not None and state not in {s.value for s in RecordState}:
        abort(400)
    due = request.args.get("due") or None
    if due is not None and due not in dashboard.DUE_FILTERS:
        abort(400)
    sites = staff_service.site_filter(signed, Action.EXPORT, trial_id, site)
    return export_attachment(
        dashboard.export(trial_id, fmt, site_codes=sites, state=state, due=due)
    )
