"""Who witnesses whom: read from the participant's events (``witness.registered``).

Pure functions over the chain, shared by opening a record (which adds the witness
of each signer who cannot read) and by the witness service. CTR Art 29(1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from consentkit.enums import SignerRole

__all__ = ["witness_of", "witnessed_on_record", "witnesses_for"]


def witness_of(events: Iterable[Mapping[str, Any]], signer_id: str) -> str | None:
    """Return the witness registered for ``signer_id`` in these events, if any."""
    for event in events:
        if event["type"] == "witness.registered" and event["payload"]["for_signer_id"] == signer_id:
            found: str = event["payload"]["witness_signer_id"]
            return found
    return None


def witnesses_for(
    events: Sequence[Mapping[str, Any]], signer_ids: Iterable[str]
) -> list[dict[str, str]]:
    """Return the witnesses a new record needs: one per signer who cannot read.

    Each is ``{signer_id, role: witness, for_signer_id}``, as in ``required_signers``.
    """
    found = []
    for signer_id in signer_ids:
        witness = witness_of(events, signer_id)
        if witness is not None:
            found.append(
                {"signer_id": witness, "role": SignerRole.WITNESS, "for_signer_id": signer_id}
            )
    return found


def witnessed_on_record(
    events: Iterable[Mapping[str, Any]], record_id: str, witness_id: str
) -> str | None:
    """Return whom ``witness_id`` witnesses on this record (``record.witness-required``).

    Read from the record's events rather than the registration: the witness signs
    on the records that asked for them, after that signer.
    """
    for event in events:
        if (
            event["type"] == "record.witness-required"
            and event.get("record_id") == record_id
            and event["payload"]["signer_id"] == witness_id
        ):
            witnessed: str = event["payload"]["for_signer_id"]
            return witnessed
    return None
