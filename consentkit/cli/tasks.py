"""``consentkit due``: create tasks for age transitions, record consents suspended at competence.

Safe from cron and idempotent; run it daily so the dashboard's ``suspended`` count and
worklist follow participants who reached competence with no other event.
"""

from __future__ import annotations

import json
from datetime import date

import click

from consentkit import db
from consentkit.clock import today_utc
from consentkit.services.competence import record_competence_reached
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
@click.option("--json", "as_json", is_flag=True, help="Print what was created as one JSON object.")
def due(on: date | None, horizon: int, trial_id: str | None, as_json: bool) -> None:
    """Create consent tasks for participants whose requirements change soon.

    Prints one line per task created (participant code and site, reason, form
    kind, due date), then how many were created and how many already existed,
    so whoever runs it, or reads the cron mail, knows what the site teams now
    have to do. Then one line per participant who has reached the age of legal
    competence since their last event, whose consent is now suspended until their
    own (recorded as an event; the dashboard counts it from then on).
    Idempotent: running it twice, or on several machines at once, creates each
    task once and records each suspension once.
    """
    db.connect()
    day = on.date() if on is not None else today_utc()  # type: ignore[attr-defined]
    report = create_due_tasks(on=day, horizon_days=horizon, trial_id=trial_id)
    competence = record_competence_reached(on=day, trial_id=trial_id)
    if as_json:
        body = {
            "on": day.isoformat(),
            "created": [task.as_dict() for task in report.tasks],
            "existing": report.existing,
            "suspended": [
                {
                    "participant_code": s.participant_code,
                    "site_code": s.site_code,
                    "competence_date": s.competence_date.isoformat(),
                    "record_ids": list(s.record_ids),
                }
                for s in competence.suspended
            ],
        }
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    for task in report.tasks:
        click.echo(task.line())
    click.echo(report.summary())
    for suspended in competence.suspended:
        click.echo(suspended.line())
