"""WSGI entry point: ``gunicorn -w 4 wsgi:app``.

Each worker builds its own app (and database client) after the fork; do not use
``--preload``, because a MongoDB client must not be shared across a fork.
"""

from backend import create_app

app = create_app()
