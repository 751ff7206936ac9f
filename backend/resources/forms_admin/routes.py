"""The sponsor admin's form publishing: import, preview, approve, publish; re-consent worklist.

Import, preview, approve and publish concern the study as a whole
(``Action.MANAGE_FORMS``, sponsor admin only); the re-consent worklist is a read,
limited to the member's sites like every other staff read.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from backend.auth.staff import require
from backend.extensions import Blueprint
from backend.resources.forms_admin.schemas import (
    ApproveSchema,
    ImportReportSchema,
    PreviewArgsSchema,
    PublishResultSchema,
    PublishSchema,
    ReconsentArgsSchema,
    ReconsentTaskSchema,
    VersionStateSchema,
)
from backend.resources.studies.schemas import FormContentSchema
from consentkit.errors import InvalidDataError
from consentkit.models.study import FormVersion
from consentkit.policy.roles import Action
from consentkit.services import forms, publishing
from consentkit.services import staff as staff_service

blp = Blueprint(
    "forms_admin",
    __name__,
    url_prefix="/staff/studies",
    description="Publishing forms: import, preview, approve, publish; re-consent worklist",
)

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
ZIP_TYPES = ("application/zip", "application/x-zip-compressed")


def read_upload() -> bytes:
    """Return the request body, refusing (413) more than ``publishing.MAX_UPLOAD_BYTES``."""
    if (request.content_length or 0) > publishing.MAX_UPLOAD_BYTES:
        raise RequestEntityTooLarge()
    data = request.stream.read(publishing.MAX_UPLOAD_BYTES + 1)
    if len(data) > publishing.MAX_UPLOAD_BYTES:
        raise RequestEntityTooLarge()
    return bytes(data)


def version_state(version: FormVersion) -> dict[str, Any]:
    """Return the status fields of a version (after approving or publishing it)."""
    return {
        "form_id": version.form_id,
        "version": version.version,
        "status": version.status,
        "change": version.change,
        "ethics_reference": version.ethics_reference,
        "approved_date": version.approved_date,
        "effective_from": version.effective_from,
        "locales": version.locales,
    }


@blp.route("/<trial_id>/forms/import")
class ImportViews(MethodView):
    """Load a study folder."""

    @blp.response(200, ImportReportSchema)
    @blp.doc(
        security=SECURITY,
        requestBody={
            "required": True,
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
    )
    def post(self, trial_id: str) -> dict[str, Any]:
        """Import a zip of this study's folder as drafts (all checked first; nothing published)."""
        require(Action.MANAGE_FORMS, trial_id)
        if request.mimetype not in ZIP_TYPES:
            raise InvalidDataError(
                "Send the study folder as a zip with Content-Type application/zip.",
                code="not-a-zip",
            )
        data = read_upload()
        report = publishing.import_upload(data, trial_id=trial_id)
        return {
            "trial_id": report.trial_id,
            "changed": report.changed,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
        }


@blp.route("/<trial_id>/forms/<form_id>/versions/<int:version>/preview")
class PreviewViews(MethodView):
    """Read a version before families do."""

    @blp.arguments(PreviewArgsSchema, location="query")
    @blp.response(200, FormContentSchema)
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], trial_id: str, form_id: str, version: int) -> Any:
        """Preview a version of any status in one of its languages (lang)."""
        require(Action.MANAGE_FORMS, trial_id)
        return forms.version_view(
            trial_id, form_id, version, requested=args.get("lang"), include_unpublished=True
        )


@blp.route("/<trial_id>/forms/<form_id>/versions/<int:version>/approve")
class ApproveViews(MethodView):
    """Record the ethics approval of a draft."""

    @blp.arguments(ApproveSchema)
    @blp.response(200, VersionStateSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, form_id: str, version: int) -> Any:
        """Approve a draft with its ethics reference (409 when it is not a draft)."""
        signed = require(Action.MANAGE_FORMS, trial_id)
        approved = publishing.approve_version(
            trial_id,
            form_id,
            version,
            ethics_reference=args["ethics_reference"],
            by=str(signed.staff.id),
        )
        return version_state(approved)


@blp.route("/<trial_id>/forms/<form_id>/versions/<int:version>/publish")
class PublishViews(MethodView):
    """Make an approved version the one families read."""

    @blp.arguments(PublishSchema)
    @blp.response(200, PublishResultSchema)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any], trial_id: str, form_id: str, version: int) -> Any:
        """Publish an approved version as major or minor; major creates re-consent tasks."""
        signed = require(Action.MANAGE_FORMS, trial_id)
        result = publishing.publish_version(
            trial_id,
            form_id,
            version,
            change=args["change"],
            effective_from=args["effective_from"],
            by=str(signed.staff.id),
        )
        return {
            "form_id": result.form_id,
            "version": result.version,
            "change": result.change,
            "effective_from": result.effective_from,
            "reconsent_tasks": result.reconsent_tasks,
            "informed": result.informed,
        }


@blp.route("/<trial_id>/reconsent")
class ReconsentViews(MethodView):
    """Who must consent again after a major version."""

    @blp.arguments(ReconsentArgsSchema, location="query")
    @blp.response(200, ReconsentTaskSchema(many=True))
    @blp.doc(security=SECURITY)
    def get(self, args: dict[str, Any], trial_id: str) -> Any:
        """List open re-consent tasks at the member's sites (or one site), soonest due first."""
        signed = require(Action.VIEW, trial_id)
        site = args.get("site")
        sites = staff_service.site_filter(signed, Action.VIEW, trial_id, site)
        return publishing.reconsent_worklist(trial_id, site_codes=sites)
