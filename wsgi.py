"""WSGI entry point: ``gunicorn -c python:backend.gunicorn_conf -w 4 wsgi:app``.

Each worker builds its own app (and database client) after the fork; do not use
``--preload``, because a MongoDB client must not be shared across a fork.

``backend/gunicorn_conf.py`` holds the recommended settings: an access log with
setup tokens and invitation codes redacted, and a worker ``timeout`` (30 s)
well above ``CONSENTKIT_DB_TIMEOUT_MS`` (3 s): with the database gone a request
answers 503 problem+json with ``Retry-After`` instead of being killed as WORKER
TIMEOUT. Raise both together, keeping the worker timeout above 4 x the database
timeout. Behind a proxy set ``CONSENTKIT_TRUSTED_PROXIES`` (backend.config).
"""

from backend import create_app

app = create_app()
