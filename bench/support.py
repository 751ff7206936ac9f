"""What every benchmark needs: its own embedded database process, as production runs it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consentkit import db


@contextlib.contextmanager
def running_database(port: int) -> Iterator[tuple[str, str]]:
    """Run ``consentkit db serve`` (durable, fsync per commit) on ``port``; yield (uri, tmp dir).

    The library is connected to database ``bench`` with its indexes built.
    """
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "consentkit",
                "db",
                "serve",
                "--data-dir",
                f"{tmp}/db",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            uri = f"mongodb://127.0.0.1:{port}/"
            db.wait_until_ready(uri)
            db.connect(uri, db_name="bench")
            db.ensure_indexes()
            yield uri, tmp
        finally:
            db.disconnect()
            server.terminate()
            server.wait(timeout=20)
