"""``consentkit db``: run and inspect the embedded database server."""

from __future__ import annotations

from pathlib import Path

import click

from consentkit import db as database
from consentkit import settings
from consentkit.errors import ConsentKitError


@click.group("db")
def db() -> None:
    """Run and inspect the database."""


@db.command("serve")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="WiredTiger storage directory [default: $CONSENTKIT_DATA_DIR/db].",
)
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: 27117].")
def serve(data_dir: Path | None, host: str | None, port: int | None) -> None:
    """Serve the embedded database until Ctrl-C.

    Run exactly one per data directory: the web server, gunicorn workers and
    other commands all connect to it over its socket.
    """
    storage = (data_dir or settings.data_dir() / "db").resolve()
    host = host or settings.embedded_host()
    port = port or settings.embedded_port()
    click.echo(f"consentkit database: {database.embedded_uri(host, port)}  data: {storage}")
    click.echo("Stop with Ctrl-C.")
    try:
        database.serve_embedded(storage, host, port)
    except ConsentKitError as exc:
        raise click.ClickException(exc.message) from exc


@db.command("status")
def status() -> None:
    """Say which database is configured and whether it answers."""
    uri = database.resolve_uri()
    database.connect(uri)
    try:
        latency = database.ping()
    except ConsentKitError as exc:
        raise click.ClickException(f"{database.redacted_uri(uri)}: {exc.message}") from exc
    click.echo(f"{database.redacted_uri(uri)}: ok ({latency:.1f} ms)")
