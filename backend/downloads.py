"""One way to hand a PDF to the browser or app, for the API and the staff pages."""

from __future__ import annotations

from flask import Response


def pdf_attachment(content: bytes, filename: str, *, cache_control: str | None = None) -> Response:
    """Return ``content`` as a PDF download named ``filename``.

    ``cache_control`` is for the signer's own copies, which a phone may keep a while;
    staff downloads leave it unset.
    """
    response = Response(content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if cache_control:
        response.headers["Cache-Control"] = cache_control
    return response
