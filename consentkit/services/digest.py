"""The staff digest: each morning, to each site member, what waits for them at their sites.

Once a day per member, in their language, at :data:`DIGEST_HOUR` in the time zone
of their site: the countersignatures waiting, the family questions unanswered for
over a day, the records due to consent again, the records whose completion window
ends within :data:`EXPIRING_DAYS` days, and the messages to families that failed in
the last day. Each count is the one the dashboard or the questions inbox gives
(:func:`consentkit.services.dashboard.summary`,
:func:`~consentkit.services.dashboard.countersign_waiting`,
:func:`~consentkit.services.dashboard.expiring_within`,
:func:`consentkit.services.questions.inbox`): no rule is derived again here.
Nothing is sent on a day with nothing to report.

Investigators and site staff receive it unless they switched it off
(:func:`set_digest`, the switch on their staff home page); a study switches it off
for its own counts with the ``staff-digest`` trigger (:mod:`consentkit.policy.triggers`).
``consentkit worker`` queues it with the other reminders (:func:`queue_digests`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from consentkit import settings
from consentkit.clock import now_utc
from consentkit.errors import NotFoundError
from consentkit.models.outbox import FAILED, OutboxMessage
from consentkit.models.participant import Participant
from consentkit.models.staff import StaffMember
from consentkit.models.study import Study
from consentkit.policy.roles import ALL_SITES, Grant, StaffRole
from consentkit.policy.triggers import trigger
from consentkit.services import dashboard, outbox, questions
from consentkit.services.forms import catalog

#: The message kind (``templates/messages/staff-digest.html``) and its trigger.
KIND = "staff-digest"
#: Roles that work at a site: they receive the digest unless they switch it off.
SITE_ROLES = (StaffRole.INVESTIGATOR, StaffRole.SITE_STAFF)
#: The local hour (site time) from which the day's digest is put together: the end of
#: the default quiet hours (``CONSENTKIT_QUIET_HOURS``, kept in the site's zone for it).
DIGEST_HOUR = 8
#: A record whose completion window ends within this many days is "expiring".
EXPIRING_DAYS = 7
#: A question open this long is "unanswered".
UNANSWERED_AFTER = timedelta(days=1)
#: Failed deliveries are counted over this last stretch (the time since the last digest).
FAILED_SINCE = timedelta(days=1)


@dataclass(frozen=True)
class StudyDigest:
    """What waits for a member in one study, at the sites they work at."""

    study: str
    countersign_waiting: int
    questions_unanswered: int
    reconsent_due: int
    expiring: int
    failed_deliveries: int

    @property
    def total(self) -> int:
        """Return how many things this study's part reports."""
        return (
            self.countersign_waiting
            + self.questions_unanswered
            + self.reconsent_due
            + self.expiring
            + self.failed_deliveries
        )


@dataclass(frozen=True)
class Digest:
    """One member's digest of one local day: a part per study with something to report."""

    staff_id: str
    day: date
    studies: list[StudyDigest]

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to report (then nothing is sent)."""
        return not self.studies


@dataclass
class DigestReport:
    """What one :func:`queue_digests` did: dedupe keys queued, members with nothing to report."""

    queued: list[str] = field(default_factory=list)
    empty: int = 0


def _site_grants(member: StaffMember) -> dict[str, set[str]]:
    """Return the sites per study where the member works (``*``: all)."""
    sites: dict[str, set[str]] = {}
    for grant in (Grant.from_dict(g) for g in member.grants):
        if grant.role in SITE_ROLES:
            sites.setdefault(grant.trial_id, set()).update(grant.sites)
    return sites


def receives_digest(member: StaffMember) -> bool:
    """Whether the member is someone the digest is for (works at a site), on or off."""
    return bool(_site_grants(member))


def set_digest(member: StaffMember, *, enabled: bool) -> StaffMember:
    """Switch the member's daily digest on or off; returns the member as stored."""
    StaffMember.objects(id=member.id).update_one(set__digest_enabled=enabled)
    member.digest_enabled = enabled
    return member


def member_zone(member: StaffMember) -> ZoneInfo:
    """Return the time zone of the member's site (their first), else their own setting."""
    for trial_id, sites in sorted(_site_grants(member).items()):
        named = sorted(sites - {ALL_SITES})
        try:
            zones = {s.code: s.timezone for s in catalog(trial_id).study.sites}
        except NotFoundError:
            continue
        for code in named:
            if code in zones:
                return ZoneInfo(zones[code])
    return ZoneInfo(member.time_zone or "UTC")


def _failed(trial_id: str, sites: Collection[str] | None, since: datetime) -> int:
    """Count the messages to families of the study at ``sites`` that failed since ``since``."""
    # The partial index of failed messages (trial_id, finished_at); jobs and webhook
    # deliveries name no participant and are not messages to a family.
    failed = OutboxMessage.objects(trial_id=trial_id, status=FAILED, finished_at__gte=since).only(
        "participant_id"
    )
    ids = [m.participant_id for m in failed if m.participant_id]
    if not ids:
        return 0
    if sites is None:
        return len(ids)
    at_sites = {
        str(p.id)
        for p in Participant.objects(id__in=sorted(set(ids)), site_code__in=sorted(sites)).only(
            "id"
        )
    }
    return sum(1 for i in ids if i in at_sites)


def study_digest(trial_id: str, sites: Collection[str] | None, *, now: datetime) -> StudyDigest:
    """Return what waits at ``sites`` of a study (None: every site) at ``now``."""
    summary = dashboard.summary(trial_id, site_codes=sites, at=now)
    asked = questions.inbox(
        trial_id,
        site_codes=None if sites is None else sorted(sites),
        status=questions.QuestionStatus.OPEN,
    )
    return StudyDigest(
        study=trial_id,
        countersign_waiting=dashboard.countersign_waiting(trial_id, site_codes=sites, at=now),
        questions_unanswered=sum(1 for q in asked if q.asked_at <= now - UNANSWERED_AFTER),
        reconsent_due=summary.reconsent_due,
        expiring=dashboard.expiring_within(trial_id, EXPIRING_DAYS, site_codes=sites, at=now),
        failed_deliveries=_failed(trial_id, sites, now - FAILED_SINCE),
    )


#: Study parts already counted in one :func:`queue_digests` pass, by (study, sites).
_Seen = dict[tuple[str, frozenset[str] | None], StudyDigest]


def digest_for(
    member: StaffMember, *, now: datetime | None = None, seen: _Seen | None = None
) -> Digest:
    """Return the member's digest at ``now``: the studies (with the trigger on) with news.

    ``seen``: the parts counted for other members in the same pass (colleagues at the
    same sites share them), filled as it goes.
    """
    now = now or now_utc()
    seen = {} if seen is None else seen
    parts = []
    for trial_id, sites in sorted(_site_grants(member).items()):
        # The settings as stored now, as the reminders' scan reads them.
        study = Study.objects(trial_id=trial_id).only("settings").first()
        if study is None or not trigger(study.settings, KIND).enabled:
            continue
        scope = None if ALL_SITES in sites else frozenset(sites)
        if (trial_id, scope) not in seen:
            seen[(trial_id, scope)] = study_digest(trial_id, scope, now=now)
        part = seen[(trial_id, scope)]
        if part.total:
            parts.append(part)
    return Digest(str(member.id), now.astimezone(member_zone(member)).date(), parts)


def _message(member: StaffMember, digest: Digest, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "kind": KIND,
        "recipient": {"email": member.email, "timezone": zone.key},
        "dedupe_key": f"{KIND}:{member.id}:{digest.day.isoformat()}",
        "locale": member.locale,
        "params": {
            "date": digest.day.isoformat(),
            "studies": [asdict(part) for part in digest.studies],
            "expiring_days": EXPIRING_DAYS,
            "link": f"{settings.public_url()}/staff/",
        },
    }


def queue_digests(*, now: datetime | None = None) -> DigestReport:
    """Queue today's digest of each member due one (from :data:`DIGEST_HOUR` site time).

    Each active investigator and site member with the digest on is considered once
    per local day: a conditional update of ``digest_day`` claims the day (two
    workers scanning at once compute it once), and the dedupe key names the member
    and the day, so a member never receives two digests the same day. A day with
    nothing to report sends nothing (and is not looked at again).
    """
    now = now or now_utc()
    report = DigestReport()
    seen: _Seen = {}
    for member in StaffMember.objects(
        active=True, digest_enabled__ne=False, grants__role__in=[r.value for r in SITE_ROLES]
    ):
        zone = member_zone(member)
        local = now.astimezone(zone)
        day = local.date().isoformat()
        if local.hour < DIGEST_HOUR or member.digest_day == day:
            continue
        claimed = StaffMember.objects(id=member.id, digest_day__ne=day).update_one(
            set__digest_day=day
        )
        if not claimed:
            continue  # another worker has this member's day
        try:
            digest = digest_for(member, now=now, seen=seen)
            if not digest.is_empty:
                message = _message(member, digest, zone)
                outbox.enqueue(**message, now=now)
        except Exception:
            # Give the day back, so the next pass (this worker's or another's) tries again.
            StaffMember.objects(id=member.id, digest_day=day).update_one(
                set__digest_day=member.digest_day
            )
            raise
        if digest.is_empty:
            report.empty += 1
        else:
            report.queued.append(message["dedupe_key"])
    return report
