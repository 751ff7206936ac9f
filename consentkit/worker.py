"""``consentkit worker``: lease due messages from the outbox and send them, until stopped.

Any number of workers may run, on any number of machines: they coordinate only
through the database (:func:`consentkit.services.outbox.lease` is a conditional
update, so two workers never hold one message). Each message is checked against
the rules of contact at send time (:mod:`consentkit.policy.contact`), rendered in
the recipient's language and handed to its channel. ``stop()`` (SIGTERM) lets the
message in hand finish, then returns; a worker killed outright leaves at most that
one message leased, which another worker sends again when the lease expires, with
the same dedupe key for the gateway.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import socket
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import jinja2

from consentkit import settings
from consentkit.channels import Channel, ChannelError, Outgoing
from consentkit.clock import now_utc
from consentkit.errors import ConsentKitError, NotFoundError
from consentkit.models.outbox import OutboxMessage
from consentkit.models.participant import Participant
from consentkit.policy import contact as contact_policy
from consentkit.rendering.messages import render_message
from consentkit.services import digest, jobs, outbox, triggers, webhooks

log = logging.getLogger(__name__)


def unsubscribe_url(signer_id: str) -> str:
    """Return the one-tap link that switches off a signer's non-essential messages."""
    return f"{settings.public_url()}/family/unsubscribe/{outbox.unsubscribe_token(signer_id)}"


def process(
    message: OutboxMessage,
    owner: str,
    channels: Mapping[str, Channel],
    *,
    now: datetime | None = None,
) -> str:
    """Decide, render and send one leased message; return its new status.

    A job (:mod:`consentkit.services.jobs`) is run, not sent: no recipient, no
    rules of contact.
    """
    now = now or now_utc()
    if jobs.is_job(message.kind):
        return run_job(message, owner, now=now)
    if message.channel == webhooks.CHANNEL:
        # To another system, not a person: no rules of contact, no template (docs/webhooks.md).
        return webhooks.deliver(message, owner, now=now)
    addressed = outbox.address(message, now=now)
    recipient = dataclasses.replace(
        addressed.recipient,
        reachable_by=tuple(c for c in addressed.recipient.reachable_by if c in channels),
    )
    decision = outbox.decide(message, dataclasses.replace(addressed, recipient=recipient), now)
    if decision.action == contact_policy.SKIP:
        outbox.mark_skipped(message, owner, reason=decision.reason or "skipped", now=now)
        return "skipped"
    if decision.action == contact_policy.DEFER:
        assert decision.until is not None
        outbox.defer(message, owner, until=decision.until, reason=decision.reason or "", now=now)
        return "queued"
    assert decision.channel is not None
    signer_id = message.recipient.get("signer_id")
    link = unsubscribe_url(signer_id) if signer_id and not message.is_essential else None
    try:
        rendered = render_message(
            message.kind,
            {**message.params, "locale": addressed.locale or "en", "unsubscribe_link": link},
            locale=addressed.locale,
        )
    except jinja2.TemplateError as exc:
        outbox.mark_failed(
            message, owner, error=f"template: {type(exc).__name__}", permanent=True, now=now
        )
        return "failed"
    outgoing = Outgoing(
        dedupe_key=message.dedupe_key,
        message=rendered,
        contacts=addressed.contacts,
        is_essential=message.is_essential,
        unsubscribe_url=link,
    )
    try:
        destination = channels[decision.channel].send(outgoing)
    except ChannelError as exc:
        outbox.mark_failed(message, owner, error=exc.reason, permanent=exc.permanent, now=now)
        return "failed" if exc.permanent else "queued"
    outbox.mark_sent(message, owner, channel=decision.channel, destination=destination, now=now)
    return "sent"


def _render_consent(params: Mapping[str, Any]) -> str:
    """Render (or find already rendered) the sealed PDF a completed record's job names.

    WeasyPrint and pyHanko are imported on the first job, not when the worker
    starts: a worker that only sends messages never loads them.
    """
    from consentkit.services import documents

    participant = Participant.objects(id=params["participant_id"]).first()
    if participant is None:
        raise NotFoundError("The participant of this document no longer exists.")
    result = documents.consent_document(participant, params["record_id"], locale=params["locale"])
    return f"{result.document.key} ({result.document.size} bytes)"


def _tell_families(params: Mapping[str, Any]) -> str:
    """Message the families told of a study's news or results (the publication's job).

    Imported on the first such job, like the renderer: a worker that only sends
    messages does not load the participation rules it reads.
    """
    from consentkit.services import news

    return f"{news.tell_families(params['publication_id'])} messages queued"


#: What the worker runs for each job kind; returns what to log as the job's outcome.
JOBS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    jobs.RENDER_CONSENT: _render_consent,
    jobs.TELL_FAMILIES: _tell_families,
}
#: Refusals that may pass: another process is rendering the same document right now.
_RETRYABLE_CODES = frozenset({"document-pending"})


def run_job(message: OutboxMessage, owner: str, *, now: datetime | None = None) -> str:
    """Run one leased job; return its new status (``sent`` once done).

    A refusal of the library (the record is not complete, no such language)
    will not change by retrying, so it fails for good; anything else (the
    database gone, a renderer busy) is retried with the outbox's backoff.
    """
    now = now or now_utc()
    try:
        outcome = JOBS[message.kind](message.params)
    except ConsentKitError as exc:
        permanent = exc.code not in _RETRYABLE_CODES
        outbox.mark_failed(message, owner, error=f"job: {exc.code}", permanent=permanent, now=now)
        return "failed" if permanent else "queued"
    outbox.mark_sent(message, owner, channel="job", destination=outcome[:200], now=now)
    return "sent"


class Worker:
    """One sending loop; ``run()`` until ``stop()``."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        *,
        poll_s: float = 1.0,
        clock: Callable[[], datetime] = now_utc,
        scan_s: float | None = None,
    ) -> None:
        """Send by ``channels``; when nothing is due, look again every ``poll_s`` seconds.

        Every ``scan_s`` seconds (``CONSENTKIT_TRIGGER_SCAN_S``) of ``clock`` the
        worker also queues the reminders that came due (:func:`triggers.scan`).
        """
        self.channels = dict(channels)
        self.poll_s = poll_s
        self.clock = clock
        self.scan_s = settings.trigger_scan_s() if scan_s is None else scan_s
        self._scanned_at: datetime | None = None
        #: Unique per process and start: the lease owner written on each message held.
        self.owner = f"{socket.gethostname()}:{secrets.token_hex(6)}"
        self._stopping = threading.Event()
        #: Ids of due messages read in one batch, claimed one at a time.
        self._candidates: list[Any] = []
        self.counts: dict[str, int] = {}

    def stop(self) -> None:
        """Finish the message in hand, then return from :meth:`run` (SIGTERM calls this)."""
        self._stopping.set()

    def _lease(self) -> OutboxMessage | None:
        """Claim the next due message from the batch read last, reading a new batch when spent.

        Then, when nothing is queued and due, a message whose worker died mid-send.
        """
        for refill in (False, True):
            if refill:
                self._candidates = outbox.due_candidates(now=self.clock())
            while self._candidates:
                found = outbox.claim(self.owner, self._candidates.pop(), now=self.clock())
                if found is not None:
                    return found
        return outbox.lease_expired(self.owner, now=self.clock())

    def scan_if_due(self) -> None:
        """Queue the reminders that came due, at most once every ``scan_s`` seconds.

        Every worker scans; the dedupe keys keep it one message per reminder, so
        no coordination beyond the database is needed. The staff digests are
        queued in the same pass (:func:`digest.queue_digests`). A failed scan is logged and
        tried again at the next interval: sending goes on.
        """
        now = self.clock()
        if self._scanned_at is not None and (now - self._scanned_at).total_seconds() < self.scan_s:
            return
        self._scanned_at = now
        try:
            report = triggers.scan(now=now)
        except Exception:  # the database unreachable, a bad study setting: sending goes on
            log.exception("trigger scan failed")
        else:
            if report.queued:
                log.info("queued %d reminder(s)", len(report.queued))
        try:
            digests = digest.queue_digests(now=now)
        except Exception:  # as above: the next interval tries again
            log.exception("staff digest failed")
        else:
            if digests.queued:
                log.info("queued %d staff digest(s)", len(digests.queued))

    def run_once(self) -> bool:
        """Lease and process one message; return False when none was due."""
        self.scan_if_due()
        message = self._lease()
        if message is None:
            return False
        try:
            status = process(message, self.owner, self.channels, now=self.clock())
        except Exception as exc:  # a bug or the database gone: retry later, keep the loop
            log.exception("message %s could not be processed", message.id)
            outbox.mark_failed(
                message, self.owner, error=f"worker: {type(exc).__name__}", permanent=False
            )
            status = "error"
        self.counts[status] = self.counts.get(status, 0) + 1
        return True

    def run(self) -> None:
        """Send due messages until :meth:`stop`; sleep ``poll_s`` whenever none is due."""
        log.info("worker %s sending by %s", self.owner, ", ".join(self.channels) or "no channel")
        while not self._stopping.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the database unreachable: wait and try again
                log.exception("outbox unavailable")
                busy = False
            if not busy:
                self._stopping.wait(self.poll_s)
        log.info("worker %s stopped: %s", self.owner, self.counts)
