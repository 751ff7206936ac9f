"""`gunicorn -w 2 wsgi:app` against a separately started `consentkit db serve`."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, wait_for


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.mark.skipif(
    shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None,
    reason="gunicorn is part of the server extra",
)
def test_gunicorn_workers_share_one_embedded_database(
    db_server_process: Any, free_port: int, tmp_path: Path
) -> None:
    server = db_server_process.start()
    access_log = tmp_path / "access.log"
    env = {
        **os.environ,
        "CONSENTKIT_MONGODB_URI": server.uri,
        "CONSENTKIT_SECRET_KEY": "s" * 40,
        "CONSENTKIT_DATA_DIR": str(tmp_path),
    }
    gunicorn = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "python:backend.gunicorn_conf",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{free_port}",
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            "%(p)s %(s)s %(r)s %(f)s",
            "wsgi:app",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{free_port}/api/v1/health"

        def both_workers_answered() -> bool:
            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(lambda _: _get(url), range(32)))
            assert all(status == 200 for status, _ in results)
            pids = {line.split()[0] for line in access_log.read_text().splitlines()}
            return len(pids) == 2

        wait_for(lambda: _listening(url), timeout=60)
        wait_for(both_workers_answered, timeout=60)
        statuses = {line.split()[1] for line in access_log.read_text().splitlines()}
        assert statuses == {"200"}

        # The recommended config's access log never holds a setup token or invitation code.
        secret = "SETUPTOKEN0123456789abcdef"
        link = urllib.request.Request(
            f"http://127.0.0.1:{free_port}/family/invite/INVITECODE1",
            headers={"Referer": f"https://ck.example/staff/setup/{secret}"},
        )
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(link, timeout=10).close()
        with contextlib.suppress(urllib.error.HTTPError):
            _get(f"http://127.0.0.1:{free_port}/api/v1/staff/setup/{secret}")
        logged = wait_for(
            lambda: "/api/v1/staff/setup/" in access_log.read_text() and access_log.read_text()
        )
        assert secret not in logged
        assert "INVITECODE1" not in logged
        assert "/family/invite/[redacted]" in logged
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)


def _listening(url: str) -> bool:
    try:
        return _get(url)[0] == 200
    except OSError:
        return False
