"""Participants (pseudonymous) and signers (identifying data encrypted, kept apart)."""

from __future__ import annotations

from typing import Any, ClassVar

from mongoengine import DateField, DateTimeField, DictField, IntField, ListField, StringField

from consentkit.enums import SignerRole
from consentkit.models.base import BaseDocument


class Participant(BaseDocument):
    """A child or adult in a study, known only by a study-scoped code.

    The birth date, country and site decide the consent requirements; a change
    of birth date is an audited event, not an edit of this document alone.
    """

    meta: ClassVar[dict[str, Any]] = {
        "collection": "participants",
        "indexes": [
            {"fields": ["trial_id", "code"], "unique": True},
            # Who reaches the competence age soon, per site (the dashboard reads counters). It
            # serves (trial, site) queries too: on SecantusDB each index slows every insert.
            {"fields": ["trial_id", "site_code", "competence_date"]},
        ],
    }

    trial_id = StringField(required=True)
    code = StringField(required=True)
    site_code = StringField(required=True)
    country = StringField(required=True)
    timezone = StringField(required=True)
    birth_date = DateField(required=True)
    preferred_language = StringField(null=True)
    #: The day the participant reaches the age of legal competence of their country, from
    #: the rule pack at enrolment or at the last birth-date correction (CTR Art 32(3)).
    competence_date = DateField(null=True)
    #: Withdrawal scopes recorded so far, projected from the events (only ever grows, so a
    #: conditional ``$addToSet`` tells exactly one writer it added a scope).
    withdrawn_scopes = ListField(StringField())
    #: ``{"seq", "hash", "mac"}`` of the last audit event: detects a truncated chain.
    chain_head = DictField()
    #: The "may I?" answers for every activity while they hold (services.permissions):
    #: ``{seq, config, start, end, answers}``; a derived copy, never the record of anything.
    permissions_cache = DictField()
    created_at = DateTimeField(required=True)


class Signer(BaseDocument):
    """Someone who signs for or about a participant; identity encrypted at rest."""

    meta: ClassVar[dict[str, Any]] = {
        "collection": "signers",
        "indexes": [
            {"fields": ["participant_id"]},
            # One person's signers across siblings and studies (the family's wallet).
            {"fields": ["contact_index"]},
        ],
    }

    trial_id = StringField(required=True)
    participant_id = StringField(required=True)
    role = StringField(required=True, choices=[r.value for r in SignerRole])
    #: Fernet token of ``{"name", "email", "phone", ...}`` (consentkit.crypto).
    identity = StringField(required=True)
    preferred_language = StringField(null=True)
    created_at = DateTimeField(required=True)
    #: Keyed blind indexes of the e-mail and phone (``consentkit.crypto.contact_index``):
    #: finds the same person's signers without decrypting anyone's identity. Absent on
    #: signers stored before it existed until ``consentkit wallet backfill`` runs.
    contact_index = ListField(StringField())
    #: Optional authenticator app for returning signers (Fernet tokens; pending until confirmed).
    totp_secret = StringField(null=True)
    totp_pending = StringField(null=True)
    #: The last TOTP time step accepted: each code works once.
    totp_last_step = IntField(default=0)
