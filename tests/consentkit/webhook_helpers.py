"""A local webhook receiver (http.server in a thread) that verifies Standard Webhooks signatures."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Receiver:
    """What a subscriber received (verified), and how it answers."""

    url: str = ""
    secret: str | None = None
    #: Answer this many requests with ``fail_status`` before answering 204.
    failures_left: int = 0
    fail_status: int = 503
    #: Answer every request with a redirect to this location instead.
    redirect_to: str | None = None
    #: Requests seen, whether answered with success or not.
    requests: int = 0
    #: Bodies of the deliveries answered with success, verified and decoded, in arrival order.
    events: list[dict[str, Any]] = field(default_factory=list)
    webhook_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.requests += 1
            if self.redirect_to:
                return 302, {"Location": self.redirect_to}
            if self.failures_left > 0:
                self.failures_left -= 1
                return self.fail_status, {}
            assert self.secret is not None, "the test gives the receiver its secret"
            # Raises WebhookVerificationError on a wrong signature or a stale timestamp.
            verified = Webhook(self.secret).verify(body, headers)
            self.events.append(verified if isinstance(verified, dict) else json.loads(body))
            self.webhook_ids.append(headers["webhook-id"])
            return 204, {}


@contextmanager
def running_receiver(
    port: int, path: str = "/hooks", *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
) -> Iterator[Receiver]:
    """Serve a :class:`Receiver` on 127.0.0.1:``port`` until the block ends.

    ``host`` is the name its URL uses (a test makes it resolve to 127.0.0.1);
    with ``tls`` it serves https with that context's certificate.
    """
    scheme = "https" if tls else "http"
    receiver = Receiver(url=f"{scheme}://{host}:{port}{path}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, extra = receiver.handle(headers, body)
            except Exception:  # a bad signature: answer 400, the test then fails on events
                status, extra = 400, {}
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
