"""The HTTP edge: body size limits per route class (chunked bodies too) and trusted proxies."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from backend import create_app
from backend.intake import JSON_MAX_BYTES, UPLOAD_ROUTES
from consentkit.policy.roles import StaffRole
from tests.backend.staff_helpers import auth, make_member, token_for

PROBLEM = "application/problem+json"
REDEEM = "/api/v1/auth/invitations/redeem"
MIB = 1024 * 1024


def _json_of(size: int) -> bytes:
    """A syntactically valid JSON body of ``size`` bytes."""
    head = b'{"code": "ABCDEFGHJK", "pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def _chunked(client: Any, path: str, body: bytes, content_type: str, **kw: Any) -> Any:
    """POST ``body`` with ``Transfer-Encoding: chunked`` and no Content-Length.

    ``wsgi.input_terminated`` is what gunicorn and werkzeug's server set for a
    chunked body: it tells werkzeug the stream ends by itself.
    """
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": content_type, **kw},
        environ_overrides={"wsgi.input_terminated": True},
    )


def _too_large(response: Any) -> None:
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.mimetype == PROBLEM
    assert response.get_json()["error"] == "payload-too-large"


def test_json_body_over_one_mib_is_413_before_parsing(client: Any) -> None:
    response = client.post(
        REDEEM, data=_json_of(JSON_MAX_BYTES + 1), content_type="application/json"
    )

    _too_large(response)


def test_chunked_json_body_over_one_mib_is_413(client: Any) -> None:
    _too_large(_chunked(client, REDEEM, _json_of(2 * MIB), "application/json"))


def test_chunked_json_body_under_the_limit_is_parsed(client: Any) -> None:
    response = _chunked(client, REDEEM, b'{"code": "ABCDEFGHJK"}', "application/json")

    assert response.status_code == 401  # read and parsed: an unknown code


def test_chunked_pdf_over_the_verify_limit_is_413(client: Any) -> None:
    body = b"%PDF-1.7\n" + b"0" * (20 * MIB)

    _too_large(_chunked(client, "/api/v1/documents/verify", body, "application/pdf"))


def test_verify_over_twenty_mib_is_413_not_422(client: Any) -> None:
    body = b"%PDF-1.7\n" + b"0" * (20 * MIB)

    response = client.post("/api/v1/documents/verify", data=body, content_type="application/pdf")

    _too_large(response)


def test_upload_routes_take_more_than_the_json_limit(client: Any, demo_study: Any) -> None:
    admin = make_member(client, "admin@example.org", StaffRole.SPONSOR_ADMIN)
    headers = auth(token_for(client.application, admin))
    base = "/api/v1/staff/studies/DEMO-NBL-1/forms/import"

    pdf = client.post(
        "/api/v1/documents/verify", data=b"%PDF" + b"0" * (2 * MIB), content_type="application/pdf"
    )
    zipped = _chunked(client, base, b"PK" + b"0" * (2 * MIB), "application/zip", **headers)

    assert pdf.status_code == 200
    assert pdf.get_json()["ok"] is False
    assert zipped.status_code == 422  # read whole, then refused as not a zip


def test_every_upload_route_exists(app: Any) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}

    assert set(UPLOAD_ROUTES) <= endpoints


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The app behind werkzeug's HTTP server (it de-chunks bodies as gunicorn does)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_chunked_json_over_http_is_413_problem(live_server: str) -> None:
    connection = http.client.HTTPConnection(live_server, timeout=30)
    body = _json_of(2 * MIB)
    # The server may answer and close before the client has sent everything.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        connection.request(
            "POST",
            REDEEM,
            body=(body[i : i + 64 * 1024] for i in range(0, len(body), 64 * 1024)),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
    response = connection.getresponse()

    assert response.status == 413
    assert response.getheader("Content-Type") == PROBLEM
    assert json.loads(response.read())["error"] == "payload-too-large"
    connection.close()


# ---------------------------------------------------------------- trusted proxies


def _app_behind(hops: int, mongodb_uri: str, db_name: str, tmp_path: Path) -> Any:
    return create_app(
        {
            "TESTING": True,
            "MONGODB_URI": mongodb_uri,
            "MONGODB_DB": db_name,
            "DATA_DIR": str(tmp_path),
            "TRUSTED_PROXIES": hops,
        }
    )


def _redeem_from(client: Any, forwarded_for: str) -> int:
    code = "".join(secrets.choice("ABCDEFGHJKMNPQRSTUVWXYZ23456789") for _ in range(10))
    response = client.post(
        REDEEM,
        json={"code": code},
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the proxy
    )
    return int(response.status_code)


def test_behind_one_trusted_proxy_clients_are_limited_separately(
    clean_db: Any, mongodb_uri: str, db_name: str, tmp_path: Path
) -> None:
    client = _app_behind(1, mongodb_uri, db_name, tmp_path).test_client()
    for _ in range(20):
        assert _redeem_from(client, "203.0.113.7") == 401

    assert _redeem_from(client, "203.0.113.7") == 429
    assert _redeem_from(client, "198.51.100.9") == 401  # another family, not locked out


def test_without_trusted_proxies_x_forwarded_for_is_ignored(
    clean_db: Any, mongodb_uri: str, db_name: str, tmp_path: Path
) -> None:
    client = _app_behind(0, mongodb_uri, db_name, tmp_path).test_client()
    for index in range(20):
        assert _redeem_from(client, f"203.0.113.{index}") == 401

    assert _redeem_from(client, "198.51.100.9") == 429  # all one address: the caller's own


def test_trusted_proxies_take_only_the_last_hop(
    clean_db: Any, mongodb_uri: str, db_name: str, tmp_path: Path
) -> None:
    """A client cannot pick its address by sending its own X-Forwarded-For to the proxy."""
    client = _app_behind(1, mongodb_uri, db_name, tmp_path).test_client()
    for index in range(20):
        assert _redeem_from(client, f"192.0.2.{index}, 203.0.113.7") == 401

    assert _redeem_from(client, "192.0.2.99, 203.0.113.7") == 429


def test_trusted_proxies_must_be_a_small_number() -> None:
    from backend.config import load_config
    from consentkit.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="CONSENTKIT_TRUSTED_PROXIES"):
        load_config(environ={"CONSENTKIT_ENV": "testing", "CONSENTKIT_TRUSTED_PROXIES": "all"})
    assert load_config(environ={"CONSENTKIT_ENV": "testing"})["TRUSTED_PROXIES"] == 0
    hops = load_config(environ={"CONSENTKIT_ENV": "testing", "CONSENTKIT_TRUSTED_PROXIES": "2"})
    assert hops["TRUSTED_PROXIES"] == 2
