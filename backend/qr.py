"""QR codes for authenticator enrolment and invitations, drawn as inline SVG (segno).

Inline, so a page never fetches an image from anywhere and the strict
Content-Security-Policy needs no exception.
"""

from __future__ import annotations

import segno


def qr_svg(uri: str) -> str:
    """Return ``uri`` as an inline SVG QR code."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, omitsize=True)
    return svg
