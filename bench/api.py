"""Benchmark: the signer API under gunicorn (2 workers), driven from a separate load process.

For GET form (200 and 304), POST view events and POST signature: requests/s and
p50/p99 latency, each as a ratio to a bare Flask JSON endpoint served by the same
gunicorn in the same run. Goals (issue 17): form 304 >= 0.8x bare, form 200 >=
0.5x, POST views >= 0.15x, POST signature >= 0.08x; a last line says which are met.

Signature requests need prepared records: each family is read, quizzed and
chosen through the library beforehand, and its session's step-up is marked
verified directly in the database (a bench shortcut for the one-time-code
round trip, which is measured by the tests, not here).

Run: .venv/bin/python bench/api.py
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENV = {
    "CONSENTKIT_ENV": "development",
    "CONSENTKIT_SECRET_KEY": secrets.token_urlsafe(48),
    "CONSENTKIT_IDENTITY_KEYS": Fernet.generate_key().decode(),
    "CONSENTKIT_AUDIT_KEY": secrets.token_urlsafe(48),
    "CONSENTKIT_LOG_LEVEL": "WARNING",
}
os.environ.update(ENV)

from support import free_port, running_database  # noqa: E402

from backend import create_app  # noqa: E402
from backend.auth import issue_access_token  # noqa: E402
from consentkit.clock import now_utc  # noqa: E402
from consentkit.models.access import SignerSession  # noqa: E402
from consentkit.models.study import FormVersion  # noqa: E402
from consentkit.services import access, records  # noqa: E402
from consentkit.services.importing import import_demo_study  # noqa: E402
from tests.consentkit.records_helpers import STAFF, STROKES, make_family, prepare  # noqa: E402

HTTP_PORT = free_port()
REQUESTS, CONCURRENCY, SIGNATURES = 600, 4, 80
#: Issue 17's goals: each scenario's requests/s as a ratio to the bare endpoint's.
GOALS = {"GET form 200": 0.5, "GET form 304": 0.8, "POST view events": 0.15, "POST signature": 0.08}
RATIOS: dict[str, float] = {}


GUARDIAN_NAME = "Bench Parent"


class Codes:
    """A known one-time-code algorithm for the bench's own sign-ins."""

    def new_secret(self) -> str:
        return "bench"

    def code(self, secret: str, counter: int) -> str:
        return "123456"


class Quiet:
    channel = "bench"

    def send_notice(self, contact: dict[str, Any], *, subject: str, text: str) -> str:
        return "bench"

    def send_code(
        self, contact: dict[str, Any], code: str, *, minutes: int, locale: str | None
    ) -> str:
        return "bench"


def _family(index: int, app: Any) -> dict[str, Any]:
    start = now_utc() - timedelta(hours=30)
    family = make_family(f"API-{index:05d}", names=(GUARDIAN_NAME, "Bench Parent Two"))
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=start
    )
    prepare(family, record, family.guardians[0], at=start + timedelta(minutes=5))
    sent = access._new_challenge(family.guardians[0], "sign-in", Codes(), Quiet(), now_utc())
    sign_in = access.verify_sign_in(
        sent.challenge_id,
        "123456",
        device_id="bench-device",
        otp=Codes(),
        ip=f"10.0.{index // 250}.{index % 250}",
    )
    with app.app_context():
        token = issue_access_token(sign_in.session)
    return {"record": record.record_id, "token": token, "session": sign_in.session.session_id}


def _run(
    method: str, path: str, bodies: list[Any], headers: list[dict[str, str]], expect: int
) -> list[float]:
    """Send the requests from CONCURRENCY keep-alive connections; return latencies (ms)."""
    chunks = [list(range(i, len(bodies), CONCURRENCY)) for i in range(CONCURRENCY)]

    def worker(indexes: list[int]) -> list[float]:
        conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=30)
        out = []
        for i in indexes:
            body = None if bodies[i] is None else json.dumps(bodies[i])
            started = time.perf_counter()
            conn.request(
                method,
                path if "{" not in path else path.format(**headers[i]),
                body=body,
                headers={k: v for k, v in headers[i].items() if k[0].isupper()},
            )
            response = conn.getresponse()
            response_body = response.read()
            out.append((time.perf_counter() - started) * 1000)
            if response.status != expect:
                detail = response_body[:300].decode(errors="replace")
                raise AssertionError(f"{method} {path}: {response.status} {detail}")
        conn.close()
        return out

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return [t for part in pool.map(worker, chunks) for t in part]


def _report(name: str, timings: list[float], elapsed: float, bare_rps: float | None) -> float:
    rps = len(timings) / elapsed
    ordered = sorted(timings)
    ratio = f"  ratio to bare {rps / bare_rps:.2f}x" if bare_rps else ""
    if bare_rps:
        RATIOS[name] = rps / bare_rps
    print(
        f"{name:<22} {rps:8.0f} req/s  p50 {statistics.median(ordered):6.1f} ms  "
        f"p99 {ordered[int(len(ordered) * 0.99) - 1]:6.1f} ms{ratio}"
    )
    return rps


def _timed(*args: Any) -> tuple[list[float], float]:
    started = time.perf_counter()
    timings = _run(*args)
    return timings, time.perf_counter() - started


def main() -> None:
    with running_database(free_port()) as (uri, tmp):
        env = {
            **os.environ,
            **ENV,
            "CONSENTKIT_MONGODB_URI": uri + "bench",
            "CONSENTKIT_DATA_DIR": tmp,
        }
        os.environ.update({"CONSENTKIT_DATA_DIR": tmp})
        import_demo_study()
        app = create_app({"MONGODB_URI": uri, "MONGODB_DB": "bench", "DATA_DIR": tmp})
        families = [_family(i, app) for i in range(SIGNATURES)]
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{HTTP_PORT}",
                "--chdir",
                str(ROOT / "bench"),
                "--pythonpath",
                str(ROOT),
                "api_app:app",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    _run("GET", "/bare", [None], [{}], 200)
                    break
                except (OSError, http.client.HTTPException):
                    time.sleep(0.2)
            one = families[0]
            auth = {"Authorization": f"Bearer {one['token']}", "Accept-Language": "fr"}
            form = f"/api/v1/me/records/{one['record']}/form"
            conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT)
            conn.request("GET", form, headers=auth)
            first = conn.getresponse()
            first.read()
            etag = first.getheader("ETag")
            version = FormVersion.objects.get(form_id="parental-consent", version=2)
            sha, text = version.content_sha256["fr"], version.content["fr"]
            print(
                f"gunicorn 2 workers, {CONCURRENCY} keep-alive clients, "
                f"{REQUESTS} requests per GET/views scenario, {SIGNATURES} signatures"
            )
            bare = _report(
                "bare JSON", *_timed("GET", "/bare", [None] * REQUESTS, [{}] * REQUESTS, 200), None
            )
            _report(
                "GET form 200",
                *_timed("GET", form, [None] * REQUESTS, [auth] * REQUESTS, 200),
                bare,
            )
            _report(
                "GET form 304",
                *_timed(
                    "GET",
                    form,
                    [None] * REQUESTS,
                    [{**auth, "If-None-Match": etag}] * REQUESTS,
                    304,
                ),
                bare,
            )
            views = {"locale": "fr", "sections": [{"id": text["sections"][0]["id"], "seconds": 3}]}
            # Many families reading at once, as in real use (a few batches each).
            spread = [families[i % len(families)] for i in range(REQUESTS)]
            _report(
                "POST view events",
                *_timed(
                    "POST",
                    "/api/v1/me/records/{rec}/views",
                    [views] * REQUESTS,
                    [
                        {
                            "Authorization": f"Bearer {f['token']}",
                            "Content-Type": "application/json",
                            "rec": f["record"],
                        }
                        for f in spread
                    ],
                    200,
                ),
                bare,
            )
            for family in families:
                SignerSession.objects(session_id=family["session"]).update_one(
                    set__step_up_at=now_utc()
                )
            signature = {
                "locale": "fr",
                "content_sha256": sha,
                # The signer's registered name: a different printed name is refused (422).
                "printed_name": GUARDIAN_NAME,
                "strokes": STROKES,
            }
            _report(
                "POST signature",
                *_timed(
                    "POST",
                    "/api/v1/me/records/{rec}/signature",
                    [signature] * SIGNATURES,
                    [
                        {
                            "Authorization": f"Bearer {f['token']}",
                            "Content-Type": "application/json",
                            "rec": f["record"],
                        }
                        for f in families
                    ],
                    200,
                ),
                bare,
            )
            print(
                "goals: "
                + ", ".join(
                    f"{name} {RATIOS[name]:.2f}x (>= {goal}x "
                    f"{'met' if RATIOS[name] >= goal else 'NOT met'})"
                    for name, goal in GOALS.items()
                )
            )
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
