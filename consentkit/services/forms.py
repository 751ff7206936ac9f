"""Reading studies and forms: what a participant must see, in which language.

Published content never changes, so the rendered form of a (version, locale)
is cached in memory by its content SHA-256: that cache can never serve stale
text. The catalog of a study (its sites, forms and version metadata) changes
only when a study folder is imported; each process keeps it for
``CONSENTKIT_CATALOG_TTL_S`` seconds (default 5), so a newly imported version
is offered at most that long after the import, and a request needs no
database round trip at all. Signing never reads this cache: it re-reads the
version and checks the content hash (consentkit.services.ceremony).
"""

from __future__ import annotations

import base64
import functools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypedDict

from consentkit import settings
from consentkit.clock import now_utc
from consentkit.enums import VersionStatus
from consentkit.errors import NotFoundError
from consentkit.labels import label
from consentkit.models.study import (
    VERSION_META_FIELDS,
    ConsentForm,
    FormMedia,
    FormVersion,
    Site,
    Study,
)
from consentkit.policy.age import local_date
from consentkit.policy.locales import language_option, negotiate_locale
from consentkit.policy.versions import display_status, version_in_force
from consentkit.rendering.markdown import to_html

_META_FIELDS = ("trial_id", "form_id", "version", *VERSION_META_FIELDS, "content_sha256")

#: Statuses of a version whose text has been published: what anyone may read. Superseded
#: is derived from published (consentkit.policy.versions); retired text was once in use.
PUBLIC_STATUSES = frozenset(
    {VersionStatus.PUBLISHED.value, VersionStatus.SUPERSEDED.value, VersionStatus.RETIRED.value}
)


class SiteSummary(TypedDict):
    """A study site as the API describes it, with the languages it offers."""

    code: str
    name: str
    country: str
    timezone: str
    is_active: bool
    languages: list[dict[str, str]]


class StudySummary(TypedDict):
    """The public description of a study (``GET /studies``): its JSON is the contract."""

    trial_id: str
    eu_ct_number: str | None
    title: str
    sponsor: str
    trial_type: str
    contact_point: dict[str, Any]
    sites: list[SiteSummary]


class VersionMeta(TypedDict):
    """One version of a form in a listing: its derived state on a date, never its text."""

    version: int
    status: str
    status_label: str
    change: str | None
    requires_reconsent: bool
    change_summary: str | None
    ethics_reference: str | None
    approved_date: date | None
    effective_from: date | None
    locales: list[str]
    content_sha256: dict[str, str]


class FormSummary(TypedDict):
    """A form of a study with its versions (``GET /studies/<id>/forms``)."""

    form_id: str
    kind: str
    kind_label: str
    age_band: str | None
    signer_roles: list[str]
    version_in_force: int | None
    versions: list[VersionMeta]


class RoleLabel(TypedDict):
    """A signer role with its label in the reader's language."""

    role: str
    label: str


class SectionView(TypedDict):
    """A section of consent text, its Markdown body rendered to safe HTML."""

    id: str
    title: str
    summary: str | None
    html: str
    media: dict[str, Any] | None


class ItemView(TypedDict):
    """A consent item (a yes/no choice) as the reader sees it."""

    id: str
    code: str
    required: bool
    text: str


class QuestionView(TypedDict):
    """A comprehension question without its answer (the quiz is checked on the server)."""

    id: str
    text: str
    options: list[dict[str, Any]]


class RenderedText(TypedDict):
    """The display form of one version's text in one language (cached by its hash)."""

    title: str
    summary: str | None
    sections: list[SectionView]
    items: list[ItemView]
    questions: list[QuestionView]
    signature_meanings: dict[str, str]


class FormView(TypedDict):
    """A version of a form in one language, as every reader gets it.

    A TypedDict because this JSON is the point: the API sends it as it is
    (byte-identical for the same version and language, which the app's ETag
    relies on), the pages read the same keys.
    """

    form_id: str
    kind: str
    kind_label: str
    age_band: str | None
    #: The band's reading style from study.yaml (``pictorial`` for the 6-9 assent), or None.
    age_band_style: str | None
    version: int
    change: str | None
    effective_from: date | None
    ethics_reference: str | None
    comprehension: dict[str, Any] | None
    signer_roles: list[RoleLabel]
    locale: str
    language: dict[str, str]
    available_languages: list[dict[str, str]]
    content_sha256: str
    title: str
    summary: str | None
    sections: list[SectionView]
    items: list[ItemView]
    questions: list[QuestionView]
    signature_meanings: dict[str, str]


def is_public(version: FormVersion) -> bool:
    """Return True when the version's text was published (drafts and approvals are not)."""
    return version.status in PUBLIC_STATUSES


@dataclass(frozen=True)
class Catalog:
    """A study with its forms and version metadata (content excluded), as cached."""

    study: Study
    forms: dict[str, ConsentForm]
    versions: list[FormVersion]
    loaded_at: float
    #: (form, version, locale) -> the view :func:`version_view` built; lives as long as the
    #: catalog, so it is rebuilt at most once per TTL and never outlives a re-import.
    views: dict[tuple[str, int, str], FormView] = field(default_factory=dict)
    #: (form, version) -> its metadata: the form-text read's lookup, built on first use.
    by_key: dict[tuple[str, int], FormVersion] = field(default_factory=dict)

    def version_of(self, form_id: str, version: int) -> FormVersion | None:
        """Return a version's metadata by its form and number (one dict lookup when warm)."""
        if not self.by_key and self.versions:
            self.by_key.update(((v.form_id, v.version), v) for v in self.versions)
        return self.by_key.get((form_id, version))


_CATALOGS: dict[str, Catalog] = {}
_CATALOG_LOCK = threading.Lock()


def catalog(trial_id: str) -> Catalog:
    """Return the (briefly cached) catalog of a study.

    Raises:
        NotFoundError: no such study.
    """
    cached = _CATALOGS.get(trial_id)
    if cached is not None and time.monotonic() - cached.loaded_at < settings.catalog_ttl_s():
        return cached
    study = get_study(trial_id)
    fresh = Catalog(
        study=study,
        forms={f.form_id: f for f in ConsentForm.objects(trial_id=trial_id)},
        versions=_versions(trial_id),
        loaded_at=time.monotonic(),
    )
    with _CATALOG_LOCK:
        _CATALOGS[trial_id] = fresh
    return fresh


def forget_catalogs() -> None:
    """Drop cached catalogs (after an import in this process)."""
    with _CATALOG_LOCK:
        _CATALOGS.clear()


def get_study(trial_id: str) -> Study:
    """Return the study.

    Raises:
        NotFoundError: no such study.
    """
    study: Study | None = Study.objects(trial_id=trial_id).first()
    if study is None:
        raise NotFoundError("Study %(trial_id)s was not found.", params={"trial_id": trial_id})
    return study


def list_studies() -> list[Study]:
    """Return all studies, by trial id."""
    return list(Study.objects.order_by("trial_id"))


def study_summary(study: Study, locale: str | None = None) -> StudySummary:
    """Return the JSON-able description of a study with its sites and languages."""
    return {
        "trial_id": study.trial_id,
        "eu_ct_number": study.eu_ct_number,
        "title": study.title,
        "sponsor": study.sponsor,
        "trial_type": study.trial_type,
        "contact_point": study.contact_point,
        "sites": [
            {
                "code": site.code,
                "name": site.name,
                "country": site.country,
                "timezone": site.timezone,
                "is_active": site.is_active,
                "languages": [language_option(tag).to_dict() for tag in site.languages],
            }
            for site in study.sites
        ],
    }


def _versions(trial_id: str, form_id: str | None = None) -> list[FormVersion]:
    query = FormVersion.objects(trial_id=trial_id)
    if form_id is not None:
        query = query(form_id=form_id)
    return list(query.only(*_META_FIELDS).order_by("form_id", "version"))


def list_forms(
    trial_id: str,
    *,
    on: date,
    locale: str | None = None,
    include_unpublished: bool = False,
) -> list[FormSummary]:
    """Return the forms of a study with their versions and their derived states on ``on``.

    By default only published text is listed (a form with none is left out);
    ``include_unpublished`` adds drafts and approved versions, for the sponsor
    admin's pages only.

    Raises:
        NotFoundError: no such study.
    """
    get_study(trial_id)
    versions = _versions(trial_id)
    if not include_unpublished:
        versions = [v for v in versions if is_public(v)]
    result: list[FormSummary] = []
    for form in ConsentForm.objects(trial_id=trial_id).order_by("form_id"):
        own = [v for v in versions if v.form_id == form.form_id]
        if not own and not include_unpublished:
            continue
        current = version_in_force(own, on)
        result.append(
            {
                "form_id": form.form_id,
                "kind": form.kind,
                "kind_label": label("form_kind", form.kind, locale),
                "age_band": form.age_band,
                "signer_roles": list(form.signer_roles),
                "version_in_force": current.version if current else None,
                "versions": [_version_meta(v, own, on, locale) for v in own],
            }
        )
    return result


def _version_meta(
    version: FormVersion, siblings: Sequence[FormVersion], on: date, locale: str | None
) -> VersionMeta:
    state = display_status(version, siblings, on)
    return {
        "version": version.version,
        "status": state,
        "status_label": label("version_status", state, locale),
        "change": version.change,
        "requires_reconsent": version.change == "major",
        "change_summary": version.change_summary,
        "ethics_reference": version.ethics_reference,
        "approved_date": version.approved_date,
        "effective_from": version.effective_from,
        "locales": sorted(version.content_sha256),
        "content_sha256": dict(version.content_sha256),
    }


def media_data_urls(trial_id: str, content: dict[str, Any]) -> dict[str, str]:
    """Return the pictures of one language's content as ``data:`` URLs, by SHA-256.

    Pages and PDFs show a picture inline: nothing is fetched from anywhere, and the
    stored bytes are the ones checked at import (consentkit.authoring.media).
    """
    wanted = [
        s["media"]["sha256"] for s in content["sections"] if (s.get("media") or {}).get("sha256")
    ]
    if not wanted:
        return {}
    return {
        m.sha256: f"data:{m.content_type};base64,{base64.b64encode(m.data).decode('ascii')}"
        for m in FormMedia.objects(trial_id=trial_id, sha256__in=wanted).only(
            "sha256", "content_type", "data"
        )
    }


def media_view(media: dict[str, Any] | None, pictures: dict[str, str]) -> dict[str, Any] | None:
    """Return a section's picture as the reader gets it: ``{alt, src}`` (src None if absent)."""
    if not media:
        return None
    return {"alt": media["alt"], "src": pictures.get(media.get("sha256") or "")}


@functools.lru_cache(maxsize=512)
def _rendered(sha256: str, version_id: str, locale: str) -> RenderedText:
    """Return the display form of one version's content in one locale (cached by hash)."""
    doc = FormVersion.objects(id=version_id).only(f"content.{locale}", "trial_id").first()
    content = doc.content[locale]
    pictures = media_data_urls(doc.trial_id, content)
    return {
        "title": content["title"],
        "summary": content.get("summary"),
        "sections": [
            {
                "id": s["id"],
                "title": s["title"],
                "summary": s.get("summary"),
                "html": to_html(s["body"]),
                "media": media_view(s.get("media"), pictures),
            }
            for s in content["sections"]
        ],
        # Correct answers and explanations stay on the server: the quiz is checked there.
        "items": [
            {"id": i["id"], "code": i["code"], "required": i["required"], "text": i["text"]}
            for i in content["items"]
        ],
        "questions": [
            {"id": q["id"], "text": q["text"], "options": q["options"]}
            for q in content["questions"]
        ],
        "signature_meanings": content["signature_meanings"],
    }


def rendered_text(version: FormVersion, locale: str) -> RenderedText:
    """Return one version's text in one language as pages show it (cached by its hash)."""
    return _rendered(version.content_sha256[locale], str(version.id), locale)


def band_style(form: ConsentForm) -> str | None:
    """Return the style study.yaml gives the form's age band (any country's list), or None."""
    if not form.age_band:
        return None
    bands = catalog(form.trial_id).study.age_bands or {}
    return next(
        (
            band.get("style")
            for country_bands in bands.values()
            for band in country_bands
            if band.get("id") == form.age_band
        ),
        None,
    )


def form_view(
    form: ConsentForm,
    version: FormVersion,
    *,
    requested: str | None,
    accept_language: str | None,
    site_default: str | None,
) -> FormView:
    """Return the display form of a version in the reader's best language.

    The text comes from the cache keyed by its content hash, so it is rendered
    once per (version, locale) however many readers ask.
    """
    available = sorted(version.content_sha256)
    locale = negotiate_locale(
        available, requested=requested, accept_language=accept_language, site_default=site_default
    )
    assert locale is not None  # a stored version always has at least one locale
    sha = version.content_sha256[locale]
    return {
        "form_id": form.form_id,
        "kind": form.kind,
        "kind_label": label("form_kind", form.kind, locale),
        "age_band": form.age_band,
        "age_band_style": band_style(form),
        "version": version.version,
        "change": version.change,
        "effective_from": version.effective_from,
        "ethics_reference": version.ethics_reference,
        "comprehension": dict(version.comprehension) or None,
        "signer_roles": [
            {"role": role, "label": label("signer_role", role, locale)}
            for role in form.signer_roles
        ],
        "locale": locale,
        "language": language_option(locale).to_dict(),
        "available_languages": [language_option(tag).to_dict() for tag in available],
        "content_sha256": sha,
        **_rendered(sha, str(version.id), locale),
    }


def form_version_content(
    trial_id: str,
    form_id: str,
    version: int,
    *,
    requested: str | None = None,
    accept_language: str | None = None,
    site_code: str | None = None,
) -> FormView:
    """Return one published version of a form in the best language for the reader.

    ``site_code`` makes that site's default language the fallback. This is the
    public read: a draft or approved version is not found.

    Raises:
        NotFoundError: no such study, site, form or version.
    """
    site_default = site_of(catalog(trial_id).study, site_code).languages[0] if site_code else None
    return version_view(
        trial_id,
        form_id,
        version,
        requested=requested,
        accept_language=accept_language,
        default_locale=site_default,
    )


def version_view(
    trial_id: str,
    form_id: str,
    version: int,
    *,
    requested: str | None = None,
    accept_language: str | None = None,
    default_locale: str | None = None,
    include_unpublished: bool = False,
) -> FormView:
    """Like :func:`form_version_content`, from the cached catalog (no database read if warm).

    ``default_locale`` is the last preference before the first available language
    (for a record: the language it was opened in, from the site's default).
    ``include_unpublished`` shows a draft or approved version too: only for the
    sponsor admin's preview, which checks who is asking.
    The returned view is shared by every caller until the catalog is refreshed:
    read it, never change it (callers may key caches on its identity).

    Raises:
        NotFoundError: no such form or version, or (without ``include_unpublished``)
            a version not published yet; the message is the same for both.
    """

    def find(cached: Catalog) -> FormVersion | None:
        found = cached.version_of(form_id, version)
        return found if found is not None and (include_unpublished or is_public(found)) else None

    cached = catalog(trial_id)
    stored = find(cached)
    if form_id not in cached.forms or stored is None:
        with _CATALOG_LOCK:  # imported or published since this process cached it: look again
            _CATALOGS.pop(trial_id, None)
        cached = catalog(trial_id)
        stored = find(cached)
    form = cached.forms.get(form_id)
    if form is None or stored is None:
        raise NotFoundError(
            "Form %(form_id)s version %(version)s was not found in %(trial_id)s.",
            params={"form_id": form_id, "version": version, "trial_id": trial_id},
        )
    locale = negotiate_locale(
        sorted(stored.content_sha256),
        requested=requested,
        accept_language=accept_language,
        site_default=default_locale,
    )
    assert locale is not None  # a stored version always has at least one locale
    key = (form_id, version, locale)
    view = cached.views.get(key)
    if view is None:
        view = form_view(form, stored, requested=locale, accept_language=None, site_default=None)
        cached.views[key] = view
    return view


def site_of(study: Study, code: str) -> Site:
    """Return a site of the study.

    Raises:
        NotFoundError: the study has no such site.
    """
    site = study.site(code)
    if site is None:
        raise NotFoundError(
            "Site %(site_code)s is not a site of %(trial_id)s.",
            params={"site_code": code, "trial_id": study.trial_id},
        )
    return site


def site_today(trial_id: str, site_code: str, *, now: datetime | None = None) -> date:
    """Return today's date at a study site, in the site's time zone.

    Ages, birth dates in the future and what enrolment needs are decided on the
    site's calendar day, not the UTC one (a child born today in Sydney is not
    born tomorrow), so every face asks this one function.

    Raises:
        NotFoundError: no such study, or the study has no such site.
    """
    return local_date(now or now_utc(), site_of(catalog(trial_id).study, site_code).timezone)
