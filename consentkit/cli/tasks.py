"""``consentkit due``: create tasks for age transitions (safe from cron, idempotent)."""

from __future__ import annotations

from datetime import date

import click

from consentkit import db
from consentkit.clock import today_utc
from consentkit.services.tasks import create_due_tasks


@click.command("due")
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Reference date [default: today, UTC].",
)
@click.option(
    "--horizon",
    type=click.IntRange(0, 3650),
    default=90,
    show_default=True,
    help="Days ahead to look for band changes, co-sign and competence ages.",
)
@click.option("--study", "trial_id", default=None, help="Only this study.")
def due(on: date | None, horizon: int, trial_id: str | None) -> None:
    """Create consent tasks for participants whose requirements change soon.

    Idempotent: running it twice, or on several machines at once, creates each
    task once.
    """
    db.connect()
    day = on.date() if on is not None else today_utc()  # type: ignore[attr-defined]
    click.echo(create_due_tasks(on=day, horizon_days=horizon, trial_id=trial_id).summary())
