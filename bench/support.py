"""What every benchmark needs: its own embedded database process, as production runs it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consentkit import db


def free_port() -> int:
    """Return a TCP port nothing listens on now (benches run side by side on one machine)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_database(port: int, *, durable: bool = True) -> Iterator[tuple[str, str]]:
    """Run ``consentkit db serve`` (durable, fsync per commit) on ``port``; yield (uri, tmp dir).

    ``durable=False`` runs the same embedded server without the per-commit fsync (a bench
    that measures the code, not the disk). The library is connected to database ``bench``
    with its indexes built. A server already answering on ``port`` (another bench) is
    refused: both would share it.
    """
    if db.server_answers(f"mongodb://127.0.0.1:{port}/", timeout_ms=300):
        raise RuntimeError(f"A database already answers on port {port}; is another bench running?")
    with tempfile.TemporaryDirectory() as tmp:
        if durable:
            command = [sys.executable, "-m", "consentkit", "db", "serve"]
            command += ["--data-dir", f"{tmp}/db", "--port", str(port)]
        else:
            script = (
                "import sys, time\n"
                "from consentkit import db\n"
                "with db.embedded_server(sys.argv[1], port=int(sys.argv[2]), durable=False):\n"
                "    time.sleep(10**9)\n"
            )
            command = [sys.executable, "-c", script, f"{tmp}/db", str(port)]
        server = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            uri = f"mongodb://127.0.0.1:{port}/"
            db.wait_until_ready(uri, timeout_s=180)  # a busy shared machine starts it slowly
            db.connect(uri, db_name="bench")
            db.ensure_indexes()
            yield uri, tmp
        finally:
            db.disconnect()
            server.terminate()
            server.wait(timeout=20)
