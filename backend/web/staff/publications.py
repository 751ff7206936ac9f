"""Study news and results, and the comprehension insight, on the staff pages.

The same services as the JSON API (``backend/resources/publications`` and
``backend/resources/insight``): every member who may view the study sees the
publications with how many family members were told and opened each; the sponsor
admin (``manage-forms``) writes and publishes one after a recent sign-in. The
insight page shows aggregates only, small groups hidden, and downloads them as CSV.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for

from backend.web.staff import bp
from backend.web.staff.common import (
    _can,
    _check_csrf,
    _locale,
    _needs_reauth,
    _reauth_redirect,
    _render,
    _require,
    _visible_sites,
    _when,
)
from consentkit.errors import ConflictError, InvalidDataError
from consentkit.policy.insight import Insight
from consentkit.policy.locales import language_option
from consentkit.policy.news import KINDS, MAX_BODY, MAX_TITLE
from consentkit.policy.roles import Action
from consentkit.services import forms, insight, news
from consentkit.services import staff as staff_service
from consentkit.services.staff import Signed


def _languages(trial_id: str) -> list[dict[str, str]]:
    study = forms.catalog(trial_id).study
    return [{"tag": tag, "name": language_option(tag).name} for tag in news.study_languages(study)]


def _publications_page(
    trial_id: str, can_publish: bool, status: int = 200, **extra: Any
) -> tuple[str, int]:
    rows = [
        {
            "id": p.id,
            "kind": p.kind,
            "published_at": _when(p.published_at),
            "texts": sorted(p.texts.items()),
            "queued": p.queued,
            "read": p.read,
        }
        for p in news.publications(trial_id)
    ]
    return _render(
        "publications.html",
        status,
        trial_id=trial_id,
        publications=rows,
        can_publish=can_publish,
        manage_forms=can_publish,
        languages=_languages(trial_id),
        kinds=KINDS,
        max_title=MAX_TITLE,
        max_body=MAX_BODY,
        **extra,
    )


@bp.get("/studies/<trial_id>/publications")
def publications(trial_id: str) -> Any:
    """The study's news and results with messages queued and reads; the form to publish one."""
    signed = _require(Action.VIEW, trial_id)
    return _publications_page(trial_id, _can(signed, Action.MANAGE_FORMS, trial_id, None))


@bp.post("/studies/<trial_id>/publications")
def publish(trial_id: str) -> Any:
    """Publish news or the results summary (a recent sign-in first); families are told."""
    signed = _require(Action.MANAGE_FORMS, trial_id)
    _check_csrf(signed)
    if _needs_reauth(signed):
        return _reauth_redirect(url_for(".publications", trial_id=trial_id))
    kind = (request.form.get("kind") or "")[:20]
    texts = {
        language["tag"]: {
            "title": (request.form.get(f"title-{language['tag']}") or "")[: MAX_TITLE + 1],
            "body": (request.form.get(f"body-{language['tag']}") or "")[: MAX_BODY + 1],
        }
        for language in _languages(trial_id)
    }
    try:
        published = news.publish_news(trial_id, kind=kind, texts=texts, by=str(signed.staff.id))
    except (InvalidDataError, ConflictError) as exc:
        status = 409 if isinstance(exc, ConflictError) else 422
        return _publications_page(
            trial_id, True, status, error=exc.translated(_locale()), form=request.form
        )
    return _publications_page(trial_id, True, 201, published=published)


def _insight_read(trial_id: str, action: Action) -> tuple[Signed, Insight]:
    """Return the member and the insight of the sites they may read (or the one asked)."""
    site = (request.args.get("site") or "")[:64] or None
    signed = _require(action, trial_id, site)
    sites = staff_service.site_filter(signed, action, trial_id, site)
    return signed, insight.study_insight(trial_id, sites=sites)


@bp.get("/studies/<trial_id>/insight")
def comprehension_insight(trial_id: str) -> Any:
    """Time per section, questions most often wrong and several attempts, per form version."""
    signed, found = _insight_read(trial_id, Action.VIEW)
    return _render(
        "insight.html",
        trial_id=trial_id,
        insight=found,
        site=(request.args.get("site") or "")[:64],
        site_options=_visible_sites(signed, Action.VIEW, trial_id),
        manage_forms=_can(signed, Action.MANAGE_FORMS, trial_id, None),
    )


@bp.get("/studies/<trial_id>/insight/export.csv")
def comprehension_insight_export(trial_id: str) -> Response:
    """Download the comprehension insight as CSV (small groups hidden)."""
    _signed, found = _insight_read(trial_id, Action.EXPORT)
    content = insight.to_csv(found)
    return Response(
        content,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{trial_id}-comprehension-insight.csv"'
        },
    )
