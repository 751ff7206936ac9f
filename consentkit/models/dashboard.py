"""Counters behind the staff dashboard, kept as events happen (issue 7).

The dashboard of a study with 100,000 participants must answer in well under a
second, and counting projections on each request is slow on the embedded
server (SecantusDB has no index-only count: every matching document is read,
about 50 microseconds each, measured in ``bench/dashboard.py``). These
documents hold the same numbers, moved by the services in the write that
changes them, so a summary reads a handful of documents.

They are derived data, like the record projection: ``consentkit dashboard
rebuild`` recomputes them from the projections at any time.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateTimeField, DictField, IntField, StringField

from consentkit.models.base import BaseDocument

#: Separates the parts of a counter key; parts are escaped so neither it nor a dot occurs.
KEY_SEP = "|"
_ESCAPES = (("%", "%25"), (".", "%2E"), (KEY_SEP, "%7C"), ("$", "%24"))


def counter_key(*parts: object) -> str:
    """Join key parts into a map key MongoDB accepts in an ``$inc`` path.

    A dot would split the path and a leading ``$`` is an operator, so both are
    escaped along with the separator (site codes and locales are free text).
    """
    escaped = []
    for part in parts:
        text = str(part)
        for raw, code in _ESCAPES:
            text = text.replace(raw, code)
        escaped.append(text)
    return KEY_SEP.join(escaped)


def split_key(key: str) -> list[str]:
    """Return the parts of a key built by :func:`counter_key`."""
    parts = key.split(KEY_SEP)
    if "%" not in key:  # the usual case, and a summary splits a few thousand keys
        return parts
    for index, text in enumerate(parts):
        for raw, code in reversed(_ESCAPES):
            text = text.replace(code, raw)
        parts[index] = text
    return parts


class StatusCount(BaseDocument):
    """The live counts of one site of a study: records by state, participants, withdrawals.

    One document per (study, site) holds one entry per (form, version,
    language, state) in ``counts``. A record moving from one state to another
    is then a single atomic ``$inc`` of -1 and +1 on one document (STYLE rule
    3), and a summary of a whole study reads one document per site instead of
    one row per combination: 444 in ``bench/dashboard.py``'s study of 100,000
    participants, which at about 50 microseconds a document would spend
    half of the 50 ms budget on reading rows alone.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "status_counts",
        "indexes": [{"fields": ["trial_id", "site_code"], "unique": True}],
    }

    trial_id = StringField(required=True)
    site_code = StringField(required=True)
    #: ``counter_key(form_id, version, locale, state)`` -> records in that state.
    counts = DictField()
    #: Participants enrolled at the site (never decremented: enrolment is never undone).
    participants = IntField(default=0)
    #: Withdrawal scope -> participants who withdrew in that scope.
    withdrawn = DictField()
    #: ``counter_key(form_id, version, locale, state)`` -> the latest opening time of a
    #: record that was ever counted there (``$max``; never lowered when records leave).
    #: An upper bound of the opening times the key holds: a worklist of that state starts
    #: its newest-first walk there instead of today (``consentkit.services.keyset``).
    newest = DictField()
    #: When the site's first record opened (``$min``): the walk ends there.
    oldest_opened = DateTimeField(null=True)


class DateCount(BaseDocument):
    """Day-by-day counts of one month, for numbers that depend on the day they are asked.

    ``metric`` is ``competence``: participants by the date they reach the
    competence age of their country, keyed ``counter_key(site_code, day)``; or
    ``due``: records still awaiting information or signatures by the UTC date
    their completion window ends, keyed ``counter_key(site_code, form_id,
    version, locale, state, "1" if partially signed else "0", day)``, so that
    the records not yet expired can be told apart in every breakdown. A
    90-day window reads at most four documents, whatever the study's size.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "date_counts",
        "indexes": [{"fields": ["trial_id", "metric", "month"], "unique": True}],
    }

    trial_id = StringField(required=True)
    metric = StringField(required=True, choices=["competence", "due"])
    #: ``YYYY-MM``
    month = StringField(required=True)
    #: Key (see above) -> count.
    counts = DictField()
    #: ``due`` keys -> the latest opening time of a record ever counted there (``$max``):
    #: where the walk of the expired records starts (:class:`StatusCount` ``newest``).
    newest = DictField()
