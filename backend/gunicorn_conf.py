"""Recommended gunicorn settings: ``gunicorn -c python:backend.gunicorn_conf wsgi:app``.

Command-line options still win (``-w 4 -b 0.0.0.0:8000``). What this file adds:

* **An access log without secrets.** A staff setup token or an invitation code
  travels in a URL path (``/staff/setup/<token>``, ``/family/invite/<code>``),
  also as a Referer; :class:`RedactingLogger` replaces them in every access-log
  field (backend.logs.redact).
* **Timeouts that fit the database's.** A request whose database is gone fails
  with 503 after about ``CONSENTKIT_DB_TIMEOUT_MS`` (3 s by default; about three
  times that for a database that stops answering mid-request), well inside
  :data:`timeout`, so a worker is never killed as WORKER TIMEOUT (which the
  client sees as a dropped connection or a proxy's 502, not a problem body).
  Raise both together, keeping ``timeout`` above 4 x ``CONSENTKIT_DB_TIMEOUT_MS``.
* Behind a TLS proxy, set ``CONSENTKIT_TRUSTED_PROXIES`` (the app applies
  ProxyFix); gunicorn's own ``forwarded_allow_ips`` is not needed for that.

Do not add ``preload_app``: each worker must open its own database client after
the fork (wsgi.py).
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from backend.logs import redact


class RedactingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with setup tokens, invitation codes and URI passwords removed."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> Any:
        """Return gunicorn's access-log fields, each string redacted."""
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in list(atoms.items()):
            if isinstance(value, str):
                atoms[key] = redact(value)
        return atoms


logger_class = RedactingLogger
accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
#: gunicorn's default, stated: the app answers 503 long before it (see above).
timeout = 30
graceful_timeout = 30
keepalive = 5
