"""The family pages say where the family is and what it waits for, in their words (issue 14).

The task list (``GET /me/tasks``) carries the record's steps in the ceremony's
order and the state as the signer reads it; the pages show both as given.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from backend.web import CONTENT_SECURITY_POLICY
from consentkit.clock import now_utc
from consentkit.services import ceremony, participants, records
from tests.backend.signer_access_world import API, sign_in
from tests.consentkit.records_helpers import (
    STAFF,
    Family,
    content,
    make_family,
    prepare,
    sign,
    signer_actor,
)


@pytest.fixture(autouse=True)
def _console_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTKIT_OTP_SENDER", "console")


@pytest.fixture
def opened(demo_study: Any) -> tuple[Family, Any]:
    """A French family (two parents, the investigator) with the parental consent opened."""
    family = make_family("FR-UX", at=now_utc() - timedelta(days=3))
    record = records.open_record(
        family.participant,
        form_id="parental-consent",
        actor=STAFF,
        now=now_utc() - timedelta(days=3),
    )
    return family, record


def prepare_reading(family: Family, record: Any, signer: Any) -> None:
    """Read every section of the French text (the step before the questions)."""
    ceremony.record_views(
        family.participant,
        record.record_id,
        signer_id=str(signer.id),
        locale="fr",
        sections=[{"id": s["id"], "seconds": 30} for s in content(record, "fr")["sections"]],
        actor=signer_actor(signer),
    )


def _task(client: Any, phone: Any, record: Any) -> dict[str, Any]:
    listed = client.get(f"{API}/me/tasks", headers={**phone.headers, "Accept-Language": "en"})
    assert listed.status_code == 200, listed.get_json()
    [task] = [t for t in listed.get_json() if t["record_id"] == record.record_id]
    return task


def test_tasks_give_the_record_steps_in_the_ceremony_order(
    client: Any, opened: tuple[Family, Any]
) -> None:
    family, record = opened
    phone = sign_in(client, family, family.guardians[0])

    task = _task(client, phone, record)

    # The demo parental consent asks questions and has choices.
    assert task["steps"] == ["read", "questions", "choices", "sign"]
    assert task["next_step"] == "read"


def test_tasks_tell_a_parent_before_signing_it_is_their_turn(
    client: Any, opened: tuple[Family, Any]
) -> None:
    family, record = opened
    phone = sign_in(client, family, family.guardians[0])

    assert _task(client, phone, record)["status_text"] == "Your turn"


def test_tasks_tell_a_parent_who_signed_they_wait_for_the_other_parent(
    client: Any, opened: tuple[Family, Any]
) -> None:
    family, record = opened
    first = family.guardians[0]
    prepare(family, record, first, at=now_utc() - timedelta(days=2))
    sign(family, record, first, at=now_utc() - timedelta(hours=1))
    phone = sign_in(client, family, first)

    status = _task(client, phone, record)["status_text"]

    assert status == "You have signed. Waiting for the other parent and the study doctor."


def test_answers_with_one_wrong_pass_but_are_not_all_correct(
    client: Any, opened: tuple[Family, Any]
) -> None:
    family, record = opened
    phone = sign_in(client, family, family.guardians[0])
    text = content(record, "fr")
    prepare_reading(family, record, family.guardians[0])
    first, *others = text["questions"]
    wrong = next(o["id"] for o in first["options"] if o["id"] != first["correct"])
    answers = {first["id"]: wrong, **{q["id"]: q["correct"] for q in others}}

    result = client.post(
        f"{API}/me/records/{record.record_id}/answers",
        json={"locale": "fr", "answers": answers},
        headers=phone.headers,
    )

    assert result.status_code == 200, result.get_json()
    body = result.get_json()
    # 3 of 4 pass the demo form; the page says "well done" only when all are right.
    assert (body["passed"], body["all_correct"]) == (True, False)


@pytest.mark.parametrize("path", ["/family/taks", "/family/records/R-1/sing", "/family/i/"])
def test_family_mistyped_address_shows_a_page_not_json(client: Any, path: str) -> None:
    shown = client.get(path, headers={"Accept-Language": "en"})

    assert (shown.status_code, shown.mimetype) == (404, "text/html")
    page = shown.get_data(as_text=True)
    assert "This page does not exist" in page
    assert 'href="/family/tasks"' in page


def test_family_mistyped_address_page_has_its_language_and_security_headers(client: Any) -> None:
    shown = client.get("/family/taks?lang=fr")

    assert shown.status_code == 404
    assert '<html lang="fr" dir="ltr">' in shown.get_data(as_text=True)
    assert shown.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert shown.headers["Cache-Control"] == "no-store"


def test_api_unknown_address_still_answers_problem_json(client: Any) -> None:
    missing = client.get(f"{API}/no-such-thing")

    assert missing.status_code == 404
    assert missing.get_json()["error"] == "not-found"


@pytest.mark.parametrize(
    "path",
    [
        "/family/records/R-1/read",
        "/family/records/R-1/quiz",
        "/family/records/R-1/choices",
        "/family/information/parental-consent/2",
        "/family/wallet",
    ],
)
def test_reading_pages_offer_to_ask_the_study_team(client: Any, path: str) -> None:
    page = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert "Ask the study team a question" in page
    assert 'id="ask-form"' in page and 'id="ask-text"' in page


@pytest.mark.parametrize("path", ["/family/records/R-1/read", "/family/records/R-1/sign"])
def test_ceremony_pages_have_a_step_indicator(client: Any, path: str) -> None:
    page = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert 'id="step-indicator"' in page


def test_me_gives_the_recorded_language_before_the_phones_among_the_sites(
    client: Any, demo_study: Any
) -> None:
    family = make_family("NL-LANG", site="NL-01")
    dutch = participants.add_signer(
        family.participant,
        role="guardian",
        identity={"name": "Anna de Vries"},
        preferred_language="nl",
        actor=STAFF,
    )
    phone = sign_in(client, family, dutch)

    me = client.get(
        f"{API}/auth/me", headers={**phone.headers, "Accept-Language": "de-DE,de;q=0.9"}
    ).get_json()

    assert (me["language"], me["languages"]) == ("nl", ["nl", "en"])


def test_me_gives_a_language_picked_on_the_device_first(client: Any, demo_study: Any) -> None:
    family = make_family("NL-PICK", site="NL-01")
    phone = sign_in(client, family, family.guardians[0])

    me = client.get(f"{API}/auth/me?chosen=en", headers=phone.headers).get_json()

    assert me["language"] == "en"


def test_family_page_tells_its_script_whether_a_language_was_picked(client: Any) -> None:
    unpicked = client.get("/family/tasks", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    picked = client.get("/family/tasks?lang=fr").get_data(as_text=True)

    assert '"lang_chosen": "fr"' in picked
    assert '"lang_chosen": null' in unpicked


@pytest.mark.parametrize("path", ["/family/", "/family/tasks", "/family/records/R-1/done"])
def test_family_pages_lead_to_the_wallet(client: Any, path: str) -> None:
    page = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert 'href="/family/wallet"' in page


def test_wallet_page_changes_a_choice_with_a_fresh_code(client: Any) -> None:
    page = client.get("/family/wallet", headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert "Your consent wallet" in page
    assert 'id="change-choice-form"' in page
    assert 'id="send-step-up"' in page  # the same fresh code as a signature
