"""Read a study folder into plain data, collecting every problem before failing.

Ethics committees and trial staff author studies as plain YAML files (see
docs/authoring-format.md). A problem report names the file, the line where
possible, and what to fix, so that one run of ``consentkit import`` lists all
of them instead of the first.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import marshmallow as ma
from babel import Locale, UnknownLocaleError

from consentkit.authoring.media import MediaFile, MediaProblem, read_media
from consentkit.authoring.schemas import FormSchema, LocaleContentSchema, StudySchema
from consentkit.authoring.yamlsource import line_of, load_yaml
from consentkit.enums import FormKind, VersionStatus
from consentkit.errors import InvalidDataError


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the folder."""

    file: str
    line: int | None
    message: str
    #: A machine-readable reason for problems clients act on (``media-missing``).
    code: str | None = None

    def __str__(self) -> str:
        """Render as ``file:line: message``, the form editors and CI understand."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class VersionBundle:
    """A form version as authored: metadata and content per locale (BCP 47)."""

    meta: dict[str, Any]
    content: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class FormBundle:
    """A form as authored."""

    meta: dict[str, Any]
    versions: list[VersionBundle] = field(default_factory=list)


@dataclass
class StudyBundle:
    """A whole study folder, validated."""

    study: dict[str, Any]
    forms: list[FormBundle]
    study_sha256: str
    #: The pictures the forms show, by SHA-256 (each section's ``media.sha256``).
    media: dict[str, MediaFile] = field(default_factory=dict)


def canonical_json(data: Any) -> str:
    """Serialise deterministically: the text whose SHA-256 identifies content."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def sha256_of(data: Any) -> str:
    """Return the hex SHA-256 of :func:`canonical_json` of ``data``."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def locale_from_filename(stem: str) -> str:
    """Turn an on-disk locale (``fr``, ``fr_BE``) into BCP 47 (``fr-BE``).

    Raises:
        ValueError: Babel does not know the locale.

    """
    try:
        parsed = Locale.parse(stem.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise ValueError(f"'{stem}' is not a known locale (use e.g. fr or fr_BE)") from exc
    return f"{parsed.language}-{parsed.territory}" if parsed.territory else parsed.language


@dataclass(frozen=True)
class _Loaded:
    """A YAML file as read: ``raw`` keeps line numbers, ``data`` is None when invalid."""

    raw: object
    data: dict[str, Any] | None


class _Collector:
    """Accumulates problems; loads and validates files against schemas."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        #: Pictures read so far, by ``ref``: each file is read and checked once.
        self.media_by_ref: dict[str, MediaFile | MediaProblem] = {}

    def media(self, ref: str) -> MediaFile | MediaProblem:
        if ref not in self.media_by_ref:
            try:
                self.media_by_ref[ref] = read_media(self.root, ref)
            except MediaProblem as problem:
                self.media_by_ref[ref] = problem
        return self.media_by_ref[ref]

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def add(self, path: Path, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.rel(path), line, message))

    def load(self, path: Path, schema: ma.Schema) -> _Loaded:
        """Read and validate one file, recording its problems."""
        if not path.is_file():
            self.add(path, None, "file is missing.")
            return _Loaded(None, None)
        try:
            raw = load_yaml(path, self.rel(path))
        except InvalidDataError as exc:
            self.problems.append(Problem(self.rel(path), None, exc.message.split(": ", 1)[-1]))
            return _Loaded(None, None)
        if not isinstance(raw, dict):
            self.add(path, 1, "expected a mapping of keys to values at the top of the file.")
            return _Loaded(raw, None)
        try:
            return _Loaded(raw, schema.load(raw))
        except ma.ValidationError as exc:
            for location, message in _flatten(exc.messages):
                line = line_of(raw, location)
                where = ".".join(str(step) for step in location) or "(file)"
                self.add(path, line, f"{where}: {message}")
            return _Loaded(raw, None)


def _flatten(messages: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[Any, str]]:
    if isinstance(messages, dict):
        found: list[tuple[Any, str]] = []
        for key, value in messages.items():
            step: tuple[str | int, ...] = () if key == "_schema" else (key,)
            found.extend(_flatten(value, prefix + step))
        return found
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(prefix, " ".join(messages))]
    if isinstance(messages, list):
        return [item for m in messages for item in _flatten(m, prefix)]
    return [(prefix, str(messages))]


@dataclass(frozen=True)
class _Structure:
    """What must be identical across the locales of one version (ids, codes, answers)."""

    sections: list[str]
    #: item id -> (code, required)
    items: dict[str, tuple[str, bool]]
    #: question id -> (option ids, correct option id)
    questions: dict[str, tuple[list[str], str]]
    #: section id -> media reference
    media: dict[str, str | None]
    roles: list[str]


def _structure(content: dict[str, Any]) -> _Structure:
    """Return the structure of one locale's content, to compare with the reference locale."""
    return _Structure(
        sections=[s["id"] for s in content["sections"]],
        items={i["id"]: (i["code"], i["required"]) for i in content["items"]},
        questions={
            q["id"]: ([o["id"] for o in q["options"]], q["correct"]) for q in content["questions"]
        },
        media={s["id"]: (s["media"] or {}).get("ref") for s in content["sections"]},
        roles=sorted(content["signature_meanings"]),
    )


def _compare_locales(
    c: _Collector, folder: Path, reference: str, contents: dict[str, dict[str, Any]]
) -> None:
    """Report every id that differs from the reference locale, naming file and id."""
    ref = _structure(contents[reference])
    for locale, content in contents.items():
        if locale == reference:
            continue
        path = folder / f"{locale.replace('-', '_')}.yaml"
        ours = _structure(content)
        ref_file = f"{reference.replace('-', '_')}.yaml"
        if ours.sections != ref.sections:
            missing = [s for s in ref.sections if s not in ours.sections]
            extra = [s for s in ours.sections if s not in ref.sections]
            detail = "; ".join(
                part
                for part in (
                    f"missing section(s) {', '.join(missing)}" if missing else "",
                    f"unknown section(s) {', '.join(extra)}" if extra else "",
                    "sections are in a different order" if not (missing or extra) else "",
                )
                if part
            )
            c.add(path, None, f"sections differ from {ref_file}: {detail}.")
        compared: tuple[tuple[str, Mapping[str, object], Mapping[str, object], str], ...] = (
            ("item", ref.items, ours.items, "a different code or required flag"),
            ("question", ref.questions, ours.questions, "different options or answer"),
        )
        for noun, theirs, mine, differs in compared:
            for key, spec in theirs.items():
                if key not in mine:
                    c.add(path, None, f"{noun} '{key}' is missing (it is in {ref_file}).")
                elif mine[key] != spec:
                    c.add(path, None, f"{noun} '{key}' has {differs} than in {ref_file}.")
            for key in mine.keys() - theirs.keys():
                c.add(path, None, f"{noun} '{key}' is not in {ref_file}.")
        if ours.media != ref.media:
            c.add(path, None, f"media references differ from {ref_file}.")
        if ours.roles != ref.roles:
            c.add(path, None, f"signature_meanings roles differ from {ref_file}.")


def _attach_media(c: _Collector, path: Path, raw: Any, content: dict[str, Any]) -> None:
    """Check each section's picture and fingerprint it in the content (what is signed)."""
    for index, section in enumerate(content["sections"]):
        media = section.get("media")
        if not media:
            continue
        found = c.media(media["ref"])
        if isinstance(found, MediaProblem):
            line = line_of(raw, ("sections", index, "media"))
            c.problems.append(Problem(c.rel(path), line, f"{found}.", found.code))
        else:
            media["sha256"] = found.sha256


def _read_version(
    c: _Collector, form_dir: Path, form: dict[str, Any], meta: dict[str, Any]
) -> VersionBundle:
    bundle = VersionBundle(meta=meta)
    vdir = form_dir / f"v{meta['version']}"
    if not vdir.is_dir():
        c.add(
            form_dir / "form.yaml",
            None,
            f"version {meta['version']} has no folder v{meta['version']}/.",
        )
        return bundle
    for path in sorted(vdir.glob("*.yaml")):
        try:
            locale = locale_from_filename(path.stem)
        except ValueError as exc:
            c.add(path, None, f"{exc}.")
            continue
        loaded = c.load(path, LocaleContentSchema())
        content = loaded.data
        if content is None:
            continue
        _attach_media(c, path, loaded.raw, content)
        missing_roles = [r for r in form["signer_roles"] if r not in content["signature_meanings"]]
        if missing_roles:
            c.add(path, None, f"signature_meanings has no text for: {', '.join(missing_roles)}.")
            continue
        comprehension = meta.get("comprehension")
        if comprehension and comprehension["pass_mark"] > len(content["questions"]):
            c.add(
                form_dir / "form.yaml",
                None,
                f"version {meta['version']}: pass_mark "
                f"{comprehension['pass_mark']} is more than the {len(content['questions'])} "
                f"questions in {c.rel(path)}.",
            )
        bundle.content[locale] = content
    if not bundle.content:
        c.add(vdir, None, "no language file (e.g. en.yaml) in this version folder.")
    elif len(bundle.content) > 1:
        reference = "en" if "en" in bundle.content else sorted(bundle.content)[0]
        _compare_locales(c, vdir, reference, bundle.content)
    return bundle


def _required_languages(study: dict[str, Any]) -> set[str]:
    """Languages every published version must have: those of the active sites."""
    return {lang for site in study["sites"] if site["active"] for lang in site["languages"]}


def _check_study(c: _Collector, path: Path, raw: Any, study: dict[str, Any]) -> None:
    codes = [s["code"] for s in study["sites"]]
    for code in {code for code in codes if codes.count(code) > 1}:
        c.add(path, None, f"site code {code} is used twice.")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    for index, site in enumerate(study["sites"]):
        try:
            ZoneInfo(site["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            c.add(
                path,
                line_of(raw, ("sites", index, "timezone")),
                f"site {site['code']}: unknown time zone '{site['timezone']}' "
                "(use e.g. Europe/Paris).",
            )


def _fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Identify the folder's state by each file's path, size and modification time."""
    return tuple(
        (str(path), stat.st_size, stat.st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
        for stat in (path.stat(),)
    )


#: The codes of picture problems, the first found naming the whole refusal.
_MEDIA_CODES = ("media-missing", "media-unsafe")

_PARSED: dict[Path, tuple[tuple[tuple[str, int, int], ...], StudyBundle]] = {}
#: Uploads unpack to a new temporary folder each time: keep the cache from growing with them.
_PARSED_MAX = 16


def read_study_folder(folder: Path | str) -> StudyBundle:
    """Read and validate a study folder (an unchanged valid folder is parsed once per process).

    Raises:
        InvalidDataError: anything is wrong; ``details["errors"]`` lists every
            problem as ``file:line: message``.
    """
    root = Path(folder).resolve()
    fingerprint = _fingerprint(root)
    cached = _PARSED.get(root)
    if cached is not None and cached[0] == fingerprint:
        return copy.deepcopy(cached[1])
    bundle = _read_study_folder(root)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[root] = (fingerprint, bundle)
    return copy.deepcopy(bundle)


def _read_study_folder(root: Path) -> StudyBundle:
    if not (root / "study.yaml").is_file():
        raise InvalidDataError(
            "%(folder)s is not a study folder: it has no study.yaml.",
            details={"errors": [f"{root}: no study.yaml"]},
            params={"folder": root},
        )
    c = _Collector(root)
    study_path = root / "study.yaml"
    loaded = c.load(study_path, StudySchema())
    raw_study, study = loaded.raw, loaded.data
    if study is not None:
        _check_study(c, study_path, raw_study, study)
    forms: list[FormBundle] = []
    form_dirs = sorted(p for p in (root / "forms").glob("*") if p.is_dir())
    if not form_dirs:
        c.add(root, None, "no forms: add forms/<form-id>/form.yaml.")
    for form_dir in form_dirs:
        form_path = form_dir / "form.yaml"
        loaded = c.load(form_path, FormSchema())
        raw_form, form = loaded.raw, loaded.data
        if form is None:
            continue
        if form["id"] != form_dir.name:
            c.add(
                form_path,
                line_of(raw_form, ("id",)),
                f"id '{form['id']}' must equal the folder name '{form_dir.name}'.",
            )
        numbers = [v["version"] for v in form["versions"]]
        if numbers != sorted(set(numbers)):
            c.add(
                form_path,
                line_of(raw_form, ("versions",)),
                "versions must be listed once each, in increasing order.",
            )
        if form["kind"] == FormKind.CHILD_ASSENT and study is not None:
            band_ids = {b["id"] for bands in study["age_bands"].values() for b in bands}
            if form["age_band"] not in band_ids:
                c.add(
                    form_path,
                    line_of(raw_form, ("age_band",)),
                    f"child-assent forms need an age_band from study.yaml "
                    f"({', '.join(sorted(band_ids)) or 'none defined'}).",
                )
        bundle = FormBundle(meta=form)
        for meta in form["versions"]:
            version = _read_version(c, form_dir, form, meta)
            bundle.versions.append(version)
            if study is not None and meta["status"] == VersionStatus.PUBLISHED and version.content:
                missing = sorted(_required_languages(study) - set(version.content))
                if missing:
                    c.add(
                        form_dir / f"v{meta['version']}",
                        None,
                        f"cannot publish version {meta['version']}: no text in "
                        f"{', '.join(missing)}, required by active sites.",
                    )
        known = {f"v{n}" for n in numbers}
        for stray in sorted(p.name for p in form_dir.glob("v*") if p.is_dir()):
            if stray not in known:
                c.add(
                    form_dir / stray, None, f"folder {stray} is not listed in form.yaml versions."
                )
        forms.append(bundle)
    if c.problems or study is None:
        errors = [str(p) for p in c.problems]
        codes = {p.code for p in c.problems}
        raise InvalidDataError(
            "The study folder has %(count)s problem(s):\n%(problems)s",
            details={"errors": errors},
            params={"count": len(errors), "problems": "\n".join(errors)},
            # A missing picture outranks an unsafe one; other problems keep invalid-data.
            code=next((code for code in _MEDIA_CODES if code in codes), None),
        )
    media = {m.sha256: m for m in c.media_by_ref.values() if isinstance(m, MediaFile)}
    return StudyBundle(study=study, forms=forms, study_sha256=sha256_of(study), media=media)
