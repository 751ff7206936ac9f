"""Load test: families and staff together on gunicorn + the embedded database, with Locust.

A realistic mix, 50 concurrent users ramping up (default 5 minutes):

* families (40 users) sign in with an invitation and a one-time code, read the form
  (200, then 304 with its ETag), send reading progress in batches, answer the
  questions, choose, step up with a fresh code and sign; families whose consent is
  complete come back for their sealed PDF, and about one in four of those withdraws
  (the plain summary first, then a step-up and the withdrawal);
* staff (10 users) sign in with password and authenticator code (pyotp on the
  secret their setup link showed) and open the dashboard, worklists with several
  filters, participant pages, timelines and what is permitted.

One-time codes travel as they do in production, through the SMS webhook sender, to
a small gateway inside this process that hands each family the code sent to its
phone. Each journey comes from its own client address (``X-Forwarded-For`` with
``CONSENTKIT_TRUSTED_PROXIES=1``), so the per-address limits see many families, not
one load generator.

Reported: p50/p95/p99 per request type, throughput, errors. Then two checks, each
failing the run (exit 1): no 5xx, and no lost or duplicated events: every
successful write answered with its event (seq and type), each of those is in the
trail exactly as answered, and for each written event type the trail grew by
exactly the number of successful writes of that type. ``consentkit audit verify``
re-walks every chain afterwards.

Run: .venv/bin/python bench/load.py [--duration 300] [--users 50] [--spawn-rate 5]
     (or ``make load``; ``--duration 60`` for a quick run)
"""

from __future__ import annotations

# Locust patches the standard library for gevent: import it before anything opens a socket.
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter, defaultdict, deque  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import pyotp  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from locust import FastHttpUser, between, task  # noqa: E402
from locust.env import Environment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TRIAL = "DEMO-NBL-1"
ENV = {
    "CONSENTKIT_ENV": "development",
    "CONSENTKIT_SECRET_KEY": secrets.token_urlsafe(48),
    "CONSENTKIT_IDENTITY_KEYS": Fernet.generate_key().decode(),
    "CONSENTKIT_AUDIT_KEY": secrets.token_urlsafe(48),
    "CONSENTKIT_LOG_LEVEL": "WARNING",
    "CONSENTKIT_OTP_SENDER": "webhook",
    "CONSENTKIT_TRUSTED_PROXIES": "1",
    # Every batch of reading progress is an event; a load test sends many per record.
    "CONSENTKIT_SIGNER_VIEWS_PER_RECORD_PER_DAY": "5000",
}
os.environ.update(ENV)

from support import free_port, running_database  # noqa: E402

from consentkit.clock import now_utc  # noqa: E402
from consentkit.models.audit import AuditEvent  # noqa: E402
from consentkit.models.study import FormVersion  # noqa: E402
from consentkit.services import access, ceremony, participants, records  # noqa: E402
from consentkit.services.importing import import_demo_study  # noqa: E402
from tests.consentkit.records_helpers import (  # noqa: E402
    STAFF,
    STROKES,
    Family,
    prepare,
    sign,
    signer_actor,
)

#: Sites of the demo study open for enrolment, with the language their families read in.
SITES = {
    "FR-01": "fr",
    "FR-02": "fr",
    "DE-01": "de",
    "IT-01": "it",
    "ES-01": "es",
    "NL-01": "nl",
}
STAFF_USERS = 10
PASSWORD = "load test horse battery staple"
WRITES = ("views", "answers", "choices", "signature", "withdrawal")


# --- the SMS gateway: a family's phone ---------------------------------------------------


class Gateway:
    """Receives the webhook sender's texts and keeps the latest code per phone number."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                found = re.search(r"\b(\d{6})\b", body["text"])
                if found:
                    with gateway.lock:
                        gateway.codes[body["to"]] = found.group(1)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        os.environ["CONSENTKIT_SMS_WEBHOOK_URL"] = f"http://127.0.0.1:{self.server.server_port}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self, phone: str) -> str:
        """Return (and forget) the last code sent to ``phone``."""
        with self.lock:
            return self.codes.pop(phone, "000000")


# --- the world the users act in ----------------------------------------------------------


@dataclass
class Seeded:
    """A family invited to sign in: its participant, invitation, phone and open record."""

    code: str
    participant_id: str
    invitation: str
    phone: str
    record_id: str
    locale: str


@dataclass
class Text:
    """What a family needs to answer a form: section ids, right answers, items, hash."""

    sections: list[str]
    answers: dict[str, str]
    items: list[str]
    sha: str


@dataclass
class World:
    to_sign: deque[Seeded] = field(default_factory=deque)
    consented: deque[Seeded] = field(default_factory=deque)
    codes: list[str] = field(default_factory=list)
    texts: dict[tuple[int, str], Text] = field(default_factory=dict)
    staff: deque[tuple[str, str]] = field(default_factory=deque)
    gateway: Gateway | None = None
    #: (participant_id, seq, type) of every write answered 2xx (seq None: not answered).
    written: list[tuple[str, int | None, str]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


WORLD = World()


def _texts() -> None:
    for version in FormVersion.objects(trial_id=TRIAL, form_id="parental-consent"):
        for locale, content in version.content.items():
            WORLD.texts[(version.version, locale)] = Text(
                [s["id"] for s in content["sections"]],
                {q["id"]: q["correct"] for q in content["questions"]},
                [i["id"] for i in content["items"]],
                version.content_sha256[locale],
            )


def _family(index: int, *, consented: bool) -> Seeded:
    site = list(SITES)[index % len(SITES)]
    now = now_utc()
    opened = now - timedelta(hours=30)  # past the time to think: no justification needed
    code = f"L-{'C' if consented else 'N'}{index:05d}"
    participant = participants.enrol_participant(
        trial_id=TRIAL,
        code=code,
        site_code=site,
        birth_date=date(2017, 5, 4) + timedelta(days=index % 700),
        actor=STAFF,
        now=opened,
    )
    phone = f"+3361{index:07d}" if not consented else f"+3362{index:07d}"
    guardians = [
        participants.add_signer(
            participant,
            role="guardian",
            identity={"name": name, "phone": phone if n == 0 else f"+3369{index:07d}"},
            actor=STAFF,
            now=opened,
        )
        for n, name in enumerate(("Ελένη Παπαδοπούλου", "Иван Петров"))
    ]
    child = participants.add_signer(
        participant, role="participant", identity={"name": "Child"}, actor=STAFF, now=opened
    )
    investigator = participants.add_signer(
        participant, role="investigator", identity={"name": "Dr Load"}, actor=STAFF, now=opened
    )
    record = records.open_record(participant, form_id="parental-consent", actor=STAFF, now=opened)
    family = Family(participant, guardians, child, investigator)
    locale = SITES[site]
    if not consented:
        # They opened the form yesterday (the study's time to think runs from the first
        # view), read its first section, and come back today to finish and sign.
        first = WORLD.texts[(record.version, locale)].sections[0]
        ceremony.record_views(
            participant,
            record.record_id,
            signer_id=str(guardians[0].id),
            locale=locale,
            sections=[{"id": first, "seconds": 40}],
            actor=signer_actor(guardians[0]),
            now=opened + timedelta(minutes=1),
        )
    else:
        for guardian in guardians:
            prepare(family, record, guardian, locale=locale, at=opened)
        for signer in (guardians[0], investigator, guardians[1]):
            sign(family, record, signer, locale=locale, at=opened + timedelta(hours=25))
    invitation = access.create_invitation(participant, guardians[0], actor=STAFF, now=now)
    return Seeded(code, str(participant.id), invitation, phone, record.record_id, SITES[site])


def seed(new: int, done: int) -> None:
    """Import the demo study and create the families and the study team."""
    import_demo_study()
    _texts()
    started = time.perf_counter()
    for i in range(new):
        WORLD.to_sign.append(_family(i, consented=False))
    for i in range(done):
        WORLD.consented.append(_family(i, consented=True))
    WORLD.codes = [f.code for f in (*WORLD.to_sign, *WORLD.consented)]
    print(
        f"seeded {new} families to sign and {done} consented families "
        f"in {time.perf_counter() - started:.0f} s",
        flush=True,
    )


def seed_staff(app: Any) -> None:
    """Create the study team and finish each member's setup through its setup link."""
    from consentkit.policy.roles import Grant, StaffRole
    from consentkit.services import staff as staff_service

    client = app.test_client()
    for i in range(STAFF_USERS):
        email = f"load.staff{i}@example.org"
        _, token = staff_service.create_staff(
            email=email,
            name=f"Load Staff {i}",
            grants=[Grant(TRIAL, StaffRole.INVESTIGATOR, ("*",))],
            created_by="bench/load.py",
        )
        shown = client.get(f"/api/v1/staff/setup/{token}").get_json()
        secret = re.search(r"secret=([A-Z2-7]+)", shown["provisioning_uri"]).group(1)  # type: ignore[union-attr]
        done = client.post(
            f"/api/v1/staff/setup/{token}",
            # The previous step's code (one step of drift is allowed): the first sign-in,
            # moments later, can then spend the current one (each step works once).
            json={"password": PASSWORD, "code": pyotp.TOTP(secret).at(time.time() - 30)},
        )
        assert done.status_code == 201, done.get_json()
        WORLD.staff.append((email, secret))


# --- the users -------------------------------------------------------------------------


def _address() -> str:
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


class FamilyUser(FastHttpUser):
    """A parent on a phone: one family's journey per task, then the next family."""

    weight = 4
    wait_time = between(1, 3)

    def think(self) -> None:
        gevent.sleep(random.uniform(0.3, 1.5))

    def call(self, method: str, path: str, name: str, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        with self.client.request(
            method, path, name=name, headers=headers, catch_response=True, **kw
        ) as response:
            WORLD.statuses[response.status_code] += 1
            if response.status_code not in (200, 201, 202, 204, 304):
                error = (response.json() or {}).get("error") if response.text else None
                response.failure(f"{response.status_code} {error or ''}".strip())
            return response

    def write(self, path: str, name: str, kind: str, body: dict[str, Any]) -> Any:
        response = self.call(
            "POST", path, name, json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        if response.status_code in (200, 201):
            answer = response.json()
            # The answers step says how the quiz went, not which event it appended.
            written = (answer.get("seq"), answer.get("type", "comprehension.answered"))
            WORLD.written.append((self.family.participant_id, *written))
            KINDS[kind] += 1
        return response

    def sign_in(self, family: Seeded) -> bool:
        self.family = family
        self.headers = {"X-Forwarded-For": _address(), "Accept-Language": family.locale}
        sent = self.call(
            "POST",
            "/api/v1/auth/invitations/redeem",
            "auth: redeem",
            json={"code": family.invitation},
        )
        if sent.status_code != 202:
            return False
        tokens = self.call(
            "POST",
            f"/api/v1/auth/challenges/{sent.json()['challenge_id']}/verify",
            "auth: verify code",
            json={"code": WORLD.gateway.take(family.phone), "device_id": uuid.uuid4().hex},  # type: ignore[union-attr]
        )
        if tokens.status_code != 200:
            return False
        self.headers["Authorization"] = f"Bearer {tokens.json()['access_token']}"
        return True

    def step_up(self) -> bool:
        sent = self.call("POST", "/api/v1/auth/step-up", "auth: step-up")
        if sent.status_code not in (200, 201, 202):
            return False
        ok = self.call(
            "POST",
            f"/api/v1/auth/step-up/{sent.json()['challenge_id']}/verify",
            "auth: step-up verify",
            json={"code": WORLD.gateway.take(self.family.phone)},  # type: ignore[union-attr]
        )
        return bool(ok.status_code == 200)

    @task(3)
    def sign_a_consent(self) -> None:
        if not WORLD.to_sign:
            return self.come_back()
        family = WORLD.to_sign.popleft()
        if not self.sign_in(family):
            return None
        self.call("GET", "/api/v1/me/tasks", "me: tasks")
        base = f"/api/v1/me/records/{family.record_id}"
        form = self.call("GET", f"{base}/form", "me: form 200")
        if form.status_code != 200:
            return None
        etag, shown = form.headers.get("ETag"), form.json()
        text = WORLD.texts[(shown["version"], shown["locale"])]
        locale = shown["locale"]
        sections = text.sections
        for start in range(0, len(sections), 3):  # reading, a few sections per batch
            self.think()
            self.call("GET", f"{base}/form", "me: form 304", headers={"If-None-Match": etag})
            batch = [
                {"id": s, "seconds": random.randint(20, 90)} for s in sections[start : start + 3]
            ]
            self.write(
                f"{base}/views", "me: POST views", "views", {"locale": locale, "sections": batch}
            )
        self.think()
        self.write(
            f"{base}/answers",
            "me: POST answers",
            "answers",
            {"locale": locale, "answers": text.answers},
        )
        self.think()
        self.write(
            f"{base}/choices",
            "me: POST choices",
            "choices",
            {"choices": {i: True for i in text.items}},
        )
        self.think()
        if not self.step_up():
            return None
        self.write(
            f"{base}/signature",
            "me: POST signature",
            "signature",
            {
                "locale": locale,
                "content_sha256": text.sha,
                "printed_name": "Ελένη Παπαδοπούλου",
                "strokes": STROKES,
            },
        )
        self.call("GET", "/api/v1/me/tasks", "me: tasks")
        return None

    @task(1)
    def come_back(self) -> None:
        if not WORLD.consented:
            return None
        family = WORLD.consented.popleft()
        if not self.sign_in(family):
            return None
        self.call("GET", "/api/v1/me/tasks", "me: tasks")
        self.call("GET", "/api/v1/me/documents", "me: documents")
        self.think()
        self.call("GET", f"/api/v1/me/records/{family.record_id}/document", "me: PDF")
        if random.random() < 0.25:
            self.think()
            choice = random.choice(["stop-treatment", "no-contact", "stop-everything-new"])
            self.call(
                "GET", f"/api/v1/me/withdrawals/summary?choice={choice}", "me: withdrawal summary"
            )
            if self.step_up():
                self.write(
                    "/api/v1/me/withdrawals",
                    "me: POST withdrawal",
                    "withdrawal",
                    {"choices": [choice]},
                )
        return None


class StaffUser(FastHttpUser):
    """A site investigator at a desk: the dashboard, worklists and participant pages."""

    fixed_count = STAFF_USERS
    wait_time = between(1, 4)

    def on_start(self) -> None:
        email, secret = WORLD.staff.popleft()
        self.headers = {"X-Forwarded-For": _address()}
        signed = self.client.post(
            "/api/v1/staff/sessions",
            name="staff: sign in",
            json={"email": email, "password": PASSWORD, "code": pyotp.TOTP(secret).now()},
            headers=self.headers,
        )
        WORLD.statuses[signed.status_code] += 1
        if signed.status_code == 201:
            self.headers["Authorization"] = f"Bearer {signed.json()['access_token']}"

    def get(self, path: str, name: str) -> None:
        response = self.client.get(path, name=name, headers=self.headers)
        WORLD.statuses[response.status_code] += 1

    @task(3)
    def dashboard(self) -> None:
        site = random.choice([None, *SITES])
        self.get(
            f"/api/v1/staff/studies/{TRIAL}/dashboard" + (f"?site={site}" if site else ""),
            "staff: dashboard",
        )

    @task(3)
    def worklist(self) -> None:
        query = random.choice(
            [
                "",
                "?state=awaiting-signatures",
                "?state=consented",
                f"?site={random.choice(list(SITES))}",
                "?due=reconsent",
                "?page=2",
            ]
        )
        self.get(f"/api/v1/staff/studies/{TRIAL}/records{query}", "staff: worklist")

    @task(4)
    def participant(self) -> None:
        code = random.choice(WORLD.codes)
        base = f"/api/v1/staff/studies/{TRIAL}/participants/{code}"
        self.get(base, "staff: participant")
        gevent.sleep(random.uniform(0.5, 2))
        self.get(f"{base}/timeline", "staff: timeline")
        if random.random() < 0.5:
            self.get(f"{base}/participation", "staff: participation")


KINDS: Counter[str] = Counter()


# --- the run ---------------------------------------------------------------------------


def _percentiles(env: Environment) -> None:
    rows = sorted(env.stats.entries.values(), key=lambda e: e.name)
    print(f"\n{'request':<28}{'count':>7}{'fail':>6}{'p50':>8}{'p95':>8}{'p99':>8}{'req/s':>8}")
    for e in [*rows, env.stats.total]:
        if not e.num_requests:
            continue
        print(
            f"{e.name:<28}{e.num_requests:>7}{e.num_failures:>6}"
            f"{e.get_response_time_percentile(0.5):>8.0f}"
            f"{e.get_response_time_percentile(0.95):>8.0f}"
            f"{e.get_response_time_percentile(0.99):>8.0f}"
            f"{e.total_rps:>8.1f}"
        )
    print("(times in ms)")
    for error in env.stats.errors.values():
        print(f"error: {error.method} {error.name}: {error.error} x{error.occurrences}")


def _recount(before: Counter[str]) -> list[str]:
    """Compare the trail with the writes Locust saw succeed; return the problems."""
    problems: list[str] = []
    answered = Counter(kind for _, _, kind in WORLD.written)
    after = Counter(
        {
            row["_id"]: row["n"]
            for row in AuditEvent.objects.aggregate(
                [{"$group": {"_id": "$type", "n": {"$sum": 1}}}]
            )
        }
    )
    for kind, count in sorted(answered.items()):
        grew = after[kind] - before[kind]
        print(f"  {kind:<32} writes answered {count:>6}  events added {grew:>6}")
        if grew != count:
            problems.append(f"{kind}: {count} writes answered, {grew} events added")
    by_participant: dict[str, set[tuple[int | None, str]]] = defaultdict(set)
    for participant_id, seq, kind in WORLD.written:
        if seq is not None:
            by_participant[participant_id].add((seq, kind))
    missing = 0
    for participant_id, expected in by_participant.items():
        stored = {
            (e.seq, e.type)
            for e in AuditEvent.objects(participant_id=participant_id).only("seq", "type")
        }
        missing += len(expected - stored)
    if missing:
        problems.append(f"{missing} answered events are not in the trail as answered")
    numbered = [w for w in WORLD.written if w[1] is not None]
    if len(numbered) != len(set(numbered)):
        problems.append("the same (participant, seq) was answered twice")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=300, help="seconds of load (default 300)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="users started per second")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()
    WORLD.gateway = Gateway()
    http_port = free_port()
    with running_database(free_port()) as (uri, tmp):
        os.environ["CONSENTKIT_DATA_DIR"] = tmp
        env = {**os.environ, "CONSENTKIT_MONGODB_URI": uri + "bench", "CONSENTKIT_DATA_DIR": tmp}
        # Enough families that none is used twice: a journey takes about 20 s.
        families = args.users * args.duration // 15 + 20
        seed(new=families * 3 // 4, done=max(20, families // 4))
        from backend import create_app

        seed_staff(create_app({"MONGODB_URI": uri, "MONGODB_DB": "bench", "DATA_DIR": tmp}))
        log = open(f"{tmp}/gunicorn.log", "wb")  # noqa: SIM115 - closed with the server
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                "python:backend.gunicorn_conf",
                "-w",
                str(args.workers),
                "-b",
                f"127.0.0.1:{http_port}",
                "--chdir",
                str(ROOT / "bench"),
                "--pythonpath",
                str(ROOT),
                "api_app:app",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            import urllib.request

            for _ in range(150):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{http_port}/bare", timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.2)
            before = Counter(
                {
                    row["_id"]: row["n"]
                    for row in AuditEvent.objects.aggregate(
                        [{"$group": {"_id": "$type", "n": {"$sum": 1}}}]
                    )
                }
            )
            environment = Environment(
                user_classes=[FamilyUser, StaffUser], host=f"http://127.0.0.1:{http_port}"
            )
            runner = environment.create_local_runner()
            print(
                f"gunicorn {args.workers} workers; {args.users} users "
                f"(+{args.spawn_rate:g}/s) for {args.duration} s",
                flush=True,
            )
            runner.start(args.users, spawn_rate=args.spawn_rate)
            gevent.sleep(args.duration)
            runner.quit()
            elapsed = args.duration
            _percentiles(environment)
            total = environment.stats.total
            server_errors = sum(n for status, n in WORLD.statuses.items() if status >= 500)
            print(
                f"\nthroughput {total.num_requests / elapsed:.1f} req/s over {elapsed} s; "
                f"failures {total.num_failures}; 5xx {server_errors}; "
                f"statuses {dict(sorted(WORLD.statuses.items()))}"
            )
            print(f"writes answered 2xx: {dict(KINDS)}")
            print("recount (trail vs Locust):")
            problems = _recount(before)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
            tail = Path(f"{tmp}/gunicorn.log").read_text(errors="replace").strip().splitlines()
            print("gunicorn log (last lines):", *tail[-5:], sep="\n  ")
        verify = subprocess.run(
            [sys.executable, "-m", "consentkit", "audit", "verify", "--study", TRIAL],
            env=env,
            capture_output=True,
            text=True,
        )
        print(f"consentkit audit verify: exit {verify.returncode}: {verify.stdout.strip()}")
        if verify.returncode:
            problems.append(f"audit verify failed: {verify.stderr.strip()[:500]}")
        if server_errors:
            problems.append(f"{server_errors} responses were 5xx")
        for problem in problems:
            print(f"PROBLEM: {problem}")
        print("OK: no 5xx, no lost or duplicated events" if not problems else "FAILED")
        return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
