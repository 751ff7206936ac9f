"""``consentkit dashboard rebuild``: recompute the dashboard counters from the projections."""

from __future__ import annotations

import click

from consentkit import db
from consentkit.errors import NotFoundError
from consentkit.services import dashboard as dashboard_service


@click.group("dashboard")
def dashboard() -> None:
    """Maintain the staff dashboard's counters."""


@dashboard.command("rebuild")
@click.option("--trial", "--study", "trial_id", required=True, help="Trial id, e.g. DEMO-NBL-1.")
def rebuild(trial_id: str) -> None:
    """Recount a study's dashboard counters from the record projections and list corrections.

    The counters move with every event; a process that died between writing a
    projection and its counter leaves one off by one, which this repairs. Run
    it when the study is quiet (writes during the recount may be missed), or
    run it twice.
    """
    db.connect()
    try:
        report = dashboard_service.rebuild_counts(trial_id)
    except NotFoundError as exc:
        raise click.ClickException(exc.message) from exc
    for line in report.corrected:
        click.echo(f"corrected {line}")
    click.echo(report.summary())
