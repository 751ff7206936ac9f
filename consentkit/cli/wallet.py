"""``consentkit wallet backfill``: index the contacts of signers stored before the wallet."""

from __future__ import annotations

import click

from consentkit import db


@click.group("wallet")
def wallet() -> None:
    """Maintain what the family's wallet links: one person's signers across siblings and studies."""


@wallet.command("backfill")
@click.option(
    "--all",
    "rebuild",
    is_flag=True,
    help="Index every signer again (after CONSENTKIT_BLIND_INDEX_KEY changed).",
)
def backfill(rebuild: bool) -> None:
    """Store the blind index of each signer's contact where it is missing (idempotent).

    New signers and corrected contacts are indexed as they are written; run this
    once after upgrading, and with --all after changing the blind-index key.
    """
    # Imported here: the wallet reads documents, whose PDF sealing (pyHanko) every other
    # command (the worker's first line among them) need not load.
    from consentkit.services import wallet as wallet_service

    db.connect()
    written = wallet_service.backfill_contact_index(rebuild=rebuild)
    click.echo(f"{written} signer(s) indexed")
