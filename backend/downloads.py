"""One way to hand a file to the browser or app, for the API and the staff pages."""

from __future__ import annotations

from flask import Response, stream_with_context

from consentkit.services.dashboard import Export


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


def export_attachment(export: Export) -> Response:
    """Return a worklist export as a download; CSV streams while the request context lives.

    The name comes from :func:`consentkit.services.dashboard.export_filename`,
    already safe inside the quoted ``filename``.
    """
    content = export.content
    return Response(
        content if isinstance(content, bytes) else stream_with_context(content),
        mimetype=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )
