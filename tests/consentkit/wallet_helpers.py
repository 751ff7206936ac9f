"""A family with e-mail addresses and a consented parental form, for the wallet tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from consentkit.services import participants, records
from consentkit.services.evidence import AuthEvidence
from tests.consentkit.records_helpers import STAFF, T0, Family, enrolled, prepare, sign

SIGNED = T0 + timedelta(hours=25)
LATER = T0 + timedelta(days=3)
#: The fresh one-time code a wallet change spends, as for a signature.
AUTH = AuthEvidence(factors=("session", "otp"), verified_at=LATER, method="otp-email")


def family_with_email(code: str, email: str) -> Family:
    participant = enrolled(code, birth_date=T0.date().replace(year=2017))
    guardians = [
        participants.add_signer(
            participant,
            role="guardian",
            identity={"name": name, "email": address},
            actor=STAFF,
            now=T0,
        )
        for name, address in (("Ana Lima", email), ("Jo Lima", f"{code}.other@example.org"))
    ]
    child = participants.add_signer(
        participant, role="participant", identity={"name": "Kid"}, actor=STAFF, now=T0
    )
    investigator = participants.add_signer(
        participant,
        role="investigator",
        identity={"name": "Dr Demo", "email": email},  # the same address: still never linked
        actor=STAFF,
        now=T0,
    )
    return Family(participant, guardians, child, investigator)


def consented(family: Family, choices: dict[str, bool] | None = None) -> Any:
    record = records.open_record(
        family.participant, form_id="parental-consent", actor=STAFF, now=T0
    )
    for guardian in family.guardians:
        prepare(family, record, guardian, at=T0, choices=choices)
    for signer in (family.guardians[0], family.investigator, family.guardians[1]):
        sign(family, record, signer, at=SIGNED)
    return record
