"""Benchmark: the "may I?" permission API, single answer and a batch of 1,000 participants.

Issue 16: "p50 under 5 ms for a single answer on the embedded database, measured
as a ratio to the bare Flask endpoint in the same run (goal >= 0.5x), and the
batch form for 1,000 participants under 200 ms".

* Loading: a few families go through the real services (enrol, open, read,
  sign, withdraw in a few scopes), so their chains have the shapes the services
  write; then 1,000 participants are cloned from them with ``insert_many``
  (participant + its events under a new id; a bench shortcut, the hashes are not
  re-chained, which the permission read does not check).
* Timing, in process with Flask's test client against the embedded database
  server (``consentkit db serve``), so HTTP parsing by a server is not in either
  side: ``GET /bare`` (the smallest JSON answer, the yardstick), ``GET
  /api/v1/permissions`` for one participant and one activity with a
  service-account token (token check + one audited use write + participant and
  chain reads + the profile), and ``POST /api/v1/permissions`` for 1,000
  participants and every activity. Ratio = bare p50 / permission p50.

Run: .venv/bin/python bench/permissions.py   (starts its own embedded database process)
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    {
        "CONSENTKIT_ENV": "development",
        "CONSENTKIT_SECRET_KEY": secrets.token_urlsafe(48),
        "CONSENTKIT_IDENTITY_KEYS": Fernet.generate_key().decode(),
        "CONSENTKIT_AUDIT_KEY": secrets.token_urlsafe(48),
        "CONSENTKIT_LOG_LEVEL": "WARNING",
    }
)

from argon2 import PasswordHasher, profiles  # noqa: E402
from bson import ObjectId  # noqa: E402
from support import free_port, running_database  # noqa: E402

from backend import create_app  # noqa: E402
from consentkit.models.audit import AuditEvent  # noqa: E402
from consentkit.models.participant import Participant  # noqa: E402
from consentkit.services import participation, service_accounts, staff  # noqa: E402
from consentkit.services.importing import import_demo_study  # noqa: E402
from tests.consentkit.records_helpers import STAFF, consented_family  # noqa: E402

PARTICIPANTS = int(os.environ.get("BENCH_PARTICIPANTS", "1000"))
RUNS, BATCH_RUNS = 200, 3
WITHDRAWALS = [[], ["samples-destroy"], ["no-further-contact"], ["stop-imp"], []]


def _load() -> list[str]:
    """Return the codes of PARTICIPANTS participants cloned from a few real families."""
    templates = []
    for i, scopes in enumerate(WITHDRAWALS):
        family, _record = consented_family(f"T-{i:03d}")
        if scopes:
            participation.withdraw(family.participant, scopes=scopes, actor=STAFF)
        templates.append(family.participant)
    people = Participant._get_collection()
    events = AuditEvent._get_collection()
    chains = {str(p.id): list(events.find({"participant_id": str(p.id)})) for p in templates}
    new_people, new_events, codes = [], [], []
    for n in range(PARTICIPANTS):
        template = templates[n % len(templates)]
        raw = people.find_one({"_id": template.id})
        new_id = ObjectId()
        code = f"B-{n:05d}"
        new_people.append({**raw, "_id": new_id, "code": code})
        for event in chains[str(template.id)]:
            new_events.append({**event, "_id": ObjectId(), "participant_id": str(new_id)})
        codes.append(code)
    for docs, collection in ((new_people, people), (new_events, events)):
        for start in range(0, len(docs), 200):  # small batches: each answers within the timeout
            collection.insert_many(docs[start : start + 200])
    return codes


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _time(call: Any, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    staff.use_password_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))
    with running_database(free_port()) as (uri, _tmp):
        import_demo_study()
        started = time.perf_counter()
        codes = _load()
        print(f"loaded {len(codes)} participants in {time.perf_counter() - started:.1f} s")
        app = create_app({"MONGODB_URI": uri, "MONGODB_DB": "bench"})

        @app.get("/bare")
        def bare() -> dict[str, str]:
            return {"status": "ok"}

        client = app.test_client()
        account, secret = service_accounts.create_service_account(
            "DEMO-NBL-1", name="bench", scopes=["permissions:read"], sites=["*"], created_by="b"
        )
        service_accounts.CALLS_PER_MINUTE = 10**9  # the bench measures answers, not the limit
        issued = client.post(
            "/api/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(account.client_id, secret),
        ).get_json()
        headers = {"Authorization": f"Bearer {issued['access_token']}"}
        query = {
            "trial_id": "DEMO-NBL-1",
            "participant": codes[1],
            "activity": "sample-genetic-analysis",
        }

        def single() -> None:
            response = client.get("/api/v1/permissions", query_string=query, headers=headers)
            assert response.status_code == 200, response.get_json()

        def yardstick() -> None:
            assert client.get("/bare").status_code == 200

        body = {"trial_id": "DEMO-NBL-1", "participants": codes[:1000]}

        def batch() -> None:
            response = client.post("/api/v1/permissions", json=body, headers=headers)
            assert response.status_code == 200, response.get_json()

        for call in (yardstick, single, batch):  # warm caches (catalog, rule pack)
            call()
        bare_ms = _time(yardstick, RUNS)
        single_ms = _time(single, RUNS)
        batch_ms = _time(batch, BATCH_RUNS)
        bare_p50, single_p50 = statistics.median(bare_ms), statistics.median(single_ms)
        print(f"bare GET            p50 {bare_p50:7.2f} ms  p99 {_p(bare_ms, 0.99):7.2f} ms")
        print(
            f"GET permissions     p50 {single_p50:7.2f} ms  p99 {_p(single_ms, 0.99):7.2f} ms"
            f"  ratio to bare {bare_p50 / single_p50:.2f}x"
        )
        print(
            f"POST batch of {len(body['participants'])}  p50 {statistics.median(batch_ms):7.1f} ms"
            f"  max {max(batch_ms):7.1f} ms"
        )
        print(
            "goals: single p50 < 5 ms "
            + ("met" if single_p50 < 5 else "NOT met")
            + f"; ratio >= 0.5x {'met' if bare_p50 / single_p50 >= 0.5 else 'NOT met'}"
            + f"; batch < 200 ms {'met' if statistics.median(batch_ms) < 200 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
