"""Drawn signatures: validated vector strokes and their rendered image.

A signature pad (e.g. signature_pad in the browser) yields strokes, each a list
of points ``[x, y]`` or ``[x, y, t_ms]``. They are bounded so that a client
cannot store megabytes in the audit trail, and rendered to a small SVG that
PDFs and screens show. The strokes themselves are kept: they are the evidence.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from consentkit.errors import InvalidDataError

Strokes = list[list[list[float]]]

MAX_STROKES = 100
MAX_POINTS = 10_000
CANVAS = 4096.0


def validate_strokes(strokes: Any) -> None:
    """Refuse malformed, empty or oversized strokes.

    Raises:
        InvalidDataError: with code ``invalid-strokes`` and what is wrong.
    """

    def bad(why: str) -> InvalidDataError:
        return InvalidDataError(
            "The drawn signature is not valid: %(why)s.",
            code="invalid-strokes",
            params={"why": why},
        )

    if not isinstance(strokes, list) or not strokes:
        raise bad("no strokes")
    if len(strokes) > MAX_STROKES:
        raise bad(f"more than {MAX_STROKES} strokes")
    total = 0
    for stroke in strokes:
        if not isinstance(stroke, list) or not stroke:
            raise bad("an empty stroke")
        total += len(stroke)
        if total > MAX_POINTS:
            raise bad(f"more than {MAX_POINTS} points")
        for point in stroke:
            if (
                not isinstance(point, list | tuple)
                or len(point) not in (2, 3)
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
            ):
                raise bad("a point is not [x, y] or [x, y, t]")
            if not (0 <= point[0] <= CANVAS and 0 <= point[1] <= CANVAS):
                raise bad(f"a point is outside 0..{CANVAS:.0f}")
    if total < 2:
        raise bad("too few points to be a signature")


def render_svg(strokes: Strokes) -> str:
    """Render strokes as a compact SVG (numbers only: nothing user-written is embedded)."""
    xs = [p[0] for s in strokes for p in s]
    ys = [p[1] for s in strokes for p in s]
    pad = 4.0
    min_x, min_y = min(xs) - pad, min(ys) - pad
    width, height = max(xs) - min_x + pad, max(ys) - min_y + pad
    paths = []
    for stroke in strokes:
        points = " ".join(f"{p[0] - min_x:.1f},{p[1] - min_y:.1f}" for p in stroke)
        if len(stroke) == 1:
            points = f"{points} {points}"
        paths.append(f'<polyline points="{escape(points)}"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.1f} {height:.1f}" '
        'fill="none" stroke="#000" stroke-width="2" stroke-linecap="round" '
        f'stroke-linejoin="round">{"".join(paths)}</svg>'
    )
