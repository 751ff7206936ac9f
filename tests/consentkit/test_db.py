"""The embedded database runs as one process per data directory and keeps its data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from consentkit import db as database


def test_resolve_uri_prefers_environment_over_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTKIT_MONGODB_URI", "mongodb://a.example,b.example/?replicaSet=rs0")
    monkeypatch.setenv("CONSENTKIT_MONGODB_DB", "trial")

    assert database.resolve_uri() == "mongodb://a.example,b.example/trial?replicaSet=rs0"


def test_resolve_uri_defaults_to_embedded_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENTKIT_MONGODB_URI", raising=False)
    monkeypatch.setenv("CONSENTKIT_EMBEDDED_PORT", "27999")

    assert database.resolve_uri(db_name="ck") == "mongodb://127.0.0.1:27999/ck"


def test_resolve_uri_keeps_a_database_named_in_the_uri() -> None:
    assert database.resolve_uri("mongodb://h:1/named", db_name="other") == "mongodb://h:1/named"


def test_connected_datetimes_come_back_timezone_aware(clean_db: Any) -> None:
    from datetime import UTC, datetime

    clean_db["probe"].insert_one({"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)})

    assert clean_db["probe"].find_one()["at"].tzinfo is not None


def test_db_serve_refuses_a_second_server_on_the_same_data_dir(db_server_process: Any) -> None:
    server = db_server_process.start()

    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "consentkit",
            "db",
            "serve",
            "--data-dir",
            str(server.data_dir),
            "--port",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert second.returncode != 0
    assert "Another consentkit database server" in second.stderr


def test_db_serve_keeps_data_across_restarts(db_server_process: Any) -> None:
    server = db_server_process.start()
    with MongoClient(server.uri) as client:
        client["ck"]["kept"].insert_one({"_id": "demo"})
    output = server.stop()

    server.start()
    with MongoClient(server.uri) as client:
        assert client["ck"]["kept"].find_one({"_id": "demo"}) == {"_id": "demo"}
    assert "Stop with Ctrl-C" in output


def test_db_serve_keeps_acknowledged_writes_when_killed(db_server_process: Any) -> None:
    server = db_server_process.start()
    with MongoClient(server.uri) as client:
        client["ck"]["kept"].insert_many([{"_id": i} for i in range(20)])
        client["ck"]["kept"].update_one({"_id": 0}, {"$set": {"signed": True}})
    server.kill()  # SIGKILL: no clean shutdown, no checkpoint

    server.start()
    with MongoClient(server.uri) as client:
        assert client["ck"]["kept"].count_documents({}) == 20
        assert client["ck"]["kept"].find_one({"_id": 0}) == {"_id": 0, "signed": True}


def test_db_status_reports_unreachable_server(tmp_path: Path, free_port: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "consentkit", "db", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "CONSENTKIT_EMBEDDED_PORT": str(free_port),
            "CONSENTKIT_DB_TIMEOUT_MS": "500",
        },
    )

    assert result.returncode == 1
    assert "not reachable" in result.stderr


def test_the_embedded_server_forgets_old_retryable_writes_oldest_first() -> None:
    # The server keeps each retryable write's reply (30 minutes, at most 10,000) so that a
    # driver's retry is not applied twice; consentkit prunes them from the oldest, in order.
    from secantus import transactions

    database._load_secantus()
    now = [1000.0]
    registry = transactions.TransactionRegistry(time_func=lambda: now[0])
    for n in range(5):
        registry.record_retryable(b"session", n, b"write", {"ok": 1.0, "n": 1})
        now[0] += 600  # ten minutes between writes
    # Writes 0 and 1 are over 30 minutes old: forgotten; the last three are still replayed.
    assert registry.retryable_reply(b"session", 0, b"write") is None
    assert registry.retryable_reply(b"session", 1, b"write") is None
    assert registry.retryable_reply(b"session", 2, b"write") is not None
    assert registry.retryable_reply(b"session", 4, b"write") is not None
