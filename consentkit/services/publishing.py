"""Publishing forms: import an uploaded study folder, approve a version, publish it.

The sponsor admin's path from authoring to what families read: a ``.zip`` of a
study folder (docs/authoring-format.md) is unpacked safely and imported
(:func:`consentkit.services.importing.import_study`), a draft is approved with
its ethics reference, and an approved version is published as a major or minor
change. Each step is one conditional update on the version's status (STYLE rule
3), so two admins cannot both approve or both publish, and the version keeps who
did it and when. A major change then asks every consented family to re-consent
(:func:`consentkit.services.tasks.create_reconsent_tasks`).
"""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath

from consentkit.clock import now_utc
from consentkit.enums import ChangeKind, VersionStatus
from consentkit.errors import ConflictError, InvalidDataError, NotFoundError
from consentkit.models.study import FormVersion
from consentkit.models.task import ConsentTask
from consentkit.services.forms import forget_catalogs, get_study
from consentkit.services.importing import ImportReport, import_study
from consentkit.services.tasks import create_reconsent_tasks, inform_of_minor_version

#: The largest study folder upload accepted (a zip); the web faces answer 413 beyond it.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: An upload may hold at most this many entries ...
MAX_FILES = 500
#: ... and unpack to at most this many bytes (a zip bomb is refused, not unpacked).
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class PublishResult:
    """A published version and how many re-consent tasks it created."""

    trial_id: str
    form_id: str
    version: int
    change: str
    effective_from: date
    reconsent_tasks: int
    #: Records whose families were told about a minor change (no new signature).
    informed: int = 0


def _unsafe_name(name: str) -> bool:
    if not name or "\\" in name or "\x00" in name or name.startswith("/"):
        return True
    if len(name) > 1 and name[1] == ":":  # a Windows drive letter
        return True
    return ".." in PurePosixPath(name).parts


def _zip_problems(archive: zipfile.ZipFile) -> list[str]:
    entries = archive.infolist()
    problems = []
    if len(entries) > MAX_FILES:
        problems.append(f"the archive has {len(entries)} entries; at most {MAX_FILES} are allowed")
    declared = 0
    for info in entries:
        if _unsafe_name(info.filename):
            problems.append(f"{info.filename}: names outside the study folder are not allowed")
        elif stat.S_ISLNK(info.external_attr >> 16):
            problems.append(f"{info.filename}: symbolic links are not allowed")
        declared += info.file_size
    if declared > MAX_UNPACKED_BYTES:
        problems.append(f"the archive unpacks to more than {MAX_UNPACKED_BYTES} bytes")
    return problems


def _extract(archive: zipfile.ZipFile, target: Path) -> None:
    """Unpack, counting the bytes actually written (a header may understate a size)."""
    written = 0
    for info in archive.infolist():
        path = target.joinpath(*PurePosixPath(info.filename).parts)
        if info.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, path.open("wb") as sink:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > MAX_UNPACKED_BYTES:
                    raise InvalidDataError(
                        "The archive is not a safe study folder.",
                        details={"errors": ["the archive unpacks to more than allowed"]},
                    )
                sink.write(chunk)


def _study_root(folder: Path) -> Path:
    """Return the folder holding study.yaml: the archive's top, or its one top folder."""
    if (folder / "study.yaml").is_file():
        return folder
    tops = [p for p in folder.iterdir() if p.name != "__MACOSX"]
    if len(tops) == 1 and tops[0].is_dir() and (tops[0] / "study.yaml").is_file():
        return tops[0]
    raise InvalidDataError(
        "The archive holds no study folder: study.yaml is missing.",
        details={"errors": ["study.yaml: file is missing."]},
    )


def import_upload(zip_bytes: bytes, *, trial_id: str, now: datetime | None = None) -> ImportReport:
    """Unpack a ``.zip`` of study ``trial_id``'s folder into a temporary folder and import it.

    Every check runs before the first write: the folder must be ``trial_id``'s
    (a sponsor admin of one study cannot write to another), and it may carry
    drafts only; :func:`approve_version` and :func:`publish_version` do the rest.

    Raises:
        InvalidDataError: not a zip, unsafe entries (absolute paths, ``..``, links,
            too many files or bytes), problems in the folder (``file:line: message``),
            another study's folder (``wrong-study``), or a version marked approved,
            published or retired that consentkit does not already hold so (``drafts-only``).
        ConflictError: the folder would change a published version.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise InvalidDataError(
            "The upload is not a zip archive.", details={"errors": ["not a zip archive"]}
        ) from exc
    with archive, tempfile.TemporaryDirectory(prefix="consentkit-upload-") as tmp:
        problems = _zip_problems(archive)
        if problems:
            raise InvalidDataError(
                "The archive is not a safe study folder.", details={"errors": problems}
            )
        try:
            _extract(archive, Path(tmp))
        except (zipfile.BadZipFile, RuntimeError, OSError, EOFError) as exc:
            raise InvalidDataError(
                "The upload is not a zip archive.", details={"errors": ["damaged zip archive"]}
            ) from exc
        return import_study(_study_root(Path(tmp)), now=now, trial_id=trial_id, drafts_only=True)


def get_version(trial_id: str, form_id: str, version: int) -> FormVersion:
    """Return a stored version of any status.

    Raises:
        NotFoundError: no such study, form or version.
    """
    get_study(trial_id)
    found: FormVersion | None = FormVersion.objects(
        trial_id=trial_id, form_id=form_id, version=version
    ).first()
    if found is None:
        raise NotFoundError(
            "Form %(form_id)s version %(version)s was not found in %(trial_id)s.",
            params={"form_id": form_id, "version": version, "trial_id": trial_id},
        )
    return found


def _refuse(found: FormVersion, expected: str) -> ConflictError:
    return ConflictError(
        "%(form_id)s v%(version)s is %(status)s; only a %(expected)s version can do this.",
        code="wrong-version-status",
        params={
            "form_id": found.form_id,
            "version": found.version,
            "status": found.status,
            "expected": expected,
        },
    )


def approve_version(
    trial_id: str,
    form_id: str,
    version: int,
    *,
    ethics_reference: str,
    by: str,
    now: datetime | None = None,
) -> FormVersion:
    """Mark a draft approved by the ethics committee, with its reference.

    Raises:
        NotFoundError: no such version.
        InvalidDataError: the ethics reference is empty.
        ConflictError: the version is not a draft.
    """
    now = now or now_utc()
    reference = (ethics_reference or "").strip()
    if not reference:
        raise InvalidDataError(
            "An ethics reference is required to approve a version.",
            details={"errors": {"ethics_reference": ["required"]}},
        )
    found = get_version(trial_id, form_id, version)
    updated = FormVersion.objects(id=found.id, status=VersionStatus.DRAFT).update_one(
        set__status=VersionStatus.APPROVED.value,
        set__ethics_reference=reference,
        set__approved_date=now.date(),
        set__approved_by=by,
        set__approved_at=now,
        set__updated_at=now,
    )
    if not updated:
        raise _refuse(get_version(trial_id, form_id, version), VersionStatus.DRAFT)
    forget_catalogs()
    return get_version(trial_id, form_id, version)


def publish_version(
    trial_id: str,
    form_id: str,
    version: int,
    *,
    change: str,
    effective_from: date,
    by: str,
    now: datetime | None = None,
) -> PublishResult:
    """Publish an approved version; a major change creates the re-consent tasks.

    A minor change asks no one to sign again: families who consented on an older
    version are told (:func:`consentkit.services.tasks.inform_of_minor_version`).

    Raises:
        NotFoundError: no such version.
        InvalidDataError: ``change`` is neither major nor minor.
        ConflictError: the version is not approved.
    """
    now = now or now_utc()
    if change not in (ChangeKind.MAJOR, ChangeKind.MINOR):
        raise InvalidDataError(
            "A change is either major or minor.",
            details={"errors": {"change": ["must be major or minor"]}},
        )
    found = get_version(trial_id, form_id, version)
    # Version 1 has nothing before it to change: it is stored as the initial version.
    stored = ChangeKind.INITIAL.value if found.version == 1 else str(change)
    updated = FormVersion.objects(id=found.id, status=VersionStatus.APPROVED).update_one(
        set__status=VersionStatus.PUBLISHED.value,
        set__change=stored,
        set__effective_from=effective_from,
        set__published_at=now,
        set__published_by=by,
        set__updated_at=now,
    )
    if not updated:
        raise _refuse(get_version(trial_id, form_id, version), VersionStatus.APPROVED)
    forget_catalogs()
    report = create_reconsent_tasks(trial_id, form_id, version, now=now)
    informed = inform_of_minor_version(trial_id, form_id, version, now=now)
    return PublishResult(
        trial_id=trial_id,
        form_id=form_id,
        version=version,
        change=stored,
        effective_from=effective_from,
        reconsent_tasks=len(report.created),
        informed=len(informed.created),
    )


@dataclass(frozen=True)
class ReconsentTask:
    """One open re-consent task of the worklist: who must sign which new version by when."""

    participant_code: str
    site_code: str
    form_id: str | None
    version: int | None
    due_date: date
    detail: str


def reconsent_worklist(trial_id: str, site_codes: list[str] | None = None) -> list[ReconsentTask]:
    """Return the open re-consent tasks of a study (or of ``site_codes``), soonest due first.

    Raises:
        NotFoundError: no such study.
    """
    get_study(trial_id)
    query = ConsentTask.objects(trial_id=trial_id, reason="reconsent", status="open")
    if site_codes is not None:
        query = query(site_code__in=site_codes)
    return [
        ReconsentTask(
            participant_code=task.participant_code,
            site_code=task.site_code,
            form_id=task.form_id,
            version=int(task.version) if task.version else None,
            due_date=task.due_date,
            detail=task.detail,
        )
        for task in query.order_by("due_date", "site_code", "participant_code")
    ]
