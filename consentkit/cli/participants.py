"""``consentkit history`` and ``consentkit profile``: what inspectors and systems ask."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import click

from consentkit import db
from consentkit.errors import NotFoundError
from consentkit.i18n import SOURCE_LOCALE
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
@click.option(
    "--language",
    default=SOURCE_LOCALE,
    show_default=True,
    help="Language of the event labels, e.g. fr (the summaries stay as recorded).",
)
def history(study: str, code: str, as_json: bool, language: str) -> None:
    """Print a participant's complete consent history, for inspectors (21 CFR 11.10(b))."""
    participant = _participant(study, code)
    if as_json:
        events = records.history(participant)
        click.echo(json.dumps(events, ensure_ascii=False, default=str, indent=2))
        return
    click.echo(f"Consent history of {code} in {study} (site {participant.site_code}); times in UTC")
    for entry in timeline.participant_timeline(participant, locale=language):
        when = entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        actor = entry.actor
        who = f"{actor.get('kind')}:{actor.get('role')}" + (
            f" for {actor['on_behalf_of']}" if actor.get("on_behalf_of") else ""
        )
        state = (
            f"  [{entry.state_before} -> {entry.state_after}]"
            if entry.state_after and entry.state_before != entry.state_after
            else ""
        )
        click.echo(f"{entry.seq:>4}  {when}  {entry.type:<28} {who}{state}")
        click.echo(f"      {entry.label}: {entry.summary}")
        click.echo(f"      hash {entry.hash[:16]}  prev {entry.prev_hash[:16]}")


@click.command("profile")
@click.option("--study", required=True, help="Trial id.")
@click.option("--participant", "code", required=True, help="Participant code.")
def profile(study: str, code: str) -> None:
    """Print what is currently permitted for a participant (JSON)."""
    participant = _participant(study, code)
    click.echo(json.dumps(records.profile(participant), ensure_ascii=False, default=str, indent=2))
