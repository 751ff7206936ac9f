"""Importing a study authoring folder into the database.

Re-importing unchanged files changes nothing. Changing the text or approval of
a published version is refused: published consent text is what people signed
(STYLE rule 1), so a change needs a new version. The whole folder is checked
before anything is written, so a refused import leaves the database as it was.

A folder uploaded to one study's pages
(:func:`consentkit.services.publishing.import_upload`) is checked twice more
before any write: it must be that study's folder (``wrong-study``), and it may
carry drafts only (``drafts-only``): approving and publishing are their own
steps, which record who did them and when (21 CFR 11.10(e); ICH E6(R3) 4.2.2,
changes attributed). The operator's ``consentkit import`` of a sponsor's own
folder still loads approved and published versions as written there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from consentkit.authoring.reader import (
    FormBundle,
    StudyBundle,
    VersionBundle,
    read_study_folder,
    sha256_of,
)
from consentkit.clock import now_utc
from consentkit.enums import VersionStatus
from consentkit.errors import ConflictError, InvalidDataError
from consentkit.models.study import (
    VERSION_META_FIELDS,
    ConsentForm,
    FormMedia,
    FormVersion,
    Site,
    Study,
)
from consentkit.paths import data_dir
from consentkit.services.forms import forget_catalogs
from consentkit.services.tasks import create_reconsent_tasks, inform_of_minor_version

DEMO_STUDY_DIR = data_dir() / "demo-nbl-1"

_LOCKED = (VersionStatus.PUBLISHED, VersionStatus.RETIRED)
#: How far along its life a version is: a file behind the database leaves it as it is.
_STAGE = {
    VersionStatus.DRAFT: 0,
    VersionStatus.APPROVED: 1,
    VersionStatus.PUBLISHED: 2,
    VersionStatus.SUPERSEDED: 2,  # derived, never stored; here for completeness
    VersionStatus.RETIRED: 3,
}


@dataclass
class ImportReport:
    """What an import did, for people (``summary``) and programs (the lists)."""

    trial_id: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Return True when anything was written."""
        return bool(self.created or self.updated)

    def summary(self) -> str:
        """Return a one-line account of the import."""
        if not self.changed:
            return f"{self.trial_id}: already up to date ({len(self.unchanged)} items unchanged)"
        return (
            f"{self.trial_id}: {len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )


@dataclass
class _Plan:
    report: ImportReport
    #: An upload: no version may become approved, published or retired by this import.
    drafts_only: bool = False
    writes: list[Any] = field(default_factory=list)  # callables run after every check passed
    conflicts: list[str] = field(default_factory=list)
    not_drafts: list[str] = field(default_factory=list)
    newly_published: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class _VersionFields:
    """A version's approval and status details (``VERSION_META_FIELDS``), file or stored.

    The import compares the two to tell an unchanged version from a changed one,
    so both sides are read into this one shape.
    """

    status: str
    change: str | None
    change_summary: str | None
    ethics_reference: str | None
    approved_date: date | None
    effective_from: date | None
    comprehension: dict[str, Any] | None

    @classmethod
    def authored(cls, meta: dict[str, Any]) -> _VersionFields:
        """Read the fields from a version's entry in ``form.yaml``."""
        return cls(
            status=meta["status"],
            change=meta.get("change"),
            change_summary=meta.get("change_summary"),
            ethics_reference=meta.get("ethics_reference"),
            approved_date=meta.get("approved_date"),
            effective_from=meta.get("effective_from"),
            comprehension=meta.get("comprehension"),
        )

    @classmethod
    def stored(cls, version: FormVersion) -> _VersionFields:
        """Read the fields from the stored version (an empty comprehension is none)."""
        fields = {key: getattr(version, key) for key in VERSION_META_FIELDS}
        fields["comprehension"] = dict(version.comprehension) or None
        return cls(**fields)

    def as_fields(self) -> dict[str, Any]:
        """Return the fields as keyword arguments for the Document."""
        return {key: getattr(self, key) for key in VERSION_META_FIELDS}


def _plan_study(plan: _Plan, bundle: StudyBundle, now: datetime) -> None:
    data = bundle.study
    trial_id = data["trial_id"]
    existing = Study.objects(trial_id=trial_id).first()
    fields = {
        "eu_ct_number": data["eu_ct_number"],
        "title": data["title"],
        "sponsor": data["sponsor"],
        "trial_type": data["trial_type"],
        "contact_point": data["contact_point"],
        "sites": [
            Site(
                code=s["code"],
                name=s["name"],
                country=s["country"],
                timezone=s["timezone"],
                languages=s["languages"],
                is_active=s["active"],
            )
            for s in data["sites"]
        ],
        "age_bands": data["age_bands"],
        "rule_overrides": data["rule_overrides"],
        "settings": data["settings"],
        "source_sha256": bundle.study_sha256,
        "updated_at": now,
    }
    label = f"study {trial_id}"
    if existing is None:
        plan.report.created.append(label)
        plan.writes.append(lambda: Study(trial_id=trial_id, created_at=now, **fields).save())
    elif existing.source_sha256 == bundle.study_sha256:
        plan.report.unchanged.append(label)
    else:
        plan.report.updated.append(label)
        plan.writes.append(lambda: existing.modify(**fields))


def _plan_form(plan: _Plan, trial_id: str, form: FormBundle, now: datetime) -> None:
    meta = form.meta
    form_id = meta["id"]
    wanted = {
        "kind": meta["kind"],
        "age_band": meta["age_band"],
        "signer_roles": meta["signer_roles"],
    }
    existing = ConsentForm.objects(trial_id=trial_id, form_id=form_id).first()
    label = f"form {form_id}"
    if existing is None:
        plan.report.created.append(label)
        plan.writes.append(
            lambda: ConsentForm(trial_id=trial_id, form_id=form_id, created_at=now, **wanted).save()
        )
    elif {k: getattr(existing, k) for k in wanted} == wanted:
        plan.report.unchanged.append(label)
    elif FormVersion.objects(trial_id=trial_id, form_id=form_id, status__in=_LOCKED).count():
        plan.conflicts.append(
            f"forms/{form_id}/form.yaml: kind, age_band and signer_roles cannot change once a "
            "version is published; create a new form instead."
        )
    else:
        plan.report.updated.append(label)
        plan.writes.append(lambda: existing.modify(**wanted))
    # Which methods may sign changes no published text: a record keeps what it opened with.
    methods = list(meta.get("signature_methods") or [])
    if existing is None or list(existing.signature_methods or []) != methods:
        plan.writes.append(
            lambda: ConsentForm.objects(trial_id=trial_id, form_id=form_id).update_one(
                set__signature_methods=methods
            )
        )
    for version in form.versions:
        _plan_version(plan, trial_id, form_id, version, now)


def _plan_media(plan: _Plan, bundle: StudyBundle, now: datetime) -> None:
    """Store each picture not stored yet (by fingerprint: a stored one never changes)."""
    trial_id = bundle.study["trial_id"]
    stored = set(
        FormMedia.objects(trial_id=trial_id, sha256__in=list(bundle.media)).scalar("sha256")
    )
    for sha256, media in sorted(bundle.media.items()):
        label = f"picture {media.ref}"
        if sha256 in stored:
            plan.report.unchanged.append(label)
            continue
        plan.report.created.append(label)
        plan.writes.append(
            lambda media=media: FormMedia(
                trial_id=trial_id,
                sha256=media.sha256,
                ref=media.ref,
                content_type=media.content_type,
                data=media.data,
                created_at=now,
            ).save()
        )


def _states_only_what_is_stored(
    existing: FormVersion | None, same_text: bool, same_meta: bool, status: str
) -> bool:
    """Return True when a file's non-draft status repeats what consentkit already holds.

    An upload may say ``approved`` or ``published`` for a version consentkit
    already approved or published with the same text (the sponsor's folder
    catching up); it may not make it so, nor change the recorded approval.
    """
    if existing is None or not same_text:
        return False
    if existing.status == status == VersionStatus.APPROVED:
        return same_meta
    return _STAGE[VersionStatus(existing.status)] >= _STAGE[VersionStatus(status)]


def _plan_version(
    plan: _Plan, trial_id: str, form_id: str, bundle: VersionBundle, now: datetime
) -> None:
    number = bundle.meta["version"]
    label = f"{form_id} v{number}"
    hashes = {locale: sha256_of(content) for locale, content in bundle.content.items()}
    meta = _VersionFields.authored(bundle.meta)
    published_at = now if meta.status in _LOCKED else None
    existing = FormVersion.objects(trial_id=trial_id, form_id=form_id, version=number).first()
    same_text = existing is not None and dict(existing.content_sha256) == hashes
    same_meta = existing is not None and _VersionFields.stored(existing) == meta
    if (
        plan.drafts_only
        and meta.status != VersionStatus.DRAFT
        and not _states_only_what_is_stored(existing, same_text, same_meta, meta.status)
    ):
        plan.not_drafts.append(
            f"forms/{form_id}/form.yaml: version {number} is marked {meta.status}, but an "
            "upload may carry drafts only. Write status: draft, then approve and publish it "
            "in consentkit."
        )
        return
    if meta.status == VersionStatus.PUBLISHED and (
        existing is None or existing.status != VersionStatus.PUBLISHED
    ):
        plan.newly_published.append((form_id, number))
    if existing is None:
        plan.report.created.append(label)
        plan.writes.append(
            lambda: FormVersion(
                trial_id=trial_id,
                form_id=form_id,
                version=number,
                content=bundle.content,
                content_sha256=hashes,
                published_at=published_at,
                created_at=now,
                updated_at=now,
                **meta.as_fields(),
            ).save()
        )
        return
    if same_text and same_meta:
        plan.report.unchanged.append(label)
        return
    if (
        same_text
        and meta.status in (VersionStatus.DRAFT, VersionStatus.APPROVED)
        and _STAGE[VersionStatus(existing.status)] > _STAGE[VersionStatus(meta.status)]
    ):
        # Approved or published in consentkit (the staff pages) since the folder was
        # written: the database is ahead, not in conflict. Nothing to change (an
        # approval recorded with who and when is not undone by an older file).
        plan.report.unchanged.append(f"{label} (already {existing.status} in consentkit)")
        return
    if existing.status in _LOCKED:
        retiring = (
            existing.status == VersionStatus.PUBLISHED
            and meta.status == VersionStatus.RETIRED
            and same_text
        )
        if retiring:
            plan.report.updated.append(label)
            plan.writes.append(
                lambda: _conditional_update(
                    existing, [VersionStatus.PUBLISHED], status="retired", updated_at=now
                )
            )
            return
        changed = sorted(
            locale
            for locale in hashes.keys() | existing.content_sha256.keys()
            if hashes.get(locale) != existing.content_sha256.get(locale)
        )
        what = f"text in {', '.join(changed)}" if changed else "approval or status details"
        plan.conflicts.append(
            f"forms/{form_id}/v{number}: version {number} is {existing.status} and cannot "
            f"change ({what} differs from what was published). Put the new text in a new "
            f"version v{number + 1} and classify it as major or minor."
        )
        return
    # Whoever approved the old text in consentkit did not approve the new one: forget who.
    approval = {"approved_by": None, "approved_at": None} if not same_text else {}
    plan.report.updated.append(label)
    plan.writes.append(
        lambda: _conditional_update(
            existing,
            [VersionStatus.DRAFT, VersionStatus.APPROVED],
            content=bundle.content,
            content_sha256=hashes,
            published_at=published_at,
            updated_at=now,
            **approval,
            **meta.as_fields(),
        )
    )


def _conditional_update(version: FormVersion, allowed: list[str], **changes: Any) -> None:
    """Update only while the stored status is still one of ``allowed`` (no lost publish)."""
    updated = FormVersion.objects(id=version.id, status__in=allowed).update_one(
        **{f"set__{key}": value for key, value in changes.items()}
    )
    if not updated:
        raise ConflictError(
            "%(form_id)s v%(version)s changed while importing; import again.",
            params={"form_id": version.form_id, "version": version.version},
        )


def import_study(
    folder: Path | str,
    *,
    now: datetime | None = None,
    trial_id: str | None = None,
    drafts_only: bool = False,
) -> ImportReport:
    """Validate a study folder and load it; unchanged files are a no-op.

    ``trial_id`` is the study the folder must be for (an upload to that study's
    pages): checked before the database is read or written. With
    ``drafts_only`` (every upload), a version may be created or changed only as
    a draft: approving and publishing are :func:`consentkit.services.publishing.approve_version`
    and :func:`~consentkit.services.publishing.publish_version`, which record who and when.

    Raises:
        InvalidDataError: the folder has problems (each named with file and line); it is
            for another study than ``trial_id`` (``wrong-study``); with ``drafts_only``, it
            would approve, publish or retire a version (``drafts-only``).
        ConflictError: the folder would change a published version.

    """
    now = now or now_utc()
    bundle = read_study_folder(folder)
    found = bundle.study["trial_id"]
    if trial_id is not None and found != trial_id:
        raise InvalidDataError(
            "This folder is for study %(other)s, not %(trial_id)s.",
            code="wrong-study",
            params={"other": found, "trial_id": trial_id},
        )
    plan = _Plan(report=ImportReport(trial_id=found), drafts_only=drafts_only)
    _plan_study(plan, bundle, now)
    # Pictures first: a version is never readable before the pictures it shows.
    _plan_media(plan, bundle, now)
    for form in bundle.forms:
        _plan_form(plan, found, form, now)
    if plan.not_drafts:
        raise InvalidDataError(
            "Nothing was imported: an upload may carry drafts only. Approve and publish "
            "each version in consentkit.",
            code="drafts-only",
            details={"errors": plan.not_drafts},
        )
    if plan.conflicts:
        raise ConflictError(
            "Nothing was imported:\n%(conflicts)s",
            details={"errors": plan.conflicts},
            params={"conflicts": "\n".join(plan.conflicts)},
        )
    for write in plan.writes:
        write()
    if plan.report.changed:
        forget_catalogs()
    for form_id, version in plan.newly_published:
        create_reconsent_tasks(plan.report.trial_id, form_id, version, now=now)
        inform_of_minor_version(plan.report.trial_id, form_id, version, now=now)
    return plan.report


def import_demo_study(*, now: datetime | None = None) -> ImportReport:
    """Import the shipped fictional demo study DEMO-NBL-1 (idempotent)."""
    return import_study(DEMO_STUDY_DIR, now=now)
