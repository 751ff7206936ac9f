"""The enrolment page: enrol a participant and their family, with a preview of what the rules need.

The flat HTML form (``signers-<n>-<field>``) becomes the JSON API's ``EnrolSchema`` body and
the schema's errors go back next to the form's fields, so the page and the API validate alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import marshmallow as ma
from flask import redirect, request, url_for

from backend.schemas import EnrolSchema, PreviewSchema
from backend.web.staff import bp
from backend.web.staff.common import (
    _,
    _check_csrf,
    _field,
    _language_name,
    _locale,
    _render,
    _require,
    _visible_sites,
    _when,
)
from consentkit.enums import OtherParentAgreement, SignerRole
from consentkit.errors import (
    AuthenticationError,
    ConflictError,
    ConsentKitError,
    PermissionDeniedError,
    RateLimitedError,
)
from consentkit.i18n import N_
from consentkit.labels import label
from consentkit.policy.children import own_invitation_age
from consentkit.policy.phones import example_mobile
from consentkit.policy.roles import Action
from consentkit.services import enrolment, forms
from consentkit.services import staff as staff_service
from consentkit.services.staff import Signed

#: Empty signer rows on the enrolment form (two parents, the child, one spare).
SIGNER_ROWS = 4

#: Field errors of the enrolment form, in words a nurse can act on.
FIELD_ERRORS: dict[str, str] = {
    "code": N_("Use letters, digits, dots, dashes or underscores (at most 40)."),
    "site": N_("Choose a site."),
    "birth_date": N_("Enter the date of birth."),
    "preferred_language": N_("Choose a language from the list."),
    "role": N_("Choose parent or guardian, or participant."),
    "name": N_("Enter the name."),
    "email": N_("Enter a valid e-mail address."),
    "phone": N_("Enter the number with its country code, for example %(example)s."),
    "signers": N_("Register at least one family member."),
    "guardian_exception": N_(
        "Say which document or statement shows the exception, and how the other parent agreed "
        "where asked."
    ),
}


def _enrol_form() -> dict[str, Any]:
    """Return the enrolment form's values as typed (kept on every error)."""
    signers = []
    for index in range(SIGNER_ROWS):
        prefix = f"signers-{index}-"
        signers.append(
            {
                "role": _field(prefix + "role", 20),
                "name": _field(prefix + "name", 200),
                "email": _field(prefix + "email"),
                "phone": _field(prefix + "phone", 40),
                "preferred_language": _field(prefix + "preferred_language", 20),
            }
        )
    return {
        "code": _field("code", 60),
        "site": _field("site", 40),
        "birth_date": _field("birth_date", 20),
        "preferred_language": _field("preferred_language", 20),
        "investigator_id": _field("investigator_id", 40),
        "guardian_exception": _field("guardian_exception", 60),
        "guardian_exception_evidence": _field("guardian_exception_evidence", 2000),
        "other_parent_agreement": _field("other_parent_agreement", 20),
        "signers": signers,
    }


def _blank_enrol_form(sites: list[str]) -> dict[str, Any]:
    rows = [{"role": "guardian"}, {"role": "guardian"}, {"role": "participant"}, {"role": ""}]
    return {
        "code": "",
        "site": sites[0] if len(sites) == 1 else "",
        "birth_date": "",
        "preferred_language": "",
        "investigator_id": "",
        "guardian_exception": "",
        "guardian_exception_evidence": "",
        "other_parent_agreement": "",
        "signers": [
            {"name": "", "email": "", "phone": "", "preferred_language": "", **row}
            for row in rows[:SIGNER_ROWS]
        ],
    }


def _enrol_payload(values: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON API's enrolment body from the typed values (empty rows left out)."""
    payload: dict[str, Any] = {
        "code": values["code"],
        "site": values["site"],
        "birth_date": values["birth_date"],
        "signers": [],
    }
    if values["preferred_language"]:
        payload["preferred_language"] = values["preferred_language"]
    if values["investigator_id"]:
        payload["investigator_id"] = values["investigator_id"]
    if values["guardian_exception"]:
        payload["guardian_exception"] = {
            "code": values["guardian_exception"],
            "evidence": values["guardian_exception_evidence"],
        }
        if values["other_parent_agreement"]:
            payload["guardian_exception"]["other_parent_agreement"] = values[
                "other_parent_agreement"
            ]
    for row in values["signers"]:
        if not (row["name"] or row["email"] or row["phone"]):
            continue
        signer = {"role": row["role"], "name": row["name"]}
        for key in ("email", "phone", "preferred_language"):
            if row[key]:
                signer[key] = row[key]
        payload["signers"].append(signer)
    return payload


def _phone_example(trial_id: str, site_code: str | None) -> str:
    """Return an example mobile number of the chosen site's country (else the first site's)."""
    sites = forms.catalog(trial_id).study.sites
    site = next((s for s in sites if s.code == site_code), sites[0] if sites else None)
    return example_mobile(site.country if site is not None else "")


def _field_error(name: str, trial_id: str, values: dict[str, Any]) -> str:
    """Return a signer field's error in words; the phone's names the site's number format."""
    if name == "phone":
        return _(FIELD_ERRORS["phone"], example=_phone_example(trial_id, values["site"]))
    return _(FIELD_ERRORS.get(name, FIELD_ERRORS["name"]))


def _field_errors(
    messages: dict[str, Any], trial_id: str, values: dict[str, Any]
) -> dict[str, str]:
    """Map marshmallow's messages to translated words per form field name."""
    errors: dict[str, str] = {}
    rows = [
        i for i, row in enumerate(values["signers"]) if row["name"] or row["email"] or row["phone"]
    ]
    for key, detail in messages.items():
        if key == "signers" and isinstance(detail, dict):
            for index, fields in detail.items():
                if not isinstance(index, int) or not isinstance(fields, dict):
                    continue
                row = rows[index] if index < len(rows) else index
                for name in fields:
                    errors[f"signers-{row}-{name}"] = _field_error(name, trial_id, values)
        elif key == "guardian_exception":
            errors["guardian_exception_evidence"] = _(FIELD_ERRORS[key])
        elif key in FIELD_ERRORS:
            errors[key] = _(FIELD_ERRORS[key])
    return errors


def _preview(trial_id: str, values: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """Return what enrolment would need (or why it cannot say), for the values typed."""
    try:
        args = PreviewSchema().load({"site": values["site"], "birth_date": values["birth_date"]})
    except ma.ValidationError:
        return None, None
    if not args.get("site") or not args.get("birth_date"):
        return None, None
    _require(Action.ENROL, trial_id, args["site"])
    try:
        today = forms.site_today(trial_id, args["site"])
        result = enrolment.preview(
            trial_id, site_code=args["site"], birth_date=args["birth_date"], on=today
        )
    except ConsentKitError as exc:
        if isinstance(exc, PermissionDeniedError | AuthenticationError | RateLimitedError):
            raise
        return None, exc.translated(_locale())
    return _describe_preview(result), None


def _describe_preview(result: enrolment.Preview) -> dict[str, Any]:
    locale = _locale()
    req = result["requirements"]
    transition = req.get("next_transition")
    needs = result.get("signers_needed", {})
    return {
        "age": req.get("age"),
        "guardians": int(needs.get("guardian", 0)),
        "participant_signs": bool(needs.get("participant")),
        "guardian_rule": label("guardian_rule", req.get("guardian_rule", ""), locale),
        "minor_role": label("minor_role", req.get("minor_role", ""), locale),
        "age_band": req.get("age_band"),
        "competence_age": req.get("competence_age"),
        "forms": [
            {
                "form_id": f["form_id"],
                "version": f["version"],
                "kind": label("form_kind", f["kind"], locale),
            }
            for f in result["forms"]
        ],
        "missing_kinds": [label("form_kind", k, locale) for k in result["missing_form_kinds"]],
        "guardian_exceptions": [
            {
                "code": option["code"],
                "label": label("guardian_exception", option["code"], locale),
                "statement": _(option["statement"]),
                "needs_agreement": option["needs_agreement"],
            }
            for option in result.get("guardian_exceptions", [])
        ],
        "agreements": [
            (value.value, label("other_parent_agreement", value, locale))
            for value in OtherParentAgreement
        ],
        "next_transition": (
            {
                "date": _when(date.fromisoformat(transition["date"])),
                "reason": label("transition", transition["reason"], locale),
            }
            if transition
            else None
        ),
    }


@dataclass
class _Attempt:
    """What an enrolment post came to: the new code, or what to show next to the form."""

    code: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    error_code: str | None = None


@bp.route("/studies/<trial_id>/enrol", methods=["GET", "POST"])
def enrol(trial_id: str) -> Any:
    """Enrol a participant and their family; check what the rules need before saving."""
    signed = _require(Action.VIEW, trial_id)
    sites = _visible_sites(signed, Action.ENROL, trial_id)  # 403 when the member may not enrol
    catalog = forms.catalog(trial_id)
    active = {s.code for s in catalog.study.sites if s.is_active}
    sites = [s for s in sites if s in active] or sites
    values = _blank_enrol_form(sites)
    preview = None
    attempt = _Attempt()
    status = 200
    if request.method == "POST":
        _check_csrf(signed)
        values = _enrol_form()
        if values["site"] and values["site"] not in sites:
            raise PermissionDeniedError("You do not have access to this.")
        preview, attempt.message = _preview(trial_id, values)
        if request.form.get("action") == "enrol":
            attempt = _enrol(signed, trial_id, values)
            if attempt.code is not None:
                return redirect(
                    url_for(".participant", trial_id=trial_id, code=attempt.code, notice="enrolled")
                )
            status = 422
        elif preview is None:
            attempt.errors = {
                name: _(FIELD_ERRORS[name]) for name in ("site", "birth_date") if not values[name]
            }
            status = 422
    languages = sorted({tag for s in catalog.study.sites for tag in s.languages})
    investigators = (
        enrolment.site_investigators(trial_id, values["site"]) if values["site"] in sites else []
    )
    if not values["investigator_id"] and any(m.id == signed.staff.id for m in investigators):
        values["investigator_id"] = str(signed.staff.id)
    return _render(
        "enrol.html",
        status,
        trial_id=trial_id,
        values=values,
        sites=[
            {"code": s.code, "name": s.name, "phone_example": example_mobile(s.country)}
            for s in catalog.study.sites
            if s.code in sites
        ],
        phone_example=_phone_example(trial_id, values["site"] or next(iter(sites), None)),
        languages=[{"tag": t, "name": _language_name(t)} for t in languages],
        roles=[
            ("guardian", label("signer_role", SignerRole.GUARDIAN, _locale())),
            ("participant", label("signer_role", SignerRole.PARTICIPANT, _locale())),
        ],
        investigators=[{"staff_id": str(m.id), "name": m.name} for m in investigators],
        own_invitation_age=own_invitation_age(catalog.study.settings),
        preview=preview,
        errors=attempt.errors,
        error=attempt.message,
        error_code=attempt.error_code,
    )


def _enrol(signed: Signed, trial_id: str, values: dict[str, Any]) -> _Attempt:
    """Enrol from the typed values; return the new code, or field errors and a message."""
    try:
        args = EnrolSchema().load(_enrol_payload(values))
    except ma.ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {}
        return _Attempt(
            errors=_field_errors(messages, trial_id, values),
            message=_("Some of the information is missing or not valid."),
            error_code="invalid-data",
        )
    _require(Action.ENROL, trial_id, args["site"])
    try:
        result = enrolment.enrol_as(
            signed.staff,
            trial_id,
            code=args["code"],
            site_code=args["site"],
            birth_date=args["birth_date"],
            signers=enrolment.signer_entries(args["signers"]),
            actor=staff_service.acting_as(signed, trial_id, args["site"]),
            investigator_id=args.get("investigator_id"),
            preferred_language=args.get("preferred_language"),
            guardian_exception=enrolment.guardian_exception_from(
                args["guardian_exception"], recorded_by=signed.staff
            ),
        )
    except ConsentKitError as exc:
        if isinstance(exc, PermissionDeniedError | AuthenticationError | RateLimitedError):
            raise
        message = exc.translated(_locale())
        errors = {"code": message} if isinstance(exc, ConflictError) else {}
        if exc.code in ("investigator-required", "investigator-invalid"):
            errors = {"investigator_id": message}
        elif exc.code.startswith(("guardian-exception", "other-parent-agreement")):
            errors = {"guardian_exception": message}
        return _Attempt(errors=errors, message=message, error_code=exc.code)
    return _Attempt(code=result.participant.code)
