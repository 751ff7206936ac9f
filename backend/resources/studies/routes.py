"""Studies, their forms, and what a participant must read and sign."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from backend.extensions import Blueprint
from backend.jsonio import json_response
from backend.resources.studies.schemas import (
    FormContentQueryArgsSchema,
    FormContentSchema,
    FormSummarySchema,
    ParticipantFormsQueryArgsSchema,
    ParticipantFormsSchema,
    StudySchema,
)
from consentkit.clock import today_utc
from consentkit.services import forms as form_service
from consentkit.services.requirements import participant_forms

blp = Blueprint("studies", __name__, url_prefix="/studies", description="Studies and forms")


@blp.route("")
class StudiesViews(MethodView):
    """All studies."""

    @blp.response(200, StudySchema(many=True))
    def get(self) -> list[form_service.StudySummary]:
        """List studies."""
        return [form_service.study_summary(s) for s in form_service.list_studies()]


@blp.route("/<trial_id>")
class StudyByIdViews(MethodView):
    """One study."""

    @blp.response(200, StudySchema)
    def get(self, trial_id: str) -> form_service.StudySummary:
        """Get a study with its sites and languages."""
        return form_service.study_summary(form_service.get_study(trial_id))


@blp.route("/<trial_id>/forms")
class FormsViews(MethodView):
    """Forms of a study."""

    @blp.response(200, FormSummarySchema(many=True))
    def get(self, trial_id: str) -> list[form_service.FormSummary]:
        """List a study's forms with every version and its state today."""
        locale = request.accept_languages.best
        return form_service.list_forms(trial_id, on=today_utc(), locale=locale)


@blp.route("/<trial_id>/forms/<form_id>/versions/<int:version>")
class FormVersionByIdViews(MethodView):
    """One version of a form."""

    @blp.arguments(FormContentQueryArgsSchema, location="query")
    @blp.response(200, FormContentSchema)
    def get(self, args: dict[str, Any], trial_id: str, form_id: str, version: int) -> Any:
        """Get a form version in the best language (lang, then Accept-Language)."""
        return form_service.form_version_content(
            trial_id,
            form_id,
            version,
            requested=args.get("lang"),
            accept_language=request.headers.get("Accept-Language"),
            site_code=args.get("site"),
        )


@blp.route("/<trial_id>/participant-forms")
class ParticipantFormsViews(MethodView):
    """What a participant must read and sign."""

    @blp.arguments(ParticipantFormsQueryArgsSchema, location="query")
    @blp.response(200, ParticipantFormsSchema)
    def get(self, args: dict[str, Any], trial_id: str) -> Any:
        """Resolve the forms for a birth date and site: policy, versions in force, language."""
        return json_response(
            participant_forms(
                trial_id,
                site_code=args["site"],
                birth_date=args["birth_date"],
                on=args.get("on") or today_utc(),
                requested=args.get("lang"),
                accept_language=request.headers.get("Accept-Language"),
            )
        )
