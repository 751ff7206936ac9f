"""With the database gone, API requests fail fast with 503, well inside a worker timeout.

gunicorn kills a worker that takes 30 s (its default ``--timeout``): a request
waiting longer for the database ends as WORKER TIMEOUT, not as a problem body
the client can act on. Every wait on the database is bounded by
``CONSENTKIT_DB_TIMEOUT_MS`` (consentkit.db.connect).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from backend import create_app


@pytest.mark.parametrize("how", ["killed", "frozen"])
def test_api_route_answers_503_quickly_while_the_database_is_down(
    db_server_process: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setenv("CONSENTKIT_DB_TIMEOUT_MS", "1000")
    server = db_server_process.start()
    app = create_app(
        {
            "TESTING": True,
            "MONGODB_URI": server.uri,
            "MONGODB_DB": "timeouts",
            "DATA_DIR": str(tmp_path),
        }
    )
    client = app.test_client()
    assert client.get("/api/v1/studies").status_code == 200  # a pooled connection now

    if how == "killed":
        server.kill()
    else:  # accepts connections, never answers: a frozen process or a vanished host
        assert server.process is not None
        server.process.send_signal(signal.SIGSTOP)
        time.sleep(0.5)  # the signal is delivered asynchronously
    try:
        started = time.monotonic()
        response = client.get("/api/v1/studies")
        waited = time.monotonic() - started
    finally:
        if how == "frozen":
            server.process.send_signal(signal.SIGCONT)

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["error"] == "database-unavailable"
    assert int(response.headers["Retry-After"]) > 0
    # 1 s to find no server; about 3 x 1 s for a frozen one (the query, then the retry).
    assert waited < 6, f"waited {waited:.1f} s"
