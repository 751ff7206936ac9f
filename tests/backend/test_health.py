"""The health endpoint tells load balancers and people whether the service can work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backend import create_app


def test_health_reports_database_round_trip(client: Any) -> None:
    response = client.get("/api/v1/health")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["database"]["latency_ms"] >= 0


def test_health_answers_503_while_database_is_down_and_recovers(
    db_server_process: Any, tmp_path: Path
) -> None:
    server = db_server_process.start()
    app = create_app(
        {
            "TESTING": True,
            "MONGODB_URI": server.uri,
            "MONGODB_DB": "health",
            "DATA_DIR": str(tmp_path),
        }
    )
    client = app.test_client()
    assert client.get("/api/v1/health").status_code == 200

    server.kill()
    down = client.get("/api/v1/health")

    assert down.status_code == 503
    assert down.mimetype == "application/problem+json"
    assert down.get_json()["error"] == "database-unavailable"
    assert down.headers["Retry-After"]

    server.start()  # same port, same data directory, stale pid file left by the kill
    assert client.get("/api/v1/health").status_code == 200
