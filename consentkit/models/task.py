"""Work that consent changes create: re-consent after a major version, new assent, own consent."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateField, DateTimeField, StringField

from consentkit.models.base import BaseDocument


class ConsentTask(BaseDocument):
    """Something a family or the site must do about consent, with its reason and due date.

    ``key`` is unique: creating the same task twice (two cron machines, a re-run)
    inserts it once.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "consent_tasks",
        "indexes": [
            {"fields": ["key"], "unique": True},
            {"fields": ["trial_id", "site_code", "status", "due_date"]},
            {"fields": ["participant_id", "status"]},
        ],
    }

    key = StringField(required=True)
    trial_id = StringField(required=True)
    participant_id = StringField(required=True)
    participant_code = StringField(required=True)
    site_code = StringField(required=True)
    #: reconsent | age-band | minor-role | competence-age
    reason = StringField(required=True)
    form_kind = StringField(required=True)
    form_id = StringField(null=True)
    version = StringField(null=True)
    due_date = DateField(required=True)
    #: open (nothing opened yet) | in-progress (``record_id`` opened for it) | done (that
    #: record was consented). A projection of the audit events (``task.opened`` and the
    #: record's derived state), kept for the worklists; the events decide.
    status = StringField(required=True, default="open")
    detail = StringField(default="")
    created_at = DateTimeField(required=True)
    #: The record opened for this task (consentkit.services.transitions.open_for_task).
    record_id = StringField(null=True)
    opened_at = DateTimeField(null=True)
    resolved_at = DateTimeField(null=True)
