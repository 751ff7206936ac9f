"""flask-smorest ``Api`` and ``Blueprint`` with the project's conventions built in."""

from __future__ import annotations

import http
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import Response
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from backend.errors import FHIR_JSON, FHIR_PREFIX, PROBLEM_JSON, handle_http_exception

API_TITLE = "consentkit"
API_VERSION = "v1"


class ProblemSchema(ma.Schema):
    """Every error body (see backend/errors.py); documentation only."""

    code = ma.fields.Integer(metadata={"description": "HTTP status code"})
    status = ma.fields.String(metadata={"description": "HTTP reason phrase"})
    message = ma.fields.String(metadata={"description": "For people; may be translated"})
    error = ma.fields.String(metadata={"description": "Stable machine-readable code"})
    errors = ma.fields.Dict(metadata={"description": "Field-level details (422)"})


class Api(flask_smorest.Api):  # type: ignore[misc]
    """Api whose errors are problem+json bodies with a stable ``error`` code."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        """Document error responses as ``application/problem+json``, as they are served."""
        for status in http.HTTPStatus:
            response: dict[str, object] = {"description": status.phrase}
            content_type = PROBLEM_JSON if status >= 400 else self.DEFAULT_RESPONSE_CONTENT_TYPE
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, content_type)
            self.spec.components.response(status.name, response, lazy=True)
        default: dict[str, object] = {
            "description": "Default error response",
            "schema": self.ERROR_SCHEMA,
        }
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Render HTTP errors (including flask-smorest's 422) as problem bodies."""
        return handle_http_exception(error)


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """Project blueprint (a seam for cross-cutting docs such as 401/403 responses)."""


#: Where OperationOutcome is described in the OpenAPI document.
OPERATION_OUTCOME_REF = "#/components/schemas/OperationOutcome"
OPERATION_OUTCOME_SCHEMA = {
    "type": "object",
    "description": "A FHIR OperationOutcome: every error under /api/fhir (docs/fhir.md)",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {"type": "array", "items": {"type": "object"}},
    },
}


class FhirBlueprint(Blueprint):
    """A blueprint whose errors are documented as they are served there: OperationOutcome.

    ``backend.errors.problem`` answers every error under ``/api/fhir/`` as an
    OperationOutcome in ``application/fhir+json``; this rewrites each error response of
    these routes in the OpenAPI document (the 422 of argument parsing and the default
    error included) to say so.
    """

    def register_views_in_doc(self, api: Any, app: Any, spec: Any, **kwargs: Any) -> None:
        """Document the views, then point their error responses at OperationOutcome."""
        super().register_views_in_doc(api, app, spec, **kwargs)
        if "OperationOutcome" not in spec.components.schemas:
            spec.components.schema("OperationOutcome", OPERATION_OUTCOME_SCHEMA)
        content = {FHIR_JSON: {"schema": {"$ref": OPERATION_OUTCOME_REF}}}
        for path, operations in spec._paths.items():
            if not path.startswith(FHIR_PREFIX):
                continue
            for operation in operations.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                for code, response in list(operation["responses"].items()):
                    if code == "default" or str(code)[0] in "45":
                        status = 500 if code == "default" else int(code)
                        description = (
                            response.get("description")
                            if isinstance(response, dict) and "description" in response
                            else http.HTTPStatus(status).phrase
                        )
                        operation["responses"][code] = {
                            "description": description,
                            "content": content,
                        }
