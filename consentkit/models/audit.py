"""The append-only, hash-chained audit trail, and the record projection derived from it."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    IntField,
    ListField,
    StringField,
)

from consentkit.models.base import BaseDocument


class AuditEvent(BaseDocument):
    """One state-changing action on a participant's consents.

    Events of a participant form a chain: ``seq`` counts from 1 without gaps and
    ``hash`` covers the event and ``prev_hash``. The unique (participant, seq)
    index makes appending a compare-and-set: two writers cannot both take the
    same place, so concurrent actions are serialised without transactions.
    No code path updates or deletes an event.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "audit_events",
        "indexes": [
            {"fields": ["participant_id", "seq"], "unique": True},
            {"fields": ["record_id", "seq"]},
            # A ceremony step's participant-wide events (ceremony.record_scope), by type.
            {"fields": ["participant_id", "type", "seq"]},
            {"fields": ["trial_id", "type", "at"]},
        ],
    }

    trial_id = StringField(required=True)
    participant_id = StringField(required=True)
    seq = IntField(required=True, min_value=1)
    prev_hash = StringField(required=True)
    hash = StringField(required=True)
    type = StringField(required=True)
    at = DateTimeField(required=True)
    #: ``{"kind": "signer"|"staff"|"system", "id", "role", "on_behalf_of"?}``
    actor = DictField(required=True)
    record_id = StringField(null=True)
    payload = DictField()
    #: The record state before and after this event, where it concerns a record.
    state_before = StringField(null=True)
    state_after = StringField(null=True)


class ConsentRecord(BaseDocument):
    """Projection of one participant x form version: its derived state, for fast reads.

    The events are the truth; this document is rebuilt from them and only ever
    moved forward (``last_seq`` guards the update), so a lagging writer cannot
    overwrite a newer state.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "consent_records",
        "indexes": [
            {"fields": ["record_id"], "unique": True},
            {"fields": ["participant_id"]},
            # The worklist, newest first (consentkit.services.keyset): each filter's equality
            # fields then opened_at, which the windows of a page are a range on. The two
            # four-field ones also serve the equality lookups of their first fields.
            {"fields": ["trial_id", "opened_at"]},
            {"fields": ["trial_id", "site_code", "opened_at"]},
            {"fields": ["trial_id", "state", "opened_at"]},
            {"fields": ["trial_id", "form_id", "opened_at"]},
            {"fields": ["trial_id", "site_code", "state", "opened_at"]},
            {"fields": ["trial_id", "form_id", "version", "state", "opened_at"]},
            # The dashboard: records whose completion window ends on a given day.
            {"fields": ["trial_id", "state", "due_at"]},
            # A participant code prefix is a range on it.
            {"fields": ["trial_id", "participant_code", "form_id", "version"]},
        ],
    }

    record_id = StringField(required=True)
    trial_id = StringField(required=True)
    participant_id = StringField(required=True)
    participant_code = StringField(required=True)
    site_code = StringField(required=True)
    form_id = StringField(required=True)
    form_kind = StringField(required=True)
    version = IntField(required=True)
    locale = StringField(required=True)
    state = StringField(required=True)
    missing_signers = ListField(DictField())
    last_seq = IntField(required=True)
    opened_at = DateTimeField(required=True)
    completed_at = DateTimeField(null=True)
    #: End of the completion window (``record.opened`` ``window_days`` after opening): past it
    #: a record still awaiting information or signatures is expired. Time alone never moves
    #: ``state``, so the dashboard counts expired records by this date.
    due_at = DateTimeField(null=True)
    #: Awaiting signatures, and at least one required signer has signed.
    is_partial = BooleanField(default=False)
