"""Every error is a problem body with a stable machine code; nothing leaks on a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from flask.views import MethodView

from backend import errors as http_errors
from backend.extensions import Blueprint
from consentkit import errors as ck


def _app_with_route(app: Any, exc: Exception) -> Any:
    blp = Blueprint("boom", __name__)

    @blp.route("/boom")
    class Boom(MethodView):
        def get(self) -> None:
            raise exc

    app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(blp)
    return app.test_client()


def test_unknown_route_is_a_problem_body(client: Any) -> None:
    response = client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == 404
    assert body["status"] == "Not Found"
    assert body["error"] == "not-found"
    assert body["message"]


def test_wrong_method_is_405_problem(client: Any) -> None:
    response = client.post("/api/v1/health")

    assert response.status_code == 405
    assert response.get_json()["error"] == "method-not-allowed"


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (ck.NotFoundError("no such form"), 404),
        (ck.InvalidDataError("bad"), 422),
        (ck.ConflictError("published"), 409),
        (ck.EligibilityError("too young"), 409),
        (ck.DatabaseUnavailableError("down"), 503),
    ],
)
def test_domain_error_maps_to_status_with_its_code(app: Any, exc: Exception, status: int) -> None:
    response = _app_with_route(app, exc).get("/boom")

    assert response.status_code == status
    assert response.get_json()["error"] == exc.code  # type: ignore[attr-defined]


def test_unexpected_exception_is_500_without_details(app: Any) -> None:
    response = _app_with_route(app, RuntimeError("secret database password")).get("/boom")

    assert response.status_code == 500
    body = response.get_json()
    assert body["error"] == "internal-error"
    assert "secret" not in response.get_data(as_text=True)


def test_every_domain_error_class_has_a_status() -> None:
    for cls in [ck.ConsentKitError, *ck.ConsentKitError.__subclasses__()]:
        assert cls in http_errors.STATUS_BY_ERROR, cls


def test_request_id_is_echoed_or_generated(client: Any) -> None:
    given = client.get("/api/v1/health", headers={"X-Request-ID": "abc-123"})
    hostile_id = "<script>" + "x" * 100
    hostile = client.get("/api/v1/health", headers={"X-Request-ID": hostile_id})

    assert given.headers["X-Request-ID"] == "abc-123"
    assert hostile.headers["X-Request-ID"] != hostile_id
    assert len(hostile.headers["X-Request-ID"]) == 32
