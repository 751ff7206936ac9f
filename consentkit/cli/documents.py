"""``consentkit verify-pdf`` and ``consentkit documents``: sealed PDF copies.

The document service (and so WeasyPrint) is imported inside each command, not
when the CLI loads: importing WeasyPrint opens Pango and HarfBuzz and warns once
about what is missing, and ``consentkit doctor`` must find the machine as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from consentkit import db
from consentkit.errors import ConsentKitError
from consentkit.services import participants


@click.command("verify-pdf")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_pdf(file: Path, as_json: bool) -> None:
    """Check a consent PDF: intact trusted seal, and its record matches the audit trail.

    Exit status 0 when genuine, 1 when anything is wrong (each problem is named).
    """
    from consentkit.services import documents as document_service

    db.connect()
    report = document_service.verify_pdf(file.read_bytes())
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        seal = report.seal
        click.echo(
            f"seal: {'valid' if seal['intact'] and seal['trusted'] else 'INVALID'}"
            f" ({seal['signer'] or 'no signer'})"
        )
        click.echo(f"record matches the audit trail: {'yes' if report.record_matches else 'NO'}")
        for problem in report.problems:
            click.echo(f"problem: {problem}", err=True)
        click.echo("GENUINE" if report.ok else "NOT VERIFIED")
    if not report.ok:
        raise SystemExit(1)


@click.group("documents")
def documents() -> None:
    """Produce the sealed PDF copies of consents and withdrawals."""


@documents.command("render")
@click.option("--study", required=True, help="Trial id.")
@click.option("--participant", "code", required=True, help="Participant code.")
@click.option("--record", "record_id", required=True, help="Record id.")
@click.option("--lang", default=None, help="Language of the copy [default: the record's].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def render(study: str, code: str, record_id: str, lang: str | None, out: Path) -> None:
    """Write the sealed PDF of a completed consent (rendered once, then reused)."""
    from consentkit.services import documents as document_service

    db.connect()
    try:
        participant = participants.get_participant(study, code)
        result = document_service.consent_document(participant, record_id, locale=lang)
    except ConsentKitError as exc:
        raise click.ClickException(exc.message) from exc
    out.write_bytes(result.content)
    click.echo(
        f"{out}: {len(result.content)} bytes, sha256 {result.document.sha256}, "
        f"verification code {result.document.verification_code}"
    )


@documents.command("render-pending")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
def render_pending(limit: int) -> None:
    """Render PDFs of completed consents and withdrawal confirmations that have none yet.

    Run it from cron or a worker, on any number of machines.
    """
    from consentkit.services import documents as document_service

    db.connect()
    click.echo(f"{document_service.render_pending(limit=limit)} document(s) rendered")
