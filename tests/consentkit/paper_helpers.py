"""A paper consent's scan for tests of the paper path, in the library and over HTTP."""

from __future__ import annotations

import io

from pypdf import PdfWriter


def scan_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
