"""Logs never hold a setup token, an invitation code or the database password."""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from consentkit import db as database

SECRET = "SETUPTOKEN0123456789abcdef"


@pytest.fixture
def app_log(app: Any) -> Iterator[io.StringIO]:
    """What the app's log handler writes, in text format."""
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_consentkit", False))
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    handler.setStream(previous)  # type: ignore[attr-defined]


def test_dev_server_request_lines_hide_setup_tokens_and_invitation_codes(
    app: Any, app_log: io.StringIO
) -> None:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        for path in (
            f"/staff/setup/{SECRET}",
            f"/api/v1/staff/setup/{SECRET}",
            "/family/invite/INVITE2345",
        ):
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(base + path, timeout=10).close()
    finally:
        server.shutdown()
        thread.join(timeout=10)

    logged = app_log.getvalue()
    assert "/staff/setup/[redacted]" in logged  # the request lines were written
    assert SECRET not in logged
    assert "INVITE2345" not in logged


def test_a_logged_database_uri_has_no_password(app: Any, app_log: io.StringIO) -> None:
    logging.getLogger("consentkit.test").warning(
        "cannot reach %s", "mongodb://consentkit:hunter2pw@db.example:27017/ck"
    )

    logged = app_log.getvalue()
    assert "hunter2pw" not in logged
    assert "mongodb://consentkit:[redacted]@db.example:27017/ck" in logged


def test_redacted_uri_keeps_everything_but_the_password() -> None:
    uri = "mongodb://consentkit:p%40ss@db1.example:27017,db2.example/ck?replicaSet=rs0"

    assert (
        database.redacted_uri(uri)
        == "mongodb://consentkit:***@db1.example:27017,db2.example/ck?replicaSet=rs0"
    )
    assert database.redacted_uri("mongodb://127.0.0.1:27117/") == "mongodb://127.0.0.1:27117/"
