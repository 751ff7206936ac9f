"""flask-smorest ``Api`` and ``Blueprint`` with the project's conventions built in."""

from __future__ import annotations

import http

import flask_smorest
import marshmallow as ma
from flask import Response
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from backend.errors import PROBLEM_JSON, handle_http_exception

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
