"""``consentkit audit``: verify the hash-chained audit trail."""

from __future__ import annotations

import json
import sys

import click

from consentkit import db
from consentkit.services import audit as audit_service


@click.group("audit")
def audit() -> None:
    """Check the tamper-evident audit trail."""


@audit.command("verify")
@click.option("--study", "trial_id", default=None, help="Only this study (trial id).")
@click.option("--participant", "code", default=None, help="Only this participant code.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report per participant.")
def verify(trial_id: str | None, code: str | None, as_json: bool) -> None:
    """Re-walk every participant's event chain and report the first broken link.

    Exit status 1 when any chain is broken.
    """
    db.connect()
    total = audit_service.participants_to_verify(trial_id, code).count()
    # A bar on a terminal only: nothing at all when stderr is piped or redirected.
    with click.progressbar(
        audit_service.verify_each(trial_id=trial_id, code=code),
        length=total,
        label="Verifying chains",
        file=sys.stderr,
        hidden=not sys.stderr.isatty(),
    ) as progress:
        reports = list(progress)
    broken = [r for r in reports if not r.ok]
    for report in reports:
        if as_json:
            click.echo(json.dumps(report.to_dict()))
        elif not report.ok:
            click.echo(f"BROKEN {report.participant_code}: {report.problem}", err=True)
    events = sum(r.events for r in reports)
    click.echo(
        f"{len(reports)} participant(s), {events} event(s): "
        + (f"{len(broken)} broken chain(s)" if broken else "all chains intact")
    )
    if broken:
        raise SystemExit(1)
