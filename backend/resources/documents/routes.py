"""Verifying sealed consent PDFs."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from backend.extensions import Blueprint
from backend.resources.documents.schemas import VerificationSchema
from consentkit.errors import InvalidDataError
from consentkit.services import documents as document_service

blp = Blueprint("documents", __name__, url_prefix="/documents", description="Sealed documents")

MAX_PDF_BYTES = 20 * 1024 * 1024


@blp.route("/verify")
class VerifyViews(MethodView):
    """Check a PDF someone holds."""

    @blp.response(200, VerificationSchema)
    @blp.doc(
        requestBody={
            "required": True,
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    )
    def post(self) -> dict[str, Any]:
        """Verify a consent PDF: seal, integrity, and match with the audit trail."""
        if request.mimetype != "application/pdf":
            raise InvalidDataError(
                "Send the PDF as the request body with Content-Type application/pdf.",
                code="not-a-pdf",
            )
        if (request.content_length or 0) > MAX_PDF_BYTES:
            raise InvalidDataError("The PDF is larger than 20 MiB.", code="too-large")
        return document_service.verify_pdf(request.get_data(cache=False)).to_dict()
