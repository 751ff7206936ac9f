"""Paper consent and countersigning: the staff page and the API follow the same rules.

One scan limit (``CONSENTKIT_PAPER_SCAN_MAX_BYTES``), one reading of the ticked
boxes (``paper.paper_choices``), one choice of the text countersigned
(``enrolment.countersign_text``) and of who may act on a record now
(``enrolment.record_actions``).
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from backend.config import load_config
from consentkit.clock import now_utc
from consentkit.models.participant import Participant
from consentkit.policy.age import local_date
from consentkit.policy.records import opened_event
from consentkit.services import audit, participants, records
from tests.backend.staff_helpers import (
    Member,
    auth,
    csrf_of,
    family,
    participant_url,
    signed_in,
    token_for,
)
from tests.consentkit.paper_helpers import scan_pdf
from tests.consentkit.records_helpers import Family, prepare, sign

API = "/api/v1/staff/studies/DEMO-NBL-1/participants"


def _record_id(child: Participant) -> str:
    return str(records.profile(child)["records"][0]["record_id"])


def _paper_form(child: Participant, items_yes: list[str], scan: bytes) -> dict[str, Any]:
    guardian = next(s for s in participants.signers_of(child) if s.role == "guardian")
    return {
        "signer_ids": [str(guardian.id)],
        "signed_on": local_date(now_utc(), child.timezone).isoformat(),  # the site's day
        "locale": "nl",
        "items_yes": items_yes,
        "scan": (io.BytesIO(scan), "scan.pdf"),
    }


def _by_api(app: Any, client: Any, member: Member, child: Participant, form: dict[str, Any]) -> Any:
    url = f"{API}/{child.code}/records/{_record_id(child)}/paper"
    return client.post(url, data=form, headers=auth(token_for(app, member)))


def _by_page(
    app: Any, client: Any, member: Member, child: Participant, form: dict[str, Any]
) -> Any:
    signed_in(app, client, member)
    url = participant_url(child.code, f"/records/{_record_id(child)}/paper")
    return client.post(url, data={**form, "csrf_token": csrf_of(client.get(url))})


def _items(child: Participant) -> list[dict[str, Any]]:
    opened = opened_event(records.history(child), _record_id(child))
    return list(opened["payload"]["items"])


def test_paper_scan_limit_is_read_from_the_environment() -> None:
    config = load_config(
        {"TESTING": True}, environ={"CONSENTKIT_PAPER_SCAN_MAX_BYTES": str(2 * 1024 * 1024)}
    )

    assert config["PAPER_SCAN_MAX_BYTES"] == 2 * 1024 * 1024
    assert load_config({"TESTING": True}, environ={})["PAPER_SCAN_MAX_BYTES"] == 20 * 1024 * 1024


def test_paper_scan_over_the_configured_limit_is_refused_by_the_page_and_the_api(
    app: Any, client: Any, nl: Member
) -> None:
    app.config["PAPER_SCAN_MAX_BYTES"] = 100_000  # small: the upload stays in memory
    scan = scan_pdf() + b"%" + b"x" * 120_000  # over the limit, within the form's margin
    answers = []
    for face, send in (("api", _by_api), ("page", _by_page)):
        child = family(nl, f"NL-SCAN-{face}", "NL-01")
        before = len(audit.chain_dicts(str(child.id)))
        yes = [i["id"] for i in _items(child)]
        response = send(app, client, nl, child, _paper_form(child, yes, scan))
        answers.append((face, response.status_code >= 400, len(audit.chain_dicts(str(child.id)))))
        assert answers[-1][2] == before

    assert [(face, refused) for face, refused, _ in answers] == [("api", True), ("page", True)]


def test_paper_with_no_box_ticked_is_refused_by_the_page_and_the_api(
    app: Any, client: Any, nl: Member
) -> None:
    """No box ticked is every item answered no: a required item refused, not "not recorded"."""
    outcomes = []
    for face, send in (("api", _by_api), ("page", _by_page)):
        child = family(nl, f"NL-ITEM-{face}", "NL-01")
        response = send(app, client, nl, child, _paper_form(child, [], scan_pdf()))
        outcomes.append((face, audit.chain_dicts(str(child.id))[-1]["type"], response.status_code))

    assert outcomes == [("api", "record.opened", 409), ("page", "record.opened", 422)]


def test_paper_unticked_optional_item_is_a_no_on_the_page_and_the_api(
    app: Any, client: Any, nl: Member
) -> None:
    stored = []
    for face, send in (("api", _by_api), ("page", _by_page)):
        child = family(nl, f"NL-OPT-{face}", "NL-01")
        required = [i["id"] for i in _items(child) if i["required"]]
        send(app, client, nl, child, _paper_form(child, required, scan_pdf()))
        last = audit.chain_dicts(str(child.id))[-1]
        assert last["type"] == "paper.recorded"
        stored.append(last["payload"]["choices"])

    assert stored[0] == stored[1]
    assert stored[0] == {i["id"]: i["required"] for i in _items(child)}


def _guardian_signs(child: Participant) -> None:
    """The first parent reads, answers, chooses and signs (with a reason to sign at once)."""
    signers = participants.signers_of(child)
    guardians = [s for s in signers if s.role == "guardian"]
    household = Family(
        child,
        guardians,
        next(s for s in signers if s.role == "participant"),
        next(s for s in signers if s.role == "investigator"),
    )
    first = records.profile(child)["records"][0]
    record = SimpleNamespace(
        record_id=first["record_id"], form_id=first["form_id"], version=first["version"]
    )
    at = now_utc()
    prepare(household, record, guardians[0], locale="nl", at=at)
    sign(
        household,
        record,
        guardians[0],
        locale="nl",
        at=at + timedelta(seconds=1),
        early_signing_justification="We decided together at the visit.",
    )


def test_countersign_is_offered_only_once_the_family_has_signed(
    app: Any, client: Any, nl: Member
) -> None:
    child = family(nl, "NL-CS-1", "NL-01")
    record_id = _record_id(child)
    url = f"{API}/{child.code}/records/{record_id}/countersign"
    signed_in(app, client, nl)

    before = client.get(url, headers=auth(token_for(app, nl))).get_json()
    participant_page = client.get(participant_url(child.code)).get_data(as_text=True)
    assert before["may_countersign"] is False
    assert f"/records/{record_id}/countersign" not in participant_page

    _guardian_signs(child)

    after = client.get(url, headers=auth(token_for(app, nl))).get_json()
    participant_page = client.get(participant_url(child.code)).get_data(as_text=True)
    countersign_page = client.get(participant_url(child.code, f"/records/{record_id}/countersign"))
    assert after["record_id"] == record_id
    assert after["may_countersign"] is True
    assert f"/records/{record_id}/countersign" in participant_page
    assert after["content_sha256"][:16] in countersign_page.get_data(as_text=True)


def test_a_new_enrolment_says_what_is_awaited_not_that_the_child_does_not_take_part(
    app: Any, client: Any, nl: Member
) -> None:
    child = family(nl, "NL-NEW-1", "NL-01")
    signed_in(app, client, nl)

    text = client.get(participant_url(child.code)).get_data(as_text=True)

    standing = re.search(r'data-standing="([^"]+)">([^<]+)<', text)
    assert standing.group(1) == "not-yet"
    assert standing.group(2).strip() == "Not yet"
    awaited = re.search(r'id="blocked-by" class="hint">\(([^)]*)\)', text).group(1)
    assert "missing:" not in awaited and "no-consent" not in awaited
    assert "waiting for" in awaited
