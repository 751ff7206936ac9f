"""flask-smorest ``Api`` and ``Blueprint`` with the project's conventions built in."""

from __future__ import annotations

import flask_smorest
import marshmallow as ma
from flask import Response
from werkzeug.exceptions import HTTPException

from backend.errors import handle_http_exception

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

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Render HTTP errors (including flask-smorest's 422) as problem bodies."""
        return handle_http_exception(error)


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """Project blueprint (a seam for cross-cutting docs such as 401/403 responses)."""
