"""``consentkit worker``: send queued messages (e-mail, SMS, push) until SIGTERM."""

from __future__ import annotations

import signal
from types import FrameType

import click

from consentkit import db
from consentkit.channels import configured_channels
from consentkit.worker import Worker


@click.command("worker")
@click.option(
    "--poll",
    "poll_s",
    type=click.FloatRange(0.05, 60),
    default=1.0,
    show_default=True,
    help="Seconds between looks at the outbox when nothing is due.",
)
def worker(poll_s: float) -> None:
    """Send the messages queued in the outbox, under the rules of contact.

    Run as many as you like, on as many machines as you like: they share the
    work through the database and never send one message twice. SIGTERM or
    Ctrl-C finishes the message in hand and exits. Channels are those named by
    CONSENTKIT_MESSAGE_CHANNELS, or every channel that has its settings. Every
    CONSENTKIT_TRIGGER_SCAN_S seconds it also queues the reminders that came due
    (an invitation not used after the study's days); each is queued once, however
    many workers scan.
    """
    db.connect()
    loop = Worker(configured_channels(), poll_s=poll_s)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        loop.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    loop.run()
    click.echo(f"worker stopped: {loop.counts}")
