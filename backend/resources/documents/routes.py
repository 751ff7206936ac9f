"""Verifying sealed consent PDFs: anyone gets genuine or not; staff get the audit comparison."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from backend.auth import client_ip
from backend.auth.staff import current_staff
from backend.extensions import Blueprint
from backend.resources.documents.schemas import VerificationSchema
from consentkit.errors import InvalidDataError
from consentkit.services import verification

blp = Blueprint("documents", __name__, url_prefix="/documents", description="Sealed documents")

#: The largest PDF accepted for verification; more answers 413 (backend.intake).
MAX_PDF_BYTES = 20 * 1024 * 1024


@blp.route("/verify")
class VerifyViews(MethodView):
    """Check a PDF someone holds."""

    @blp.response(200, VerificationSchema)
    @blp.alt_response(413, description="The PDF is larger than 20 MiB")
    @blp.alt_response(429, description="Too many checks from this address")
    @blp.doc(
        requestBody={
            "required": True,
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        security=[{}, {"bearerAuth": []}],
    )
    def post(self) -> dict[str, Any]:
        """Verify a consent PDF: genuine or not by its seal; staff also get the audit comparison.

        Anyone may ask; the answer then comes from the PDF alone (``ok``, ``seal``).
        With a staff bearer token for the participant's study and site, the
        attached record is also compared with the audit trail (``record_matches``,
        ``problems``, ``record``). Rate-limited per client address.
        """
        if request.mimetype != "application/pdf":
            raise InvalidDataError(
                "Send the PDF as the request body with Content-Type application/pdf.",
                code="not-a-pdf",
            )
        verification.count_check(client_ip())
        staff = current_staff() if request.headers.get("Authorization") else None
        pdf = request.get_data(cache=False)  # 413 past MAX_PDF_BYTES, chunked or not
        if staff is None:
            return verification.verify_seal(pdf).to_dict()
        return verification.verify_for_staff(pdf, staff.grants).to_dict()
