"""The staff page for a paper consent: CSRF, re-authentication, the scan, the timeline."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from consentkit.clock import now_utc
from consentkit.models.staff import StaffSession
from consentkit.policy.age import local_date
from consentkit.services import audit, participants, records
from tests.backend.staff_helpers import Member, csrf_of, family, participant_url, signed_in
from tests.consentkit.paper_helpers import scan_pdf


def test_paper_consent_page_records_the_scan_and_links_from_the_participant(
    app: Any, client: Any, nl: Member
) -> None:
    child = family(nl, "NL-PP-1", "NL-01")
    signed_in(app, client, nl)
    record_id = records.profile(child)["records"][0]["record_id"]
    url = participant_url(child.code, f"/records/{record_id}/paper")
    assert url in client.get(participant_url(child.code)).get_data(as_text=True)
    page = client.get(url)
    guardian = next(s for s in participants.signers_of(child) if s.role == "guardian")
    form = {
        "csrf_token": csrf_of(page),
        "signer_ids": [str(guardian.id)],
        "signed_on": local_date(now_utc(), child.timezone).isoformat(),  # the site's day
        "locale": "nl",
        "items_yes": [
            i["id"]
            for e in records.history(child)
            if e["type"] == "record.opened" and e["payload"]["record_id"] == record_id
            for i in e["payload"]["items"]
        ],
        "scan": (io.BytesIO(scan_pdf()), "scan.pdf"),
    }

    without_token = client.post(url, data={**form, "csrf_token": "x"})
    done = client.post(url, data={**form, "scan": (io.BytesIO(scan_pdf()), "scan.pdf")})

    assert without_token.status_code in (400, 403)
    assert done.status_code == 302, done.get_data(as_text=True)[:3000]
    last = audit.chain_dicts(str(child.id))[-1]
    assert (last["type"], last["payload"]["signer_ids"]) == ("paper.recorded", [str(guardian.id)])
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "paper.recorded" in shown or "Paper consent recorded" in shown


def test_paper_consent_page_asks_for_reauthentication(app: Any, client: Any, nl: Member) -> None:
    child = family(nl, "NL-PP-2", "NL-01")
    signed_in(app, client, nl)
    StaffSession.objects(staff_id=nl.staff_id).update(
        set__reauth_at=now_utc() - timedelta(minutes=10)
    )
    record_id = records.profile(child)["records"][0]["record_id"]

    stale = client.get(participant_url(child.code, f"/records/{record_id}/paper"))

    assert stale.status_code == 302
    assert "/staff/reauth" in stale.headers["Location"]
