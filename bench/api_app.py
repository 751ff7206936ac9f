"""The real app plus a bare JSON endpoint, served together by gunicorn for bench/api.py."""

from __future__ import annotations

from backend import create_app

app = create_app()


@app.get("/bare")
def bare() -> dict[str, str]:
    """Return the smallest JSON answer Flask can give: the yardstick."""
    return {"status": "ok"}
