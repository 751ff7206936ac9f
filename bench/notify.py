"""Benchmark: message dispatch by ``consentkit worker`` processes to a local sink (embedded db).

* Throughput: N messages queued, then 2 worker processes send them by the SMS webhook
  channel to a local HTTP sink; messages/s from the first to the last delivery, at two
  sizes (the rate must not fall as finished messages pile up: leasing reads only live
  ones), and as a ratio to bare ``insert_one`` of the same documents in the same run.
* Crash: 10,000 messages, 2 workers, one killed with SIGKILL mid-run; every message must
  reach the sink, and none twice (the killed worker's one leased message is sent again
  after its lease, with the same dedupe key; the sink counts raw deliveries per key).

Run: .venv/bin/python bench/notify.py [--no-fsync] [--crash-n 10000]
(starts its own embedded database process; ``--no-fsync`` runs it without the per-commit
fsync, as the test suite does, when the machine's disk is shared and slow)
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CONSENTKIT_ENV", "testing")
os.environ.setdefault("CONSENTKIT_IDENTITY_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("CONSENTKIT_AUDIT_KEY", secrets.token_urlsafe(48))
# The durable embedded database fsyncs each commit: a busy shared machine needs more than 3 s.
os.environ.setdefault("CONSENTKIT_DB_TIMEOUT_MS", "30000")

import argparse
import functools
import json

import mongoengine
from support import free_port, running_database

from consentkit.models.outbox import OutboxMessage

WORKERS = 2
SIZES = (1000, 2000)
CRASH_N = 10_000
LEASE_S = 5


class Sink:
    """A local SMS gateway: counts deliveries per dedupe key."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.first: float | None = None
        self.last: float = 0.0
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = json.loads(body)["id"]
                now = time.perf_counter()
                with sink.lock:
                    sink.counts[key] += 1
                    sink.first = sink.first if sink.first is not None else now
                    sink.last = now
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.first = None
            self.last = 0.0

    @property
    def distinct(self) -> int:
        return len(self.counts)


def _document(i: int, run: str, now: datetime) -> dict[str, Any]:
    return {
        "dedupe_key": f"{run}:{i}",
        # The run, also as an exact field: the embedded database answers a prefix ($regex)
        # query on dedupe_key with nothing, which made the crash run's database counts 0.
        "trial_id": f"bench-{run}",
        "kind": "notice",
        "is_essential": False,
        "recipient": {"phone": f"+3361{i:07d}"},
        "channel": "sms",
        "params": {"subject": "Reminder", "text": f"Message {i}: it is your turn to sign."},
        "status": "queued",
        "due_at": now,
        "attempts": 0,
        "max_attempts": 8,
        "created_at": now,
    }


def _queue(n: int, run: str) -> None:
    now = datetime.now(UTC)
    for start in range(0, n, 200):
        OutboxMessage._get_collection().insert_many(
            [_document(i, run, now) for i in range(start, min(n, start + 200))]
        )


def _bare_inserts(n: int, run: str) -> float:
    """insert_one per document into a scratch collection: documents/s."""
    scratch = mongoengine.get_db()["bench_bare_outbox"]
    now = datetime.now(UTC)
    documents = [_document(i, run, now) for i in range(n)]
    start = time.perf_counter()
    for document in documents:
        scratch.insert_one(document)
    elapsed = time.perf_counter() - start
    scratch.drop()
    return n / elapsed


def _workers(uri: str, sink: Sink) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "CONSENTKIT_MONGODB_URI": uri,
        "CONSENTKIT_MONGODB_DB": "bench",
        "CONSENTKIT_MESSAGE_CHANNELS": "sms",
        "CONSENTKIT_SMS_WEBHOOK_URL": sink.url,
        "CONSENTKIT_QUIET_HOURS": "",
        "CONSENTKIT_MESSAGES_PER_DAY": "1000000",
        "CONSENTKIT_OUTBOX_LEASE_S": str(LEASE_S),
    }
    return [
        subprocess.Popen(
            [sys.executable, "-m", "consentkit", "worker", "--poll", "0.05"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(WORKERS)
    ]


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=60)


def _wait_for(sink: Sink, n: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while sink.distinct < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {sink.distinct} of {n} delivered in {timeout_s} s")
        time.sleep(0.05)


def throughput(uri: str, sink: Sink, n: int, run: str) -> float:
    sink.reset()
    _queue(n, run)
    workers = _workers(uri, sink)
    try:
        _wait_for(sink, n, timeout_s=600)
    finally:
        _stop(workers)
    assert sink.first is not None
    return n / (sink.last - sink.first)


def crash(uri: str, sink: Sink) -> dict[str, Any]:
    sink.reset()
    _queue(CRASH_N, "crash")
    workers = _workers(uri, sink)
    try:
        _wait_for(sink, CRASH_N // 3, timeout_s=600)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        killed_at = sink.distinct
        _wait_for(sink, CRASH_N, timeout_s=900)
        # Let the survivor finish marking; then count what the database says.
        deadline = time.monotonic() + 60
        while (
            OutboxMessage.objects(trial_id="bench-crash", status__ne="sent").count()
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
    finally:
        _stop(workers[1:])
    assert sink.first is not None
    return {
        "rate": CRASH_N / (sink.last - sink.first),
        "killed_after": killed_at,
        "delivered_distinct": sink.distinct,
        "delivered_twice": sum(1 for c in sink.counts.values() if c > 1),
        "raw_deliveries": sum(sink.counts.values()),
        "sent_in_db": OutboxMessage.objects(trial_id="bench-crash", status="sent").count(),
        "attempts_over_1": OutboxMessage.objects(trial_id="bench-crash", attempts__gt=1).count(),
    }


def main() -> None:
    global CRASH_N
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--crash-n", type=int, default=CRASH_N)
    args = parser.parse_args()
    CRASH_N = args.crash_n
    sink = Sink()
    database = functools.partial(running_database, durable=not args.no_fsync)
    print(f"embedded database {'without' if args.no_fsync else 'with'} per-commit fsync")
    with database(free_port()) as (uri, _tmp):
        rates = {}
        for n in SIZES:
            rates[n] = throughput(uri, sink, n, f"size{n}")
        bare = _bare_inserts(SIZES[-1], "bare")
        finished = OutboxMessage.objects(status="sent").count()
        print(f"workers: {WORKERS} worker processes, SMS webhook to a local HTTP sink")
        for n, rate in rates.items():
            print(f"dispatch N={n}: {rate:.0f} messages/s")
        print(f"bare insert_one of the same documents: {bare:.0f} documents/s")
        print(f"ratio dispatch/bare insert (N={SIZES[-1]}): {rates[SIZES[-1]] / bare:.3f}")
        print(f"finished messages in the outbox before the crash run: {finished}")
        result = crash(uri, sink)
        print(
            f"crash run: {CRASH_N} messages, worker 1 SIGKILLed after {result['killed_after']} "
            f"deliveries; delivered {result['delivered_distinct']} distinct, "
            f"{result['raw_deliveries']} raw, {result['delivered_twice']} delivered twice "
            f"({result['rate']:.0f} messages/s); "
            f"sent in db {result['sent_in_db']}; messages leased more than once "
            f"{result['attempts_over_1']}"
        )


if __name__ == "__main__":
    main()
