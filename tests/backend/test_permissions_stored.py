"""The "may I?" answers kept on the participant are never older than the chain (issue 16).

A repeated question is answered without reading the chain; anything that can change
an answer (a new event, one written by a writer that died before sealing the head,
another local day) is answered afresh. Each expectation is the answer the
participation profile gives without any stored copy (``permissions.answers_after``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from consentkit.models.participant import Participant
from consentkit.services import audit, participation, permissions
from tests.backend.permission_helpers import bearer
from tests.command_counter import counting
from tests.consentkit.records_helpers import STAFF, consented_family

URL = "/api/v1/permissions"
ONE = {"trial_id": "DEMO-NBL-1", "participant": "P-001"}


def _ask(client: Any, headers: dict[str, str], on: datetime | None = None) -> dict[str, Any]:
    query = {**ONE, **({"on": on.isoformat()} if on else {})}
    response = client.get(URL, query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return {a["activity"]: a for a in response.get_json()["answers"]}


def _fresh(participant: Participant, at: datetime) -> dict[str, Any]:
    """The answers derived from the whole chain, with nothing stored."""
    chain = audit.chain_dicts(str(participant.id))
    answers = permissions.answers_after(participant, chain, at=at)
    return {
        a["activity"]: {
            **a,
            "valid_until": a["valid_until"].isoformat() if a["valid_until"] else None,
        }
        for a in answers
    }


def _as_json(answers: dict[str, Any]) -> dict[str, Any]:
    """The API's JSON, with the basis events' times as the library gives them."""
    out = {}
    for activity, a in answers.items():
        events = [
            {**e, "at": datetime.fromisoformat(e["at"]).astimezone(UTC)}
            for e in a["basis"]["events"]
        ]
        out[activity] = {**a, "basis": {**a["basis"], "events": events}}
    return out


def test_a_repeated_question_is_answered_without_reading_the_chain(
    client: Any, demo_study: Any
) -> None:
    consented_family()
    headers = bearer(client)
    first = _ask(client, headers)

    with counting() as again:
        second = _ask(client, headers)

    assert second == first
    # Only the look for an event after the sealed head: no chain read.
    assert again["find audit_events"] == 1
    # The token (which carries its account's study and sites), the minute's call counter,
    # the call's own log document, the participant with its stored answers, and that
    # look: five small commands, none of which grows with the minute's calls.
    assert sum(again.values()) == 5, again
    assert again["update service_uses"] == 1
    assert again["insert service_calls"] == 1


def test_a_withdrawal_after_a_stored_answer_is_answered_at_once(
    client: Any, demo_study: Any
) -> None:
    family, _record = consented_family()
    headers = bearer(client)
    before = _ask(client, headers)

    participation.withdraw(family.participant, scopes=["samples-destroy"], actor=STAFF)
    after = _ask(client, headers)

    assert before["sample-genetic-analysis"]["decision"] == "permit"
    assert after["sample-genetic-analysis"]["decision"] == "deny"
    assert after["sample-genetic-analysis"]["reason"] == "withdrawn:samples-destroy"


def test_an_event_its_writer_did_not_seal_is_not_hidden_by_a_stored_answer(
    client: Any, demo_study: Any
) -> None:
    family, _record = consented_family()
    headers = bearer(client)
    _ask(client, headers)
    stored_head = Participant.objects.get(id=family.participant.id).chain_head

    # The withdrawal is written, but its writer dies before sealing the head: the head
    # still names the event the stored answers were derived from.
    participation.withdraw(family.participant, scopes=["samples-destroy"], actor=STAFF)
    Participant.objects(id=family.participant.id).update_one(set__chain_head=stored_head)
    after = _ask(client, headers)

    assert after["sample-genetic-analysis"]["decision"] == "deny"


def test_stored_answers_equal_fresh_ones_across_days(client: Any, demo_study: Any) -> None:
    # Born 2017-05-04 in France: 9 until 2027-05-04, then in the 10-13 band.
    family, _record = consented_family()
    participant = family.participant
    headers = bearer(client)
    moments = [
        datetime(2027, 5, 3, 10, 0, tzinfo=UTC),
        datetime(2027, 5, 3, 20, 0, tzinfo=UTC),  # same day in Paris: the stored answers
        datetime(2027, 5, 4, 10, 0, tzinfo=UTC),  # the birthday: a new band, a new day
        datetime(2027, 5, 4, 11, 0, tzinfo=UTC),
        datetime(2027, 5, 3, 21, 0, tzinfo=UTC),  # back to the day before
    ]

    asked = [_ask(client, headers, on=at) for at in moments]

    for at, answers in zip(moments, asked, strict=True):
        assert _as_json(answers) == _fresh(participant, at), at
    # The band changes the day the answers hold until: a stored copy could not hide it.
    assert asked[0]["treatment"]["valid_until"] != asked[2]["treatment"]["valid_until"]
