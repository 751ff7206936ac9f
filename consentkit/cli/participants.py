"""``consentkit history`` and ``consentkit profile``: what inspectors and systems ask."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import click

from consentkit import db
from consentkit.errors import NotFoundError
from consentkit.services import participants, records, timeline


def _participant(study: str, code: str) -> Any:
    db.connect()
    try:
        return participants.get_participant(study, code)
    except NotFoundError as exc:
        raise click.ClickException(exc.message) from exc


@click.command("history")
@click.option("--study", required=True, help="Trial id, e.g. DEMO-NBL-1.")
@click.option("--participant", "code", required=True, help="Participant code.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def history(study: str, code: str, as_json: bool) -> None:
    """Print a participant's complete consent history, for inspectors (21 CFR 11.10(b))."""
    participant = _participant(study, code)
    events = records.history(participant)
    if as_json:
        click.echo(json.dumps(events, ensure_ascii=False, default=str, indent=2))
        return
    click.echo(f"Consent history of {code} in {study} (site {participant.site_code}); times in UTC")
    for event in events:
        when = event["at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        actor = event["actor"]
        who = f"{actor['kind']}:{actor['role']}" + (
            f" for {actor['on_behalf_of']}" if actor.get("on_behalf_of") else ""
        )
        state = (
            f"  [{event['state_before']} -> {event['state_after']}]"
            if event.get("state_after") and event["state_before"] != event["state_after"]
            else ""
        )
        click.echo(f"{event['seq']:>4}  {when}  {event['type']:<28} {who}{state}")
        click.echo(f"      {timeline.summary(event)}")
        click.echo(f"      hash {event['hash'][:16]}  prev {event['prev_hash'][:16]}")


@click.command("profile")
@click.option("--study", required=True, help="Trial id.")
@click.option("--participant", "code", required=True, help="Participant code.")
def profile(study: str, code: str) -> None:
    """Print what is currently permitted for a participant (JSON)."""
    participant = _participant(study, code)
    click.echo(json.dumps(records.profile(participant), ensure_ascii=False, default=str, indent=2))
