"""Test harness: a real database server, never a mock.

By default a SecantusDB server runs in this process for the whole session, on
port 0 in a temporary directory. Set ``CONSENTKIT_TEST_MONGODB_URI`` to run the
same suite against a real MongoDB (a throwaway database per run is used and
dropped afterwards). Each test starts from empty collections (``delete_many``,
which keeps the indexes).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mongoengine
import pytest
from cryptography.fernet import Fernet
from hypothesis import settings as hypothesis_settings
from pymongo import monitoring

from consentkit import db as database
from tests.command_counter import COUNTER

# Before any client exists: pymongo gives a client the listeners registered at its creation.
monitoring.register(COUNTER)

# Keys for the suite: generated per run, never the developer's own var/ keys.
os.environ.setdefault("CONSENTKIT_ENV", "testing")
os.environ.setdefault("CONSENTKIT_IDENTITY_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("CONSENTKIT_AUDIT_KEY", secrets.token_urlsafe(48))
os.environ.setdefault("CONSENTKIT_BLIND_INDEX_KEY", secrets.token_urlsafe(48))

REPO_ROOT = Path(__file__).resolve().parent.parent

# No Hypothesis deadlines: they are timing assertions, and a busy CI machine is not a bug.
hypothesis_settings.register_profile("consentkit", deadline=None)
hypothesis_settings.load_profile("consentkit")


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> None:
    """argon2's cheapest profile: the suite signs staff in hundreds of times."""
    from argon2 import PasswordHasher, profiles

    from consentkit.services import staff

    staff.use_password_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of the database server the suite talks to."""
    external = os.environ.get("CONSENTKIT_TEST_MONGODB_URI")
    if external:
        yield external
        return
    # Throwaway data: skip the per-commit fsync that production storage needs.
    with database.embedded_server(tmp_path_factory.mktemp("secantus"), durable=False) as uri:
        yield uri


@pytest.fixture(scope="session")
def db_name() -> str:
    """A database name of our own, so a shared MongoDB is never touched outside it."""
    return f"consentkit_test_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def connected(mongodb_uri: str, db_name: str) -> Iterator[str]:
    """Connect the library once for the session and build the indexes."""
    database.connect(mongodb_uri, db_name=db_name)
    database.ensure_indexes()
    yield mongodb_uri
    mongoengine.get_connection().drop_database(db_name)
    database.disconnect()


@pytest.fixture
def clean_db(connected: str, db_name: str) -> Iterator[Any]:
    """An empty database (documents removed, indexes kept) for one test."""
    database.connect(connected, db_name=db_name)  # a test may have pointed it elsewhere
    from consentkit.services.forms import forget_catalogs

    forget_catalogs()
    db = mongoengine.get_db()
    for name in db.list_collection_names():
        if not name.startswith("system."):
            db[name].delete_many({})
    yield db


@pytest.fixture
def app(clean_db: Any, mongodb_uri: str, db_name: str, tmp_path: Path) -> Any:
    """The Flask app in testing mode, on the test database."""
    from backend import create_app

    return create_app(
        {
            "TESTING": True,
            "MONGODB_URI": mongodb_uri,
            "MONGODB_DB": db_name,
            "DATA_DIR": str(tmp_path),
        }
    )


@pytest.fixture
def client(app: Any) -> Any:
    """A test client of :func:`app`."""
    return app.test_client()


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DbServerProcess:
    """A ``consentkit db serve`` child process, as production-like deployments run it."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[str] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self) -> DbServerProcess:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "consentkit",
                "db",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        database.wait_until_ready(self.uri, timeout_s=30)
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def stop(self) -> str:
        output = ""
        if self.process is not None:
            self.process.terminate()
            output, _ = self.process.communicate(timeout=20)
            self.process = None
        return output


@pytest.fixture
def db_server_process(tmp_path: Path, connected: str, db_name: str) -> Iterator[DbServerProcess]:
    """A separately running embedded database server in a fresh data directory.

    Tests that point the library at it get the session database back afterwards.
    """
    server = DbServerProcess(tmp_path / "db")
    yield server
    server.stop()
    database.connect(connected, db_name=db_name)


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    """A TCP port nobody listens on right now."""
    return free_port()


def wait_for(predicate: Any, timeout: float = 20.0) -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"condition not met within {timeout} s")


@pytest.fixture
def demo_study(clean_db: Any) -> Any:
    """The shipped demo study DEMO-NBL-1, imported into the clean test database."""
    from consentkit.services.importing import import_demo_study

    return import_demo_study()


@pytest.fixture
def study_folder(tmp_path: Path) -> Path:
    """A writable copy of the demo study folder, for tests that edit authoring files."""
    import shutil

    from consentkit.services.importing import DEMO_STUDY_DIR

    target = tmp_path / "study"
    shutil.copytree(DEMO_STUDY_DIR, target)
    return target
