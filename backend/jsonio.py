"""JSON output: ISO 8601 dates everywhere, and a fast path for large read-only bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Response, current_app
from flask.json.provider import DefaultJSONProvider


class IsoJSONProvider(DefaultJSONProvider):
    """Flask's provider, but dates as ISO 8601 (Flask's default is an HTTP date string)."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        """Serialise dates and datetimes as ISO 8601; defer the rest to Flask."""
        if isinstance(o, datetime):
            return o.isoformat()
        if isinstance(o, date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def json_response(data: Any, status: int = 200) -> Response:
    """Serialise ``data`` directly, skipping a schema dump.

    For large read-only bodies whose shape the service already guarantees; the
    route still declares its response schema, so the OpenAPI document is unchanged
    (flask-smorest passes a ready Response through).
    """
    response: Response = current_app.response_class(
        current_app.json.dumps(data), status=status, mimetype="application/json"
    )
    return response
